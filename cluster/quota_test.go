package cluster_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
)

// TestQuota: with a small quota, writes run until NOSPACE; the alarm reaches
// every node; reads and deletes still work, puts and txns with puts fail with
// etcd's message; compact + defrag on every node + disarm restores writes;
// disarming without freeing space re-arms on the next write.
func TestQuota(t *testing.T) {
	node := fastNode("bbolt")
	// The quota compares bbolt's high-water mark: 16 KiB values to 200
	// keys (every put a new revision) reach 20 MiB after about 1,000 puts.
	node.QuotaBytes = 20 << 20
	c := startCluster(t, 3, node, nil)
	waitLeader(t, c)
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
	ctx := ctxT(t)
	val := strings.Repeat("v", 16<<10)
	var nospace error
	for i := 0; i < 10000; i++ {
		_, err := cl.Put(ctx, put(key(i%200), val))
		if err != nil {
			nospace = err
			break
		}
	}
	if !errors.Is(nospace, cluster.ErrNoSpace) || nospace.Error() != "etcdserver: mvcc: database space exceeded" {
		t.Fatalf("writes ended with %v, want NOSPACE", nospace)
	}
	waitFor(t, "NOSPACE alarm on every node", 10*time.Second, func() bool {
		for _, n := range c.Nodes() {
			if !n.AlarmActive(pb.AlarmType_NOSPACE) {
				return false
			}
		}
		return true
	})
	// Every node refuses puts (the alarm is applied, not the local size).
	for _, n := range c.Nodes() {
		if _, err := n.Put(ctx, put("small", "x")); !errors.Is(err, cluster.ErrNoSpace) {
			t.Fatalf("node %d put under alarm: %v", n.ID(), err)
		}
	}
	txnPut := &pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: put("t", "1")}}}}
	if _, err := cl.Txn(ctx, txnPut); !errors.Is(err, cluster.ErrNoSpace) {
		t.Fatalf("txn with a put under alarm: %v", err)
	}
	if _, err := cl.Range(ctx, &pb.RangeRequest{Key: []byte(key(0))}); err != nil {
		t.Fatalf("range under alarm: %v", err)
	}
	dr, err := cl.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: []byte("k"), RangeEnd: []byte("l")})
	if err != nil || dr.Deleted == 0 {
		t.Fatalf("delete under alarm: %v %v", dr, err)
	}
	txnDel := &pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte("zz")}}}}}
	if _, err := cl.Txn(ctx, txnDel); err != nil {
		t.Fatalf("txn with only a delete under alarm: %v", err)
	}
	// Disarm without freeing space: the next write re-arms.
	if err := cl.AlarmDisarm(ctx, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alarm disarmed everywhere", 10*time.Second, func() bool {
		for _, n := range c.Nodes() {
			if n.AlarmActive(pb.AlarmType_NOSPACE) {
				return false
			}
		}
		return true
	})
	// Each node checks its own backend size; the next writes must hit a
	// node over the quota and raise the alarm again.
	rearmed := false
	for i := 0; i < 100 && !rearmed; i++ {
		_, err := cl.Put(ctx, put("again", val))
		rearmed = errors.Is(err, cluster.ErrNoSpace)
		if err != nil && !rearmed {
			t.Fatal(err)
		}
	}
	if !rearmed {
		t.Fatalf("writes after a disarm without freeing space never hit NOSPACE")
	}
	waitFor(t, "alarm re-armed", 10*time.Second, func() bool { return len(c.Node(c.Leader()).AlarmList()) > 0 })
	// Recovery: compact, defrag every member, disarm.
	rev := c.Node(c.Leader()).Rev()
	if _, err := cl.Compact(ctx, &pb.CompactionRequest{Revision: rev, Physical: true}); err != nil {
		t.Fatalf("compact under alarm: %v", err)
	}
	for _, n := range c.Nodes() {
		waitFor(t, "compaction applied", 10*time.Second, func() bool { return n.CompactRev() == rev })
		n.WaitStoreCompactions()
	}
	checkConverged(t, c)
	for _, n := range c.Nodes() {
		if err := c.Defrag(n.ID()); err != nil {
			t.Fatal(err)
		}
		if s := n.BackendSize(); s >= node.QuotaBytes {
			t.Fatalf("node %d: size %d after defrag still over quota", n.ID(), s)
		}
	}
	if err := cl.AlarmDisarm(ctx, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alarm disarmed everywhere", 10*time.Second, func() bool {
		for _, n := range c.Nodes() {
			if n.AlarmActive(pb.AlarmType_NOSPACE) {
				return false
			}
		}
		return true
	})
	if _, err := cl.Put(ctx, put("after", "x")); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	checkConverged(t, c)
}

// TestRequestLimits: an oversized request and an invalid txn are rejected
// before they are proposed.
func TestRequestLimits(t *testing.T) {
	node := fastNode("memory")
	node.MaxRequestBytes = 1024
	c := startCluster(t, 1, node, nil)
	waitLeader(t, c)
	n := c.Nodes()[0]
	ctx := ctxT(t)
	if _, err := n.Put(ctx, put("k", strings.Repeat("v", 2048))); !errors.Is(err, cluster.ErrRequestTooLarge) && !strings.Contains(err.Error(), "too large") {
		t.Fatalf("oversized put: %v", err)
	}
	dup := &pb.TxnRequest{Success: []*pb.RequestOp{
		{Request: &pb.RequestOp_RequestPut{RequestPut: put("a", "1")}},
		{Request: &pb.RequestOp_RequestPut{RequestPut: put("a", "2")}},
	}}
	before := n.TestStats().Proposals.Load()
	if _, err := n.Txn(ctx, dup); err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("duplicate-key txn: %v", err)
	}
	if n.TestStats().Proposals.Load() != before {
		t.Fatalf("an invalid txn was proposed")
	}
}

// TestQuotaIsBackendSize: the quota compares etcd's backend size (bbolt's
// high-water mark), not the file with the 16 MiB bbolt preallocates when it
// grows it. With an 8 MiB quota an empty store accepts puts until its data
// nears 8 MiB, as etcd does (etcd 3.6 accepted 1,528 puts of 4 KiB values
// into a fresh member with --quota-backend-bytes 8388608 before NOSPACE).
// Before the fix the first put was refused.
func TestQuotaIsBackendSize(t *testing.T) {
	node := fastNode("bbolt")
	node.QuotaBytes = 8 << 20
	node.Backend.BatchInterval = 0 // etcd's 100 ms: the size the check sees is as fresh as etcd's
	c := startCluster(t, 1, node, nil)
	waitLeader(t, c)
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
	ctx := ctxT(t)
	val := strings.Repeat("v", 4<<10)
	accepted := 0
	var last error
	for ; accepted < 4000; accepted++ {
		if _, last = cl.Put(ctx, put(key(accepted), val)); last != nil {
			break
		}
	}
	if !errors.Is(last, cluster.ErrNoSpace) {
		t.Fatalf("after %d puts: %v, want NOSPACE", accepted, last)
	}
	size := c.Node(1).BackendSize()
	t.Logf("%d puts of 4 KiB accepted (etcd 3.6: 1528), %.2f MiB of values, backend size %.2f MiB at NOSPACE", accepted, float64(accepted*len(val))/(1<<20), float64(size)/(1<<20))
	// Data near the quota: at least 60% of it in values (bbolt pages hold
	// the rest), and the backend size close to the quota. As in etcd the
	// size checked is refreshed at each backend commit, so puts admitted
	// between two commits overshoot the quota a little.
	if accepted*len(val) < 8<<20*6/10 {
		t.Errorf("only %d puts (%d value bytes) fit under an 8 MiB quota", accepted, accepted*len(val))
	}
	if size < 7<<20 || size > 12<<20 {
		t.Errorf("backend size %d at NOSPACE, want near the 8 MiB quota", size)
	}
}
