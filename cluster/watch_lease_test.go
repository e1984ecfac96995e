package cluster_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster/harness"
	"etcdlab/lease"
	"etcdlab/mvcc"
)

// TestLeaseKeepAliveOnFollower: keepalives and time-to-live sent to a
// follower are forwarded to the leader (over TCP between the nodes): the
// lease outlives its TTL while they go on, and expires once they stop.
func TestLeaseKeepAliveOnFollower(t *testing.T) {
	c := startCluster(t, 3, fastNode("memory"), func(o *harness.Options) { o.TCP = true })
	leader := waitLeader(t, c)
	follower := aFollower(c, leader)
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyRoundRobin, Endpoints: []uint64{follower}})
	ctx := ctxT(t)
	g, err := cl.LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(ctx, &pb.PutRequest{Key: []byte("k"), Value: []byte("v"), Lease: g.ID}); err != nil {
		t.Fatal(err)
	}
	fn := c.Node(follower)
	if _, err := fn.Lessor().Renew(lease.ID(g.ID)); !errors.Is(err, lease.ErrNotPrimary) {
		t.Fatalf("the follower's own lessor renewed: %v", err)
	}
	start := time.Now()
	for time.Since(start) < 2500*time.Millisecond {
		ttl, err := cl.LeaseRenew(ctx, g.ID)
		if err != nil || ttl != 1 {
			t.Fatalf("keepalive through the follower: ttl %d err %v", ttl, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	tr, err := cl.LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: g.ID, Keys: true})
	if err != nil || tr.GrantedTTL != 1 || len(tr.Keys) != 1 {
		t.Fatalf("time to live through the follower: %+v %v", tr, err)
	}
	if r, err := fn.Range(ctx, &pb.RangeRequest{Key: []byte("k"), Serializable: true}); err != nil || len(r.Kvs) != 1 {
		t.Fatalf("the kept-alive key is gone after %v: %v %v", time.Since(start), r, err)
	}
	waitFor(t, "the key to expire once keepalives stop", 3*time.Second, func() bool {
		r, err := fn.Range(ctx, &pb.RangeRequest{Key: []byte("k"), Serializable: true})
		return err == nil && len(r.Kvs) == 0
	})
	if _, err := cl.LeaseRenew(ctx, g.ID); !errors.Is(err, lease.ErrLeaseNotFound) {
		t.Fatalf("keepalive of the expired lease: %v", err)
	}
}

// TestLeaseSurvivesRestart: leases and their keys come back after a crash
// (from the lease bucket and the keys' records), a revoked lease's keys do
// not, a lease still expires after the restart, and a revoke after it
// deletes exactly its keys.
func TestLeaseSurvivesRestart(t *testing.T) {
	c := startCluster(t, 1, fastNode("bbolt"), nil)
	waitLeader(t, c)
	cl := c.Client(harness.ClientOptions{})
	ctx := ctxT(t)
	grant := func(ttl int64) int64 {
		g, err := cl.LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	putL := func(k string, id int64) {
		if _, err := cl.Put(ctx, &pb.PutRequest{Key: []byte(k), Value: []byte("v"), Lease: id}); err != nil {
			t.Fatal(err)
		}
	}
	keep, gone, short := grant(60), grant(60), grant(1)
	putL("keep/1", keep)
	putL("keep/2", keep)
	putL("gone/1", gone)
	putL("short/1", short)
	putL("plain", 0)
	if _, err := cl.LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: gone}); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, c)
	keys := func() string {
		r, err := cl.Range(ctx, rangeAll())
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, kv := range r.Kvs {
			ks = append(ks, string(kv.Key))
		}
		return strings.Join(ks, " ")
	}
	ls, err := cl.LeaseLeases(ctx, &pb.LeaseLeasesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls.Leases {
		if l.ID == gone {
			t.Fatalf("the revoked lease is back after the restart: %v", ls.Leases)
		}
	}
	if len(ls.Leases) == 0 || ls.Leases[0].ID != keep && (len(ls.Leases) < 2 || ls.Leases[1].ID != keep) {
		t.Fatalf("leases after restart: %v, want %x among them", ls.Leases, keep)
	}
	tr, err := cl.LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: keep, Keys: true})
	if err != nil || len(tr.Keys) != 2 {
		t.Fatalf("kept lease after restart: %+v %v", tr, err)
	}
	waitFor(t, "the short lease to expire after the restart", 4*time.Second, func() bool { return keys() == "keep/1 keep/2 plain" })
	if _, err := cl.LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: keep}); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "plain" {
		t.Fatalf("keys after revoking the kept lease: %q", got)
	}
}

// TestWatchAndLeaseAcrossSnapshotInstall: a follower cut off while the
// others write past their raft log receives a snapshot; a watch stream open
// on it stays open and gets every event once, in order (its store restores
// in place, etcd's watchableStore.Restore), and the lease granted meanwhile
// is in its lessor with its key (etcd's lessor.Recover before the store).
func TestWatchAndLeaseAcrossSnapshotInstall(t *testing.T) {
	for _, engine := range []string{"bbolt", "pebble", "memory"} {
		t.Run("engine="+engine, func(t *testing.T) { testWatchAndLeaseAcrossSnapshotInstall(t, engine) })
	}
}

func testWatchAndLeaseAcrossSnapshotInstall(t *testing.T, engine string) {
	node := fastNode(engine)
	node.SnapshotCount = 100
	node.SnapshotCatchUpEntries = 50
	c := startCluster(t, 3, node, nil)
	leader := waitLeader(t, c)
	follower := aFollower(c, leader)
	fn := c.Node(follower)
	ws, err := fn.NewWatchStream()
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if _, err := ws.Watch(mvcc.AutoWatchID, []byte("k"), []byte{0}, 0, mvcc.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	others := []uint64{}
	for _, n := range c.Nodes() {
		if n.ID() != follower {
			others = append(others, n.ID())
		}
	}
	c.Partition(others, []uint64{follower})
	cl := c.Client(harness.ClientOptions{Endpoints: others})
	ctx := ctxT(t)
	g, err := cl.LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: 60})
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	for i := range n {
		r := &pb.PutRequest{Key: []byte(key(i)), Value: []byte("v")}
		if i == 0 {
			r.Lease = g.ID
		}
		if _, err := cl.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if first := c.Node(leader).FirstIndex(); first <= 1 {
		t.Fatalf("the leader's log was not compacted (first index %d)", first)
	}
	c.Heal()
	got := 0
	last := int64(0)
	timeout := time.After(20 * time.Second)
	for got < n {
		select {
		case r := <-ws.Chan():
			for _, ev := range r.Events {
				if ev.Kv.ModRevision <= last {
					t.Fatalf("event at %d after %d", ev.Kv.ModRevision, last)
				}
				last = ev.Kv.ModRevision
				got++
			}
		case <-timeout:
			t.Fatalf("got %d of %d events; snapshots installed %d", got, n, fn.TestStats().SnapshotsInstalled.Load())
		}
	}
	// The install is counted after the store's Restore has sent the
	// watchers their events, so the last event can arrive first.
	deadline := time.Now().Add(5 * time.Second)
	for fn.TestStats().SnapshotsInstalled.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the follower caught up without a snapshot")
		}
		time.Sleep(time.Millisecond)
	}
	ids := fn.Lessor().Leases()
	if len(ids) != 1 || int64(ids[0]) != g.ID || fn.Lessor().KeyLease([]byte(key(0))) != g.ID {
		t.Fatalf("follower's leases after the install: %v, key lease %x", ids, fn.Lessor().KeyLease([]byte(key(0))))
	}
	// Still watching: a later write arrives too.
	if _, err := cl.Put(ctx, put("k-after", "v")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ws.Chan():
		if len(r.Events) != 1 || string(r.Events[0].Kv.Key) != "k-after" {
			t.Fatalf("after the install: %v", r.Events)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event after the install")
	}
}
