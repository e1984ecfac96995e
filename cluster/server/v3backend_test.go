package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"etcdlab/cluster"
)

// serveOne runs a one-member cluster through Serve (raft over TCP, the v3
// API on 127.0.0.1) and returns it with a real etcd client connected to it.
func serveOne(t *testing.T, mod func(*Config)) (*Server, *clientv3.Client) {
	t.Helper()
	peer, err := reservePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Name:             "solo",
		DataDir:          t.TempDir(),
		ListenClientURLs: []string{"http://127.0.0.1:0"},
		ListenPeerURLs:   []string{"http://" + peer},
		Node:             fastNode("bbolt"),
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	readyc := make(chan *Server, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, func(s *Server) { readyc <- s }) }()
	var s *Server
	select {
	case s = <-readyc:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	})
	cli := newClient(t, "http://"+s.ClientAddrs[0])
	waitFor(t, "a leader", 10*time.Second, func() bool { return s.Node.IsLeader() })
	return s, cli
}

func newClient(t *testing.T, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// TestV3ClientKV drives put, get, delete, txn and compact through etcd's
// client against a served node, and checks every result against what etcd
// answers.
func TestV3ClientKV(t *testing.T) {
	_, cli := serveOne(t, nil)
	ctx := ctxT(t)

	p1, err := cli.Put(ctx, "a", "1")
	if err != nil {
		t.Fatal(err)
	}
	p2, err := cli.Put(ctx, "a", "2", clientv3.WithPrevKV())
	if err != nil {
		t.Fatal(err)
	}
	if p2.PrevKv == nil || string(p2.PrevKv.Value) != "1" || p2.Header.Revision != p1.Header.Revision+1 {
		t.Fatalf("second put: prev %v rev %d after %d", p2.PrevKv, p2.Header.Revision, p1.Header.Revision)
	}
	for _, opts := range [][]clientv3.OpOption{nil, {clientv3.WithSerializable()}} {
		g, err := cli.Get(ctx, "a", opts...)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "2" || g.Kvs[0].Version != 2 || g.Kvs[0].CreateRevision != p1.Header.Revision {
			t.Fatalf("get a: %v", g.Kvs)
		}
	}
	old, err := cli.Get(ctx, "a", clientv3.WithRev(p1.Header.Revision))
	if err != nil || len(old.Kvs) != 1 || string(old.Kvs[0].Value) != "1" {
		t.Fatalf("get a at rev %d: %v %v", p1.Header.Revision, old, err)
	}

	tr, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.Value("a"), "=", "2")).
		Then(clientv3.OpPut("b", "x"), clientv3.OpGet("a")).Else(clientv3.OpPut("c", "y")).Commit()
	if err != nil || !tr.Succeeded || string(tr.Responses[1].GetResponseRange().Kvs[0].Value) != "2" {
		t.Fatalf("txn: %v %v", tr, err)
	}
	tr, err = cli.Txn(ctx).If(clientv3.Compare(clientv3.Version("a"), "=", 7)).
		Then(clientv3.OpPut("b", "never")).Else(clientv3.OpGet("b")).Commit()
	if err != nil || tr.Succeeded || string(tr.Responses[0].GetResponseRange().Kvs[0].Value) != "x" {
		t.Fatalf("failing txn: %v %v", tr, err)
	}
	if g, _ := cli.Get(ctx, "c"); g == nil || len(g.Kvs) != 0 {
		t.Fatalf("else branch of the first txn ran: %v", g)
	}

	d, err := cli.Delete(ctx, "a", clientv3.WithPrevKV())
	if err != nil || d.Deleted != 1 || string(d.PrevKvs[0].Value) != "2" {
		t.Fatalf("delete: %v %v", d, err)
	}
	if g, err := cli.Get(ctx, "a"); err != nil || len(g.Kvs) != 0 {
		t.Fatalf("get after delete: %v %v", g, err)
	}
	pre, err := cli.Get(ctx, "", clientv3.WithPrefix())
	if err != nil || pre.Count != 1 || string(pre.Kvs[0].Key) != "b" {
		t.Fatalf("prefix get: %v %v", pre, err)
	}

	cur := d.Header.Revision
	if _, err := cli.Compact(ctx, p2.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "a", clientv3.WithRev(p1.Header.Revision)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("get below the compaction: %v, want %v", err, rpctypes.ErrCompacted)
	}
	if _, err := cli.Get(ctx, "a", clientv3.WithRev(cur+100)); !errors.Is(err, rpctypes.ErrFutureRev) {
		t.Fatalf("get in the future: %v, want %v", err, rpctypes.ErrFutureRev)
	}
	if _, err := cli.Compact(ctx, p1.Header.Revision); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("compact again below: %v, want %v", err, rpctypes.ErrCompacted)
	}
	if _, err := cli.Compact(ctx, cur+100); !errors.Is(err, rpctypes.ErrFutureRev) {
		t.Fatalf("compact in the future: %v, want %v", err, rpctypes.ErrFutureRev)
	}
}

// TestV3ClientErrors: every request etcd rejects is rejected through the
// real node with etcd's error, and changes nothing.
func TestV3ClientErrors(t *testing.T) {
	_, cli := serveOne(t, func(c *Config) { c.Node.MaxRequestBytes = 64 << 10 })
	ctx := ctxT(t)
	before, err := cli.Put(ctx, "k", "v")
	if err != nil {
		t.Fatal(err)
	}
	manyOps := make([]clientv3.Op, 129)
	for i := range manyOps {
		manyOps[i] = clientv3.OpPut(fmt.Sprintf("m%d", i), "v")
	}
	cases := []struct {
		name string
		do   func() error
		want error
	}{
		{"empty key put", func() error { _, err := cli.Put(ctx, "", "v"); return err }, rpctypes.ErrEmptyKey},
		{"empty key get", func() error { _, err := cli.Get(ctx, ""); return err }, rpctypes.ErrEmptyKey},
		{"empty key delete", func() error { _, err := cli.Delete(ctx, ""); return err }, rpctypes.ErrEmptyKey},
		{"ignore value with a value", func() error { _, err := cli.Put(ctx, "k", "v", clientv3.WithIgnoreValue()); return err }, rpctypes.ErrValueProvided},
		{"too many txn ops", func() error { _, err := cli.Txn(ctx).Then(manyOps...).Commit(); return err }, rpctypes.ErrTooManyOps},
		{"duplicate key in txn", func() error {
			_, err := cli.Txn(ctx).Then(clientv3.OpPut("d", "1"), clientv3.OpPut("d", "2")).Commit()
			return err
		}, rpctypes.ErrDuplicateKey},
		{"request too large", func() error { _, err := cli.Put(ctx, "big", strings.Repeat("x", 100<<10)); return err }, rpctypes.ErrRequestTooLarge},
		{"ignore value on a missing key", func() error { _, err := cli.Put(ctx, "missing", "", clientv3.WithIgnoreValue()); return err }, rpctypes.ErrKeyNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Auth is not served: the client sees Unimplemented, not silence.
	if _, err := cli.AuthStatus(ctx); status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "not served") {
		t.Fatalf("auth status answered %v, want Unimplemented", err)
	}
	after, err := cli.Get(ctx, "", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if after.Header.Revision != before.Header.Revision || after.Count != 1 {
		t.Fatalf("rejected requests changed the store: rev %d -> %d, %d keys", before.Header.Revision, after.Header.Revision, after.Count)
	}
}

// TestV3ClientMaintenance: what etcdctl's endpoint status, member list,
// alarm list/disarm, defrag and endpoint hashkv do, through the client.
func TestV3ClientMaintenance(t *testing.T) {
	s, cli := serveOne(t, func(c *Config) { c.Node.QuotaBytes = 256 << 10 })
	ctx := ctxT(t)
	ep := cli.Endpoints()[0]
	id := s.Node.ID()
	if want := MemberIDFromURLs(s.Members[0].PeerURLs, DefaultInitialClusterToken); id != want {
		t.Fatalf("member ID %x, want %x from the peer URL", id, want)
	}

	st, err := cli.Status(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != id || st.Header.MemberId != id || st.Header.ClusterId != ClusterIDFromToken(DefaultInitialClusterToken) ||
		st.Version == "" || st.DbSize <= 0 || st.RaftIndex == 0 || st.DbSizeQuota != 256<<10 || len(st.Errors) != 0 {
		t.Fatalf("status: %+v", st)
	}

	ml, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Members) != 1 || ml.Members[0].Name != "solo" || ml.Members[0].ID != id ||
		len(ml.Members[0].ClientURLs) != 1 || ml.Members[0].PeerURLs[0] != s.Members[0].PeerURLs[0] {
		t.Fatalf("member list: %v", ml.Members)
	}

	// Fill the backend past the quota: NOSPACE is raised cluster-wide.
	val := strings.Repeat("v", 16<<10)
	var nospace error
	for i := 0; i < 100 && nospace == nil; i++ {
		_, nospace = cli.Put(ctx, fmt.Sprintf("fill%03d", i), val)
	}
	if !errors.Is(nospace, rpctypes.ErrNoSpace) {
		t.Fatalf("filling past the quota: %v, want %v", nospace, rpctypes.ErrNoSpace)
	}
	waitFor(t, "the NOSPACE alarm", 10*time.Second, func() bool {
		al, err := cli.AlarmList(ctx)
		return err == nil && len(al.Alarms) == 1 && al.Alarms[0].Alarm == pb.AlarmType_NOSPACE && al.Alarms[0].MemberID == id
	})
	if st, _ := cli.Status(ctx, ep); st == nil || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "NOSPACE") {
		t.Fatalf("status while NOSPACE: %+v", st)
	}
	if _, err := cli.Put(ctx, "small", "v"); !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Fatalf("put while NOSPACE: %v", err)
	}
	// etcd's recovery: delete, compact, defrag, disarm.
	dr, err := cli.Delete(ctx, "fill", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, dr.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	sizeBefore := s.Node.BackendSize()
	if _, err := cli.Defragment(ctx, ep); err != nil {
		t.Fatal(err)
	}
	t.Logf("defrag: %d -> %d bytes", sizeBefore, s.Node.BackendSize())
	al, _ := cli.AlarmList(ctx)
	for _, a := range al.Alarms {
		if _, err := cli.AlarmDisarm(ctx, (*clientv3.AlarmMember)(a)); err != nil {
			t.Fatal(err)
		}
	}
	if al, err := cli.AlarmList(ctx); err != nil || len(al.Alarms) != 0 {
		t.Fatalf("alarms after disarm: %v %v", al, err)
	}
	if _, err := cli.Put(ctx, "small", "v"); err != nil {
		t.Fatalf("put after recovery: %v", err)
	}

	h1, err := cli.HashKV(ctx, ep, 0)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := cli.HashKV(ctx, ep, 0)
	if err != nil || h2.Hash != h1.Hash || h1.HashRevision != s.Node.Rev() {
		t.Fatalf("hashkv: %v then %v (rev %d) %v", h1, h2, s.Node.Rev(), err)
	}

	rc, err := cli.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		t.Fatalf("snapshot stream: %v", err)
	}
	if buf.Len() < 32 {
		t.Fatalf("snapshot of %d bytes", buf.Len())
	}

	// MemberAdd maps to AddMember with the ID the peer URL gives; a learner
	// keeps the quorum at one, so the cluster stays available.
	peer, err := reservePort()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + peer
	add, err := cli.MemberAddAsLearner(ctx, []string{url})
	if err != nil {
		t.Fatal(err)
	}
	if add.Member.ID != MemberIDFromURLs([]string{url}, DefaultInitialClusterToken) || len(add.Members) != 2 || !add.Member.IsLearner {
		t.Fatalf("member add: %v", add)
	}
	if _, err := cli.MemberAdd(ctx, []string{url}); !errors.Is(err, rpctypes.ErrPeerURLExist) {
		t.Fatalf("adding the same peer URL again: %v, want %v", err, rpctypes.ErrPeerURLExist)
	}
	if _, err := cli.MemberAdd(ctx, []string{"https://127.0.0.1:1"}); err == nil {
		t.Fatal("an https peer URL was accepted")
	}
	if _, err := cli.MemberPromote(ctx, add.Member.ID); !errors.Is(err, rpctypes.ErrMemberLearnerNotReady) {
		t.Fatalf("promoting a learner that never started: %v, want %v", err, rpctypes.ErrMemberLearnerNotReady)
	}
	if rm, err := cli.MemberRemove(ctx, add.Member.ID); err != nil || len(rm.Members) != 1 {
		t.Fatalf("member remove: %v %v", rm, err)
	}
	if _, err := cli.MemberRemove(ctx, add.Member.ID); !errors.Is(err, rpctypes.ErrMemberNotFound) {
		t.Fatalf("removing twice: %v, want %v", err, rpctypes.ErrMemberNotFound)
	}
}

// TestServerConfigValidate: bad server settings are all reported at once,
// each naming the flag.
func TestServerConfigValidate(t *testing.T) {
	cfg := Config{
		Name:                "a",
		ListenClientURLs:    []string{"https://127.0.0.1:1"},
		ListenPeerURLs:      []string{"http://127.0.0.1:2", "http://127.0.0.1:3"},
		InitialCluster:      "b=http://127.0.0.1:4,broken",
		InitialClusterState: "maybe",
	}
	cfg.EnsureDefaults()
	err := cfg.Validate()
	if !errors.Is(err, cluster.ErrBadOption) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"--listen-client-urls", "TLS", "--listen-peer-urls", "binds one URL", "--initial-cluster-state", "broken"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	good := Config{Name: "x", ListenPeerURLs: []string{"http://127.0.0.1:5"}}
	good.EnsureDefaults()
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if good.InitialCluster != "x=http://127.0.0.1:5" || good.DataDir != "x.etcd" {
		t.Fatalf("etcd's defaults: %+v", good)
	}
	ms, err := ParseInitialCluster("a=http://h:1,b=http://h:2", "tok")
	if err != nil || len(ms) != 2 || ms[0].ID == ms[1].ID || ms[0].ID != MemberIDFromURLs([]string{"http://h:1"}, "tok") {
		t.Fatalf("parse: %v %v", ms, err)
	}
	if ms2, _ := ParseInitialCluster("a=http://h:1", "other"); ms2[0].ID == ms[0].ID {
		t.Fatal("the token does not change member IDs")
	}
}
