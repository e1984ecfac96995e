package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"etcdlab/cluster/harness"
	"etcdlab/cluster/v3rpc"
	"etcdlab/lease"
)

// evStr renders an event as put(key=value@mod[prev=value]) or del(key@mod).
func evStr(ev *mvccpb.Event) string {
	s := fmt.Sprintf("put(%s=%s@%d)", ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
	if ev.Type == mvccpb.DELETE {
		s = fmt.Sprintf("del(%s@%d)", ev.Kv.Key, ev.Kv.ModRevision)
	}
	if ev.PrevKv != nil {
		s += fmt.Sprintf("[prev=%s]", ev.PrevKv.Value)
	}
	return s
}

// nextWatch returns the next watch response, failing after 10s.
func nextWatch(t *testing.T, wc clientv3.WatchChan) clientv3.WatchResponse {
	t.Helper()
	select {
	case r, ok := <-wc:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no watch response within 10s")
	}
	return clientv3.WatchResponse{}
}

// TestV3ClientWatch drives etcd's client watch against a served node:
// events with their revisions and prev_kv, a range watch with a filter,
// etcd's answers to a compacted start revision, and a progress request.
func TestV3ClientWatch(t *testing.T) {
	_, cli := serveOne(t, nil)
	ctx := ctxT(t)

	wc := cli.Watch(ctx, "/a", clientv3.WithPrefix(), clientv3.WithPrevKV())
	rng := cli.Watch(ctx, "b", clientv3.WithRange("d"), clientv3.WithFilterPut())
	p1, err := cli.Put(ctx, "/a/1", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/a/1", "y"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/b", "not watched"); err != nil {
		t.Fatal(err)
	}
	d, err := cli.Delete(ctx, "/a/1")
	if err != nil {
		t.Fatal(err)
	}
	r1 := p1.Header.Revision
	var got []string
	for len(got) < 3 {
		r := nextWatch(t, wc)
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		for _, ev := range r.Events {
			got = append(got, evStr((*mvccpb.Event)(ev)))
		}
	}
	want := fmt.Sprintf("put(/a/1=x@%d) put(/a/1=y@%d)[prev=x] del(/a/1@%d)[prev=y]", r1, r1+1, d.Header.Revision)
	if g := strings.Join(got, " "); g != want {
		t.Fatalf("prefix watch:\ngot  %s\nwant %s", g, want)
	}

	// [b, d) without puts: only the delete of c.
	for _, k := range []string{"b", "c", "d"} {
		if _, err := cli.Put(ctx, k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Delete(ctx, "a", clientv3.WithRange("z")); err != nil {
		t.Fatal(err)
	}
	r := nextWatch(t, rng)
	if len(r.Events) != 2 || r.Events[0].Type != mvccpb.DELETE || string(r.Events[0].Kv.Key) != "b" || string(r.Events[1].Kv.Key) != "c" {
		t.Fatalf("range watch with NOPUT: %v", r.Events)
	}

	// A watch below the compaction gets the compact revision and ends.
	cur := r.Header.Revision
	if _, err := cli.Compact(ctx, cur-1, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	cw := cli.Watch(ctx, "/a", clientv3.WithPrefix(), clientv3.WithRev(r1))
	cr := nextWatch(t, cw)
	if cr.CompactRevision != cur-1 || !errors.Is(cr.Err(), rpctypes.ErrCompacted) {
		t.Fatalf("compacted watch: compact revision %d err %v, want %d and %v", cr.CompactRevision, cr.Err(), cur-1, rpctypes.ErrCompacted)
	}

	// A progress request answers with the current revision.
	pw := cli.Watch(ctx, "/p", clientv3.WithCreatedNotify())
	if cr := nextWatch(t, pw); !cr.Created {
		t.Fatalf("created notify: %+v", cr)
	}
	if err := cli.RequestProgress(ctx); err != nil {
		t.Fatal(err)
	}
	pr := nextWatch(t, pw)
	if !pr.IsProgressNotify() || pr.Header.Revision != cur {
		t.Fatalf("progress: %+v (revision %d, want %d)", pr, pr.Header.Revision, cur)
	}
}

// TestV3ClientLease drives etcd's client lease API against a served node:
// grant, put with the lease, time-to-live with keys, keepalive, leases,
// revoke deleting exactly the attached keys in one revision, expiry within
// TTL + 2s, and etcd's errors.
func TestV3ClientLease(t *testing.T) {
	_, cli := serveOne(t, nil)
	ctx := ctxT(t)

	g, err := cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if g.ID == 0 || g.TTL != 30 {
		t.Fatalf("grant: id %x ttl %d", g.ID, g.TTL)
	}
	for _, k := range []string{"a", "b"} {
		if _, err := cli.Put(ctx, k, "v", clientv3.WithLease(g.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Put(ctx, "c", "v"); err != nil {
		t.Fatal(err)
	}
	ttl, err := cli.TimeToLive(ctx, g.ID, clientv3.WithAttachedKeys())
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL != 30 || ttl.TTL < 28 || ttl.TTL > 30 || len(ttl.Keys) != 2 || string(ttl.Keys[0]) != "a" || string(ttl.Keys[1]) != "b" {
		t.Fatalf("time to live: %+v", ttl)
	}
	ka, err := cli.KeepAliveOnce(ctx, g.ID)
	if err != nil || ka.TTL != 30 {
		t.Fatalf("keepalive: %v %v", ka, err)
	}
	ls, err := cli.Leases(ctx)
	if err != nil || len(ls.Leases) != 1 || ls.Leases[0].ID != g.ID {
		t.Fatalf("leases: %v %v", ls, err)
	}

	wc := cli.Watch(ctx, "", clientv3.WithFromKey())
	rv, err := cli.Revoke(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := nextWatch(t, wc)
	if len(r.Events) != 2 || evStr((*mvccpb.Event)(r.Events[0])) != fmt.Sprintf("del(a@%d)", rv.Header.Revision) || evStr((*mvccpb.Event)(r.Events[1])) != fmt.Sprintf("del(b@%d)", rv.Header.Revision) {
		t.Fatalf("revoke events: %v (revoke at %d)", r.Events, rv.Header.Revision)
	}
	if gr, err := cli.Get(ctx, "", clientv3.WithFromKey()); err != nil || len(gr.Kvs) != 1 || string(gr.Kvs[0].Key) != "c" {
		t.Fatalf("after revoke: %v %v", gr, err)
	}
	if ttl, err := cli.TimeToLive(ctx, g.ID); err != nil || ttl.TTL != -1 {
		t.Fatalf("time to live of a revoked lease: %+v %v", ttl, err)
	}
	if ka, err := cli.KeepAliveOnce(ctx, g.ID); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("keepalive of a revoked lease: %v %v", ka, err)
	}
	if _, err := cli.Revoke(ctx, g.ID); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := cli.Put(ctx, "x", "v", clientv3.WithLease(g.ID)); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("put with a revoked lease: %v", err)
	}
	if _, err := cli.Grant(ctx, lease.MaxLeaseTTL+1); !errors.Is(err, rpctypes.ErrLeaseTTLTooLarge) {
		t.Fatalf("grant over the maximum TTL: %v", err)
	}

	// Expiry: the minimum TTL here is 1s (10 ticks of 10ms); the key must
	// be gone within TTL + 2s.
	short, err := cli.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "short", "v", clientv3.WithLease(short.ID)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, "the expired lease's key to go", 3*time.Second, func() bool {
		gr, err := cli.Get(ctx, "short")
		return err == nil && len(gr.Kvs) == 0
	})
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("key of a 1s lease gone after %v", el)
	}
}

// serveNodes serves etcd's v3 API for every running node of c on
// 127.0.0.1 and returns the endpoints and a function that stops one node's
// server.
func serveNodes(t *testing.T, c *harness.Cluster) (map[uint64]string, func(id uint64)) {
	t.Helper()
	eps := map[uint64]string{}
	srvs := map[uint64]*v3rpc.Server{}
	var mu sync.Mutex
	for _, n := range c.Nodes() {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		api := v3rpc.Options{Errors: V3ErrorMappings()}
		s, err := v3rpc.NewServer(NewV3Backend(n, V3BackendConfig{ClusterID: 1}), api)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.Serve(lis) }()
		eps[n.ID()] = "http://" + lis.Addr().String()
		srvs[n.ID()] = s
	}
	stop := func(id uint64) {
		mu.Lock()
		s := srvs[id]
		delete(srvs, id)
		mu.Unlock()
		if s != nil {
			s.Stop()
		}
	}
	t.Cleanup(func() {
		for id := range eps {
			stop(id)
		}
	})
	return eps, stop
}

// TestV3WatchAcrossLeaderChange: a client watching through the leader of
// three nodes sees every event exactly once, in revision order, while the
// leader (and its gRPC server) is stopped and another takes over; etcd's
// client resumes the watch on another member from the next revision.
func TestV3WatchAcrossLeaderChange(t *testing.T) {
	c := startCluster(t, 3, fastNode("memory"), nil)
	leader := waitLeader(t, c)
	eps, stopServer := serveNodes(t, c)
	// The client knows only the leader until it is stopped, so the watch
	// starts there and must move.
	var others []string
	for id, e := range eps {
		if id != leader {
			others = append(others, e)
		}
	}
	cli := newClient(t, eps[leader])
	ctx := ctxT(t)
	kv := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
	first, err := kv.Put(ctx, put("w/0", "0"))
	if err != nil {
		t.Fatal(err)
	}
	wc := cli.Watch(ctx, "w/", clientv3.WithPrefix(), clientv3.WithRev(first.Header.Revision))
	const n = 60
	done := make(chan error, 1)
	go func() {
		for i := 1; i < n; i++ {
			if i == n/2 {
				stopServer(leader)
				if err := c.Stop(leader); err != nil {
					done <- err
					return
				}
				cli.SetEndpoints(others...)
			}
			if _, err := kv.Put(ctx, put(fmt.Sprintf("w/%d", i), fmt.Sprint(i))); err != nil {
				done <- fmt.Errorf("put %d: %w", i, err)
				return
			}
		}
		done <- nil
	}()
	var got []string
	last := int64(0)
	for len(got) < n {
		r := nextWatch(t, wc)
		if err := r.Err(); err != nil {
			t.Fatalf("watch: %v", err)
		}
		for _, ev := range r.Events {
			if ev.Kv.ModRevision <= last {
				t.Fatalf("event %s after revision %d: repeated or out of order", evStr((*mvccpb.Event)(ev)), last)
			}
			last = ev.Kv.ModRevision
			got = append(got, string(ev.Kv.Value))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != fmt.Sprint(i) {
			t.Fatalf("event %d has value %s: %v", i, v, got)
		}
	}
}
