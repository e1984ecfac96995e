package v3rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"etcdlab/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestToGRPCError(t *testing.T) {
	nodeSentinel := errors.New("cluster: a membership change is already pending")
	extra := []ErrorMapping{{nodeSentinel, rpctypes.ErrGRPCUnhealthy}}
	wrap := func(err error) error { return fmt.Errorf("node: propose: %w", err) }
	for _, c := range []struct {
		name string
		err  error
		want error // nil: codes.Unknown carrying the error's text
	}{
		{"compacted", mvcc.ErrCompacted, rpctypes.ErrGRPCCompacted},
		{"compacted-wrapped", fmt.Errorf("%w: revision 3, already compacted at 4", mvcc.ErrCompacted), rpctypes.ErrGRPCCompacted},
		{"future", wrap(mvcc.ErrFutureRev), rpctypes.ErrGRPCFutureRev},
		{"too-many-ops", wrap(mvcc.ErrTooManyOps), rpctypes.ErrGRPCTooManyOps},
		{"duplicate", wrap(mvcc.ErrDuplicateKey), rpctypes.ErrGRPCDuplicateKey},
		{"too-large", wrap(mvcc.ErrRequestTooLarge), rpctypes.ErrGRPCRequestTooLarge},
		{"lease", wrap(mvcc.ErrLeaseNotFound), rpctypes.ErrGRPCLeaseNotFound},
		{"closed", wrap(mvcc.ErrClosed), rpctypes.ErrGRPCStopped},
		// Joined validation errors: the first in etcd's check order wins.
		{"joined", errors.Join(fmt.Errorf("%w: x", mvcc.ErrLeaseNotFound), fmt.Errorf("%w: put", mvcc.ErrEmptyKey)), rpctypes.ErrGRPCEmptyKey},
		{"canceled", wrap(context.Canceled), rpctypes.ErrGRPCCanceled},
		{"deadline", wrap(context.DeadlineExceeded), rpctypes.ErrGRPCDeadlineExceeded},
		// The node's sentinels, recognised by etcd's text anywhere in the chain.
		{"no-leader", wrap(errors.New("etcdserver: no leader")), rpctypes.ErrGRPCNoLeader},
		{"not-leader", errors.New("etcdserver: not leader"), rpctypes.ErrGRPCNotLeader},
		{"timeout", wrap(wrap(errors.New("etcdserver: request timed out"))), rpctypes.ErrGRPCTimeout},
		{"leader-changed", wrap(errors.New("etcdserver: leader changed")), rpctypes.ErrGRPCLeaderChanged},
		{"too-many-requests", wrap(errors.New("etcdserver: too many requests")), rpctypes.ErrGRPCRequestTooManyRequests},
		{"no-space", wrap(errors.New("etcdserver: mvcc: database space exceeded")), rpctypes.ErrGRPCNoSpace},
		{"learner-not-ready", wrap(errors.New("etcdserver: can only promote a learner member which is in sync with leader")), rpctypes.ErrGRPCLearnerNotReady},
		{"member-not-found", wrap(errors.New("membership: member not found")), rpctypes.ErrGRPCMemberNotFound},
		{"member-removed", wrap(errors.New("membership: ID removed")), rpctypes.ErrGRPCMemberNotFound},
		{"member-exists", wrap(errors.New("membership: member ID already exist")), rpctypes.ErrGRPCMemberExist},
		{"not-learner", wrap(errors.New("membership: can only promote a learner member")), rpctypes.ErrGRPCMemberNotLearner},
		{"learner-rpc", wrap(errors.New("etcdserver: rpc not supported for learner")), rpctypes.ErrGRPCNotSupportedForLearner},
		{"joined-text", errors.Join(errors.New("other"), errors.New("etcdserver: no leader")), rpctypes.ErrGRPCNoLeader},
		// A gRPC status passes through, unwrapped.
		{"status", wrap(rpctypes.ErrGRPCTimeout), rpctypes.ErrGRPCTimeout},
		// Extra mappings come first.
		{"extra", wrap(nodeSentinel), rpctypes.ErrGRPCUnhealthy},
		// A text that merely contains etcd's is not etcd's error.
		{"prefix-only", errors.New("etcdserver: no leader yet"), nil},
		{"unknown", errors.New("disk on fire"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ToGRPCError(c.err, extra...)
			if c.want != nil {
				if got != c.want {
					t.Fatalf("ToGRPCError(%v) = %v, want %v", c.err, got, c.want)
				}
				return
			}
			s, ok := status.FromError(got)
			if !ok || s.Code() != codes.Unknown || s.Message() != c.err.Error() {
				t.Fatalf("ToGRPCError(%v) = %v, want Unknown with the error's text", c.err, got)
			}
		})
	}
	if ToGRPCError(nil) != nil {
		t.Fatal("ToGRPCError(nil) is not nil")
	}
}

// TestMessageTableIsEtcds: every text the fallback recognises for an
// rpctypes error is that error's own text, or one of the documented etcd
// server/membership texts.
func TestMessageTableIsEtcds(t *testing.T) {
	for text, g := range messageTable {
		desc := rpctypes.ErrorDesc(g)
		if text == desc {
			continue
		}
		if !strings.HasPrefix(text, "membership: ") && !strings.HasPrefix(text, "mvcc: ") && text != "etcdserver: request cancelled" {
			t.Errorf("text %q maps to %q with no documented reason", text, desc)
		}
	}
}

func TestOptions(t *testing.T) {
	var o Options
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.MaxRequestBytes != 1536*1024 || o.MaxTxnOps != 128 || o.SnapshotChunkBytes != 32*1024 || o.SnapshotSpoolDir == "" {
		t.Fatalf("defaults: %s", o)
	}
	bad := Options{MaxRequestBytes: -1, MaxTxnOps: -2, SnapshotChunkBytes: -3, Errors: []ErrorMapping{{}}}
	err := bad.Validate()
	if !errors.Is(err, ErrBadOption) {
		t.Fatalf("bad options: %v", err)
	}
	for _, want := range []string{"max request bytes -1", "max txn ops -2", "snapshot chunk bytes -3", "spool dir", "error mapping 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %q: %v", want, err)
		}
	}
	if _, err := NewServer(nil, Options{}); !errors.Is(err, ErrNilBackend) {
		t.Errorf("NewServer(nil): %v", err)
	}
	if _, err := NewServer(&fakeNode{}, Options{MaxTxnOps: -1}); !errors.Is(err, ErrBadOption) {
		t.Errorf("NewServer with bad options: %v", err)
	}
}

// TestSmallLimits: the options reach the checks and the gRPC receive limit.
func TestSmallLimits(t *testing.T) {
	env := startEnv(t, "memory", Options{MaxTxnOps: 2, MaxRequestBytes: 1024})
	ctx, cli := testCtx(t), env.cli
	if _, err := cli.Txn(ctx).Then(opPuts(3)...).Commit(); !errors.Is(err, rpctypes.ErrTooManyOps) {
		t.Fatalf("3 ops with MaxTxnOps 2: %v", err)
	}
	if _, err := cli.Txn(ctx).Then(opPuts(2)...).Commit(); err != nil {
		t.Fatalf("2 ops with MaxTxnOps 2: %v", err)
	}
	// etcd's nested budget: a txn nested in a 2-op branch has 2-2 = 0 left.
	nested := clientv3.OpTxn(nil, []clientv3.Op{clientv3.OpPut("n", "v")}, nil)
	if _, err := cli.Txn(ctx).Then(clientv3.OpPut("a", "v"), nested).Commit(); !errors.Is(err, rpctypes.ErrTooManyOps) {
		t.Fatalf("nested txn over the remaining budget: %v", err)
	}
	if _, err := cli.Txn(ctx).Then(nested).Commit(); err != nil {
		t.Fatalf("nested txn within the remaining budget: %v", err)
	}
	if _, err := cli.Put(ctx, "k", strings.Repeat("v", 2000)); !errors.Is(err, rpctypes.ErrRequestTooLarge) {
		t.Fatalf("2000-byte put with a 1024-byte limit: %v", err)
	}
	_, err := cli.Put(ctx, "k", strings.Repeat("v", 1024+GRPCOverheadBytes))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("put over the gRPC receive limit: %v", err)
	}
}

// TestNodeWithoutResponse: a node returning neither a response nor an error
// gets Internal, and the server keeps serving.
func TestNodeWithoutResponse(t *testing.T) {
	f := newFakeNode(t, "memory")
	srv := &kvServer{kv: nilNode{f}, hdr: header{f}, check: mvcc.Config{MaxTxnOps: 128, MaxRequestBytes: 1 << 20}}
	if _, err := srv.Range(context.Background(), &pb.RangeRequest{Key: []byte("k")}); status.Code(err) != codes.Internal {
		t.Fatalf("range: %v, want Internal", err)
	}
	ms := &maintenanceServer{m: nilNode{f}, hdr: header{f}}
	if _, err := ms.Alarm(context.Background(), &pb.AlarmRequest{}); status.Code(err) != codes.Internal {
		t.Fatalf("alarm: %v, want Internal", err)
	}
	if st, err := ms.Status(context.Background(), &pb.StatusRequest{}); err != nil || len(st.Errors) != 0 {
		t.Fatalf("status with no alarm response: %v %v", st, err)
	}
}
