package cluster_test

import (
	"context"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
)

// TestRaftLogBounded36: with etcd 3.6's rule and a snapshot count never
// reached, every member's in-memory raft log stays within
// SnapshotCatchUpEntries + 100 + its unapplied entries, and no disk snapshot
// is taken; with the 3.5 rule the same writes keep the whole log.
func TestRaftLogBounded36(t *testing.T) {
	catchup, rounds, perRound := uint64(200), 5, 250
	if !testing.Short() {
		catchup, rounds, perRound = cluster.DefaultSnapshotCatchUpEntries, 6, 2500
	}
	for _, mode := range []string{cluster.RaftLogCompaction36, cluster.RaftLogCompaction35} {
		t.Run("mode="+mode, func(t *testing.T) {
			node := fastNode("memory")
			node.SnapshotCount = 100_000
			node.SnapshotCatchUpEntries = catchup
			node.RaftLogCompaction = mode
			c := startCluster(t, 3, node, nil)
			waitLeader(t, c)
			cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
			ctx := ctxT(t)
			written := 0
			for r := 0; r < rounds; r++ {
				writeConcurrently(t, ctx, cl, written, perRound)
				written += perRound
				for _, n := range c.Nodes() {
					waitFor(t, "the round applied", 30*time.Second, func() bool {
						st := n.RaftLogStats()
						return n.AppliedIndex() >= st.LastIndex
					})
					if mode == cluster.RaftLogCompaction35 {
						if st := n.RaftLogStats(); st.FirstIndex != 1 || st.MemorySnapshots != 0 {
							t.Fatalf("node %d, 3.5: %+v: compacted without a disk snapshot", n.ID(), st)
						}
						continue
					}
					// The snapshot check runs right after the batch is applied.
					var st cluster.RaftLogStats
					waitFor(t, "the log within bounds", 10*time.Second, func() bool {
						st = n.RaftLogStats()
						return st.Entries <= catchup+cluster.MemorySnapshotCount+(st.LastIndex-n.AppliedIndex())
					})
					if r == rounds-1 {
						t.Logf("node %d: %d entries in memory after %d writes: %+v", n.ID(), st.Entries, written, st)
					}
				}
			}
			for _, n := range c.Nodes() {
				st := n.RaftLogStats()
				if n.TestStats().Snapshots.Load() != 0 {
					t.Errorf("node %d: a disk snapshot below the snapshot count", n.ID())
				}
				switch mode {
				case cluster.RaftLogCompaction36:
					if st.MemorySnapshots == 0 || st.Compactions == 0 || st.FirstIndex <= 1 {
						t.Errorf("node %d, 3.6: %+v: the log was never compacted", n.ID(), st)
					}
				case cluster.RaftLogCompaction35:
					if st.Entries < uint64(written) {
						t.Errorf("node %d, 3.5: %d entries in memory after %d writes: want the whole log", n.ID(), st.Entries, written)
					}
				}
			}
			checkConverged(t, c)
		})
	}
}

// TestCatchUp36: under etcd 3.6's rule no disk snapshot is taken below the
// snapshot count, yet the log is compacted. A follower behind by fewer than
// SnapshotCatchUpEntries entries catches up from the leader's log (no
// snapshot); one behind by more gets a snapshot and catches up from it.
func TestCatchUp36(t *testing.T) {
	const catchup = 200
	node := fastNode("memory")
	node.SnapshotCount = 100_000
	node.SnapshotCatchUpEntries = catchup
	c := startCluster(t, 3, node, nil)
	leader := waitLeader(t, c)
	follower := aFollower(c, leader)
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
	ctx := ctxT(t)
	written := 0
	write := func(k int) {
		writeConcurrently(t, ctx, cl, written, k)
		written += k
	}
	write(3 * catchup)
	ln := c.Node(leader)
	catchUp := func(what string, wantSnapshot bool) {
		t.Helper()
		behind := c.Node(follower).AppliedIndex()
		if err := c.Stop(follower); err != nil {
			t.Fatal(err)
		}
		if wantSnapshot {
			write(3 * catchup)
		} else {
			write(catchup / 2)
		}
		waitFor(t, "the leader's log compacted", 10*time.Second, func() bool {
			return ln.RaftLogStats().Entries <= catchup+cluster.MemorySnapshotCount+(ln.RaftLogStats().LastIndex-ln.AppliedIndex())
		})
		first := ln.FirstIndex()
		if wantSnapshot != (first > behind+1) {
			t.Fatalf("%s: follower at %d, leader's log from %d", what, behind, first)
		}
		if err := c.Restart(follower); err != nil {
			t.Fatal(err)
		}
		fn := c.Node(follower)
		waitFor(t, what, 60*time.Second, func() bool { return fn.AppliedIndex() >= ln.CommittedIndex() })
		if got := fn.TestStats().SnapshotsInstalled.Load() > 0; got != wantSnapshot {
			t.Fatalf("%s: snapshot installed %v, want %v", what, got, wantSnapshot)
		}
		checkConverged(t, c)
	}
	catchUp("catch-up from the log", false)
	catchUp("catch-up from a snapshot", true)
	if ln.TestStats().Snapshots.Load() != 0 {
		t.Fatalf("the leader took a disk snapshot below the snapshot count")
	}
	r, err := c.Node(follower).Range(ctx, &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), Serializable: true, CountOnly: true})
	if err != nil || r.Count != int64(written) {
		t.Fatalf("follower count %v, %v; want %d", r, err, written)
	}
}

// writeConcurrently puts keys from..from+k−1 with 8 writers.
func writeConcurrently(t *testing.T, ctx context.Context, cl *harness.Client, from, k int) {
	t.Helper()
	runParallel(t, 8, from, k, func(i int) error {
		_, err := cl.Put(ctx, put(key(i), "v"))
		return err
	})
}
