package v3rpc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"etcdlab/engines"
	"etcdlab/engines/backend"
	"etcdlab/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// testEnv is one fake node served on 127.0.0.1 and etcd's real client.
type testEnv struct {
	node *fakeNode
	cli  *clientv3.Client
	addr string
}

func startEnv(t testing.TB, engineName string, opts Options) *testEnv {
	t.Helper()
	node := newFakeNode(t, engineName)
	if opts.SnapshotSpoolDir == "" {
		opts.SnapshotSpoolDir = t.TempDir()
	}
	srv, err := NewServer(node, opts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{lis.Addr().String()},
		DialTimeout: 10 * time.Second,
		Logger:      zap.NewNop(),
		// Above the server's receive limit, so the server's limit is tested.
		MaxCallSendMsgSize: 8 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: client, then server.
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { _ = cli.Close() })
	return &testEnv{node: node, cli: cli, addr: lis.Addr().String()}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func gotKeys(resp *clientv3.GetResponse) string {
	var ks []string
	for _, kv := range resp.Kvs {
		ks = append(ks, string(kv.Key)+"="+string(kv.Value))
	}
	return strings.Join(ks, ",")
}

func mustPut(t testing.TB, ctx context.Context, cli *clientv3.Client, k, v string) int64 {
	t.Helper()
	resp, err := cli.Put(ctx, k, v)
	if err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
	return resp.Header.Revision
}

func TestKVThroughClient(t *testing.T) {
	env := startEnv(t, "memory", Options{})
	ctx, cli := testCtx(t), env.cli

	r1 := mustPut(t, ctx, cli, "k/c", "3")
	if r1 != 2 {
		t.Fatalf("first put revision %d, want 2 (a new store is at 1)", r1)
	}
	mustPut(t, ctx, cli, "k/a", "1")
	mustPut(t, ctx, cli, "k/b", "22")
	r4 := mustPut(t, ctx, cli, "k/c", "33")
	mustPut(t, ctx, cli, "other", "x")

	type getCase struct {
		name      string
		key       string
		opts      []clientv3.OpOption
		want      string
		wantCount int64
		wantMore  bool
	}
	for _, c := range []getCase{
		{"point", "k/a", nil, "k/a=1", 1, false},
		{"prefix", "k/", []clientv3.OpOption{clientv3.WithPrefix()}, "k/a=1,k/b=22,k/c=33", 3, false},
		{"limit", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithLimit(2)}, "k/a=1,k/b=22", 3, true},
		{"sort-key-desc", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}, "k/c=33,k/b=22,k/a=1", 3, false},
		{"sort-create-asc", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend)}, "k/c=33,k/a=1,k/b=22", 3, false},
		{"sort-mod-desc-limit", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend), clientv3.WithLimit(1)}, "k/c=33", 3, true},
		{"sort-value-asc", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortAscend)}, "k/a=1,k/b=22,k/c=33", 3, false},
		{"sort-version-desc", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByVersion, clientv3.SortDescend)}, "k/c=33,k/a=1,k/b=22", 3, false},
		{"keys-only", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithKeysOnly()}, "k/a=,k/b=,k/c=", 3, false},
		{"count-only", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCountOnly()}, "", 3, false},
		{"old-revision", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(r1)}, "k/c=3", 1, false},
		{"serializable", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSerializable()}, "k/a=1,k/b=22,k/c=33", 3, false},
		{"min-mod-rev", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithMinModRev(r4)}, "k/c=33", 3, false},
		{"max-mod-rev", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithMaxModRev(r4 - 1)}, "k/a=1,k/b=22", 3, false},
		{"min-create-rev", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithMinCreateRev(3)}, "k/a=1,k/b=22", 3, false},
		{"max-create-rev", "k/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithMaxCreateRev(2)}, "k/c=33", 3, false},
		{"from-key", "k/b", []clientv3.OpOption{clientv3.WithFromKey()}, "k/b=22,k/c=33,other=x", 3, false},
		{"range", "k/a", []clientv3.OpOption{clientv3.WithRange("k/c")}, "k/a=1,k/b=22", 2, false},
		{"absent", "nope", nil, "", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := cli.Get(ctx, c.key, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := gotKeys(resp); got != c.want {
				t.Errorf("kvs %q, want %q", got, c.want)
			}
			if resp.Count != c.wantCount || resp.More != c.wantMore {
				t.Errorf("count %d more %v, want %d %v", resp.Count, resp.More, c.wantCount, c.wantMore)
			}
			h := resp.Header
			if h.Revision != 6 || h.ClusterId != fakeClusterID || h.MemberId != fakeMemberID || h.RaftTerm != fakeTerm {
				t.Errorf("header %+v, want revision 6 cluster %x member %x term %d", h, fakeClusterID, fakeMemberID, fakeTerm)
			}
		})
	}

	// Put with prev_kv and ignore_value.
	presp, err := cli.Put(ctx, "k/a", "", clientv3.WithIgnoreValue(), clientv3.WithPrevKV())
	if err != nil {
		t.Fatal(err)
	}
	if presp.PrevKv == nil || string(presp.PrevKv.Value) != "1" {
		t.Fatalf("put prev kv %v, want k/a=1", presp.PrevKv)
	}
	if g, err := cli.Get(ctx, "k/a"); err != nil || gotKeys(g) != "k/a=1" || g.Kvs[0].Version != 2 {
		t.Fatalf("after ignore_value put: %v %v, want k/a=1 version 2", g, err)
	}
	if _, err := cli.Put(ctx, "absent", "", clientv3.WithIgnoreValue()); !errors.Is(err, rpctypes.ErrKeyNotFound) {
		t.Fatalf("ignore_value on an absent key: %v, want %v", err, rpctypes.ErrKeyNotFound)
	}

	// Delete with prev_kv.
	dresp, err := cli.Delete(ctx, "k/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	if err != nil {
		t.Fatal(err)
	}
	if dresp.Deleted != 3 || len(dresp.PrevKvs) != 3 || string(dresp.PrevKvs[2].Value) != "33" {
		t.Fatalf("delete: deleted %d prev %v", dresp.Deleted, dresp.PrevKvs)
	}
	if g, err := cli.Get(ctx, "k/", clientv3.WithPrefix()); err != nil || len(g.Kvs) != 0 {
		t.Fatalf("after delete: %v %v", g, err)
	}
	// Deleting nothing leaves the revision alone.
	before := dresp.Header.Revision
	if d, err := cli.Delete(ctx, "k/", clientv3.WithPrefix()); err != nil || d.Deleted != 0 || d.Header.Revision != before {
		t.Fatalf("empty delete: %v %v, want 0 deleted at revision %d", d, err, before)
	}
}

func TestTxnThroughClient(t *testing.T) {
	env := startEnv(t, "memory", Options{})
	ctx, cli := testCtx(t), env.cli
	mustPut(t, ctx, cli, "a", "1")

	resp, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value("a"), "=", "1"), clientv3.Compare(clientv3.Version("b"), "=", 0)).
		Then(clientv3.OpPut("b", "2"), clientv3.OpGet("a")).
		Else(clientv3.OpPut("c", "3")).
		Commit()
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Succeeded || len(resp.Responses) != 2 || string(resp.Responses[1].GetResponseRange().Kvs[0].Value) != "1" {
		t.Fatalf("success branch: %+v", resp)
	}
	resp, err = cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision("a"), ">", 100)).
		Then(clientv3.OpPut("b", "x")).
		Else(clientv3.OpPut("c", "3"), clientv3.OpTxn(nil, []clientv3.Op{clientv3.OpDelete("a")}, nil)).
		Commit()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Succeeded {
		t.Fatal("mod revision 2 > 100 succeeded")
	}
	g, err := cli.Get(ctx, "", clientv3.WithFromKey())
	if err != nil {
		t.Fatal(err)
	}
	if got := gotKeys(g); got != "b=2,c=3" {
		t.Fatalf("after txns: %q, want b=2,c=3", got)
	}
	// One revision per mutating txn: put a (2), txn (3), txn (4).
	if g.Header.Revision != 4 {
		t.Fatalf("revision %d, want 4", g.Header.Revision)
	}
}

func TestCompactThroughClient(t *testing.T) {
	env := startEnv(t, "memory", Options{})
	ctx, cli := testCtx(t), env.cli
	for i := range 5 {
		mustPut(t, ctx, cli, "k", fmt.Sprint(i))
	}
	// Revisions 2..6; compact at 4, physically.
	if _, err := cli.Compact(ctx, 4, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "k", clientv3.WithRev(3)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("read below the compaction: %v, want %v", err, rpctypes.ErrCompacted)
	}
	if g, err := cli.Get(ctx, "k", clientv3.WithRev(4)); err != nil || gotKeys(g) != "k=2" {
		t.Fatalf("read at the compaction revision: %v %v, want k=2", g, err)
	}
	if _, err := cli.Compact(ctx, 4); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("compact again: %v, want %v", err, rpctypes.ErrCompacted)
	}
	if _, err := cli.Get(ctx, "k", clientv3.WithRev(100)); !errors.Is(err, rpctypes.ErrFutureRev) {
		t.Fatalf("future read: %v, want %v", err, rpctypes.ErrFutureRev)
	}
	if _, err := cli.Compact(ctx, 100); !errors.Is(err, rpctypes.ErrFutureRev) {
		t.Fatalf("future compact: %v, want %v", err, rpctypes.ErrFutureRev)
	}
	// The compacted history is gone from the hash's point of view too.
	h, err := cli.HashKV(ctx, env.addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h.CompactRevision != 4 || h.HashRevision != 6 {
		t.Fatalf("hashkv compact %d hash rev %d, want 4 and 6", h.CompactRevision, h.HashRevision)
	}
	if _, err := cli.HashKV(ctx, env.addr, 3); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("hashkv below the compaction: %v, want %v", err, rpctypes.ErrCompacted)
	}
}

func TestRequestErrorsThroughClient(t *testing.T) {
	env := startEnv(t, "memory", Options{})
	ctx, cli := testCtx(t), env.cli
	mustPut(t, ctx, cli, "a", "1")

	manyOps := make([]clientv3.Op, DefaultMaxTxnOps+1)
	for i := range manyOps {
		manyOps[i] = clientv3.OpPut(fmt.Sprintf("k%d", i), "v")
	}
	maxOps := manyOps[:DefaultMaxTxnOps]
	big := strings.Repeat("x", DefaultMaxRequestBytes)
	for _, c := range []struct {
		name string
		do   func() error
		want error
	}{
		{"too-many-ops", func() error { _, err := cli.Txn(ctx).Then(manyOps...).Commit(); return err }, rpctypes.ErrTooManyOps},
		{"duplicate-put", func() error {
			_, err := cli.Txn(ctx).Then(clientv3.OpPut("d", "1"), clientv3.OpPut("d", "2")).Commit()
			return err
		}, rpctypes.ErrDuplicateKey},
		{"put-inside-delete", func() error {
			_, err := cli.Txn(ctx).Then(clientv3.OpDelete("d", clientv3.WithPrefix()), clientv3.OpPut("d1", "2")).Commit()
			return err
		}, rpctypes.ErrDuplicateKey},
		{"request-too-large", func() error { _, err := cli.Put(ctx, "big", big); return err }, rpctypes.ErrRequestTooLarge},
		{"empty-key", func() error { _, err := cli.Put(ctx, "", "v"); return err }, rpctypes.ErrEmptyKey},
		{"lease", func() error { _, err := cli.Put(ctx, "l", "v", clientv3.WithLease(5)); return err }, rpctypes.ErrLeaseNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.do(); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// The largest accepted txn still works, and no rejected request wrote anything.
	if _, err := cli.Txn(ctx).Then(maxOps...).Commit(); err != nil {
		t.Fatalf("txn of %d ops: %v", DefaultMaxTxnOps, err)
	}
	for _, k := range []string{"d", "d1", "big", "l"} {
		if g, err := cli.Get(ctx, k); err != nil || len(g.Kvs) != 0 {
			t.Fatalf("rejected request wrote %s: %v %v", k, g, err)
		}
	}
	// Beyond the gRPC receive limit the transport refuses, as etcd's.
	huge := strings.Repeat("x", DefaultMaxRequestBytes+GRPCOverheadBytes+1)
	_, err := cli.Put(ctx, "huge", huge)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("put over the gRPC limit: %v, want ResourceExhausted", err)
	}
}

// TestNodeErrorsThroughClient: errors of the raft node, which v3rpc cannot
// import, reach etcd's client as etcd's own errors.
func TestNodeErrorsThroughClient(t *testing.T) {
	env := startEnv(t, "memory", Options{})
	ctx, cli := testCtx(t), env.cli
	for _, c := range []struct {
		text string
		want error
	}{
		{"etcdserver: no leader", rpctypes.ErrNoLeader},
		{"etcdserver: not leader", rpctypes.ErrNotLeader},
		{"etcdserver: request timed out", rpctypes.ErrTimeout},
		{"etcdserver: leader changed", rpctypes.ErrLeaderChanged},
		{"etcdserver: too many requests", rpctypes.ErrTooManyRequests},
		{"etcdserver: mvcc: database space exceeded", rpctypes.ErrNoSpace},
		{"etcdserver: request is too large", rpctypes.ErrRequestTooLarge},
		{"etcdserver: server stopped", rpctypes.ErrStopped},
		{"etcdserver: unhealthy cluster", rpctypes.ErrUnhealthy},
	} {
		t.Run(c.text, func(t *testing.T) {
			env.node.failWith("put", errors.New(c.text))
			defer env.node.failWith("put", nil)
			_, err := cli.Put(ctx, "k", "v")
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v (%T), want %v", err, err, c.want)
			}
		})
	}
}

func TestUnservedThroughClient(t *testing.T) {
	env := startEnv(t, "memory", Options{})
	ctx, cli := testCtx(t), env.cli
	check := func(what string, err error, want string) {
		t.Helper()
		s, _ := status.FromError(err)
		if s.Code() != codes.Unimplemented || !strings.Contains(s.Message(), want) {
			t.Errorf("%s: %v, want Unimplemented naming %q", what, err, want)
		}
	}
	_, err := cli.AuthStatus(ctx)
	check("auth status", err, "auth")
	_, err = cli.MoveLeader(ctx, 2)
	check("move leader", err, "MoveLeader")

	conn := cli.ActiveConnection()
	_, err = pb.NewMaintenanceClient(conn).Hash(ctx, &pb.HashRequest{})
	check("hash", err, "Hash")
	_, err = pb.NewClusterClient(conn).MemberUpdate(ctx, &pb.MemberUpdateRequest{ID: 1})
	check("member update", err, "MemberUpdate")
}

func TestMaintenanceThroughClient(t *testing.T) {
	env := startEnv(t, "memory", Options{})
	ctx, cli := testCtx(t), env.cli
	for i := range 20 {
		mustPut(t, ctx, cli, fmt.Sprintf("k%02d", i), strings.Repeat("v", 100))
	}

	// Sizes are the committed engine's, as etcd's bolt sizes.
	if err := env.node.store.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := cli.Status(ctx, env.addr)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != fakeMemberID || st.RaftIndex != 20 || st.RaftAppliedIndex != 20 || st.RaftTerm != fakeTerm {
		t.Errorf("status leader %x index %d applied %d term %d", st.Leader, st.RaftIndex, st.RaftAppliedIndex, st.RaftTerm)
	}
	b := env.node.store.Backend()
	if st.DbSize != b.Size() || st.DbSizeInUse != b.SizeInUse() || st.DbSize <= 0 {
		t.Errorf("status db size %d in use %d, backend %d %d", st.DbSize, st.DbSizeInUse, b.Size(), b.SizeInUse())
	}
	if st.Version == "" || len(st.Errors) != 0 || st.Header.MemberId != fakeMemberID || st.Header.Revision != 21 {
		t.Errorf("status version %q errors %v header %+v", st.Version, st.Errors, st.Header)
	}

	want, _, err := env.node.store.HashByRev(0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := cli.HashKV(ctx, env.addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h.Hash != want.Hash || h.HashRevision != 21 || h.Header.Revision != 21 {
		t.Errorf("hashkv %x at %d, store %x at %d", h.Hash, h.HashRevision, want.Hash, want.Revision)
	}

	if _, err := cli.Defragment(ctx, env.addr); err != nil {
		t.Fatal(err)
	}
	if got := b.Stats().Defrags; got != 1 {
		t.Errorf("backend defrags %d after one Defragment, want 1", got)
	}
	env.node.failWith("defrag", errors.New("etcdserver: request timed out"))
	if _, err := cli.Defragment(ctx, env.addr); !errors.Is(err, rpctypes.ErrTimeout) {
		t.Errorf("failing defrag: %v, want %v", err, rpctypes.ErrTimeout)
	}
	env.node.failWith("defrag", nil)

	// Alarms: none, raise NOSPACE (etcd raises it at apply; clients cannot),
	// writes refused, reads and deletes served, status reports it; disarm.
	al, err := cli.AlarmList(ctx)
	if err != nil || len(al.Alarms) != 0 {
		t.Fatalf("alarm list: %v %v, want none", al, err)
	}
	mc := pb.NewMaintenanceClient(cli.ActiveConnection())
	if _, err := mc.Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: fakeMemberID, Alarm: pb.AlarmType_NOSPACE}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "k", "v"); !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Fatalf("put under NOSPACE: %v, want %v", err, rpctypes.ErrNoSpace)
	}
	if _, err := cli.Txn(ctx).Then(clientv3.OpPut("k", "v")).Commit(); !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Fatalf("txn put under NOSPACE: %v, want %v", err, rpctypes.ErrNoSpace)
	}
	if _, err := cli.Get(ctx, "k00"); err != nil {
		t.Fatalf("get under NOSPACE: %v", err)
	}
	if _, err := cli.Delete(ctx, "k00"); err != nil {
		t.Fatalf("delete under NOSPACE: %v", err)
	}
	st, err = cli.Status(ctx, env.addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "NOSPACE") {
		t.Fatalf("status errors %v, want the NOSPACE alarm", st.Errors)
	}
	al, err = cli.AlarmList(ctx)
	if err != nil || len(al.Alarms) != 1 || al.Alarms[0].Alarm != pb.AlarmType_NOSPACE {
		t.Fatalf("alarm list: %v %v, want NOSPACE", al, err)
	}
	// etcdctl alarm disarm: list, then deactivate each.
	if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: fakeMemberID, Alarm: pb.AlarmType_NOSPACE}); err != nil {
		t.Fatal(err)
	}
	if al, err := cli.AlarmList(ctx); err != nil || len(al.Alarms) != 0 {
		t.Fatalf("alarm list after disarm: %v %v", al, err)
	}
	mustPut(t, ctx, cli, "k", "v")
	if _, err := mc.Alarm(ctx, &pb.AlarmRequest{Action: 9}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unknown alarm action: %v, want InvalidArgument", err)
	}

	// No leader: Status still answers and says so, as etcd's.
	env.node.mu.Lock()
	env.node.leader = 0
	env.node.mu.Unlock()
	st, err = cli.Status(ctx, env.addr)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != 0 || len(st.Errors) != 1 || st.Errors[0] != "etcdserver: no leader" {
		t.Fatalf("status without leader: leader %x errors %v", st.Leader, st.Errors)
	}
}

// readSnapshot checks etcd's framing of a snapshot stream and returns the
// image and the trailer.
func readSnapshot(t *testing.T, ctx context.Context, cli *clientv3.Client) (image, sum []byte) {
	t.Helper()
	stream, err := pb.NewMaintenanceClient(cli.ActiveConnection()).Snapshot(ctx, &pb.SnapshotRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*pb.SnapshotResponse
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) < 2 {
		t.Fatalf("%d snapshot messages, want chunks and a checksum", len(msgs))
	}
	var buf bytes.Buffer
	for i, m := range msgs[:len(msgs)-1] {
		if len(m.Blob) == 0 || len(m.Blob) > DefaultSnapshotChunkBytes {
			t.Fatalf("chunk %d has %d bytes", i, len(m.Blob))
		}
		buf.Write(m.Blob)
		if int(m.RemainingBytes) != remainingAfter(msgs, i) {
			t.Fatalf("chunk %d remaining %d, want %d", i, m.RemainingBytes, remainingAfter(msgs, i))
		}
	}
	last := msgs[len(msgs)-1]
	if last.RemainingBytes != 0 || len(last.Blob) != sha256.Size {
		t.Fatalf("last message: remaining %d, %d bytes; want the sha256", last.RemainingBytes, len(last.Blob))
	}
	return buf.Bytes(), last.Blob
}

func remainingAfter(msgs []*pb.SnapshotResponse, i int) int {
	n := 0
	for _, m := range msgs[i+1 : len(msgs)-1] {
		n += len(m.Blob)
	}
	return n
}

func TestSnapshotThroughClient(t *testing.T) {
	for _, name := range []string{"memory", "bbolt"} {
		t.Run("engine="+name, func(t *testing.T) {
			env := startEnv(t, name, Options{})
			ctx, cli := testCtx(t), env.cli
			const n = 100
			for i := range n {
				mustPut(t, ctx, cli, fmt.Sprintf("k%03d", i), strings.Repeat(fmt.Sprint(i%10), 1000))
			}
			image, sum := readSnapshot(t, ctx, cli)
			if len(image) <= DefaultSnapshotChunkBytes {
				t.Fatalf("image of %d bytes: the test needs several chunks", len(image))
			}
			if got := sha256.Sum256(image); !bytes.Equal(got[:], sum) {
				t.Fatal("sha256 trailer does not match the streamed image")
			}

			// clientv3's Snapshot reader: image followed by the trailer.
			rc, err := cli.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			all, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(all[:len(all)-sha256.Size], image) || !bytes.Equal(all[len(all)-sha256.Size:], sum) {
				t.Fatal("client snapshot differs from the streamed image and trailer")
			}

			// The image opens as a store holding every key.
			e, err := engines.OpenImage(name, bytes.NewReader(image), t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := backend.New(e, backend.Config{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			s, err := mvcc.Open(b, mvcc.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			resp, err := s.Range(&pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Count != n || s.Rev() != n+1 || string(resp.Kvs[7].Value) != strings.Repeat("7", 1000) {
				t.Fatalf("restored store: count %d rev %d", resp.Count, s.Rev())
			}
		})
	}
}

func TestSnapshotFailure(t *testing.T) {
	env := startEnv(t, "memory", Options{})
	ctx := testCtx(t)
	env.node.failWith("snapshot", errors.New("etcdserver: server stopped"))
	stream, err := pb.NewMaintenanceClient(env.cli.ActiveConnection()).Snapshot(ctx, &pb.SnapshotRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); rpctypes.ErrorDesc(err) != rpctypes.ErrorDesc(rpctypes.ErrGRPCStopped) {
		t.Fatalf("failing snapshot: %v, want %v", err, rpctypes.ErrGRPCStopped)
	}
}

func TestClusterThroughClient(t *testing.T) {
	env := startEnv(t, "memory", Options{})
	ctx, cli := testCtx(t), env.cli

	ml, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Members) != 1 || ml.Members[0].ID != fakeMemberID || ml.Header.ClusterId != fakeClusterID {
		t.Fatalf("member list %v header %+v", ml.Members, ml.Header)
	}
	add, err := cli.MemberAddAsLearner(ctx, []string{"http://127.0.0.1:12380"})
	if err != nil {
		t.Fatal(err)
	}
	if !add.Member.IsLearner || len(add.Members) != 2 {
		t.Fatalf("member add: %v / %v", add.Member, add.Members)
	}
	id := add.Member.ID
	if _, err := cli.MemberPromote(ctx, fakeMemberID); !errors.Is(err, rpctypes.ErrMemberNotLearner) {
		t.Fatalf("promote a voter: %v, want %v", err, rpctypes.ErrMemberNotLearner)
	}
	pr, err := cli.MemberPromote(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range pr.Members {
		if m.IsLearner {
			t.Fatalf("after promote: %v", pr.Members)
		}
	}
	rm, err := cli.MemberRemove(ctx, id)
	if err != nil || len(rm.Members) != 1 {
		t.Fatalf("member remove: %v %v", rm, err)
	}
	if _, err := cli.MemberRemove(ctx, id); !errors.Is(err, rpctypes.ErrMemberNotFound) {
		t.Fatalf("remove a removed member: %v, want %v", err, rpctypes.ErrMemberNotFound)
	}
	// etcd's client checks URLs itself; the server must too (raw client).
	cc := pb.NewClusterClient(cli.ActiveConnection())
	for _, bad := range [][]string{nil, {"127.0.0.1:2380"}, {"http://127.0.0.1"}, {"ftp://h:1"}, {"http://h:1/path"}, {"http://h:1", "%zz"}} {
		if _, err := cc.MemberAdd(ctx, &pb.MemberAddRequest{PeerURLs: bad}); !errors.Is(rpctypes.Error(err), rpctypes.ErrMemberBadURLs) {
			t.Errorf("member add %q: %v, want %v", bad, err, rpctypes.ErrMemberBadURLs)
		}
	}
	if ml, err := cli.MemberList(ctx, clientv3.WithSerializable()); err != nil || len(ml.Members) != 1 {
		t.Fatalf("member list after: %v %v", ml, err)
	}
}

func opPuts(n int) []clientv3.Op {
	ops := make([]clientv3.Op, n)
	for i := range ops {
		ops[i] = clientv3.OpPut(fmt.Sprintf("k%d", i), "v")
	}
	return ops
}
