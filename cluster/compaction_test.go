package cluster

import (
	"context"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/internal/clock"
)

// newCompactionNode is a Node with only what the compaction rules touch: a
// MemoryStorage holding entries 1..last, and the options.
func newCompactionNode(t *testing.T, mode string, snapCount, catchup, last uint64, clk clock.Clock) *Node {
	t.Helper()
	o := NodeOptions{ID: 1, Dir: "unused", SnapshotCount: snapCount, SnapshotCatchUpEntries: catchup, RaftLogCompaction: mode, Clock: clk}
	o.EnsureDefaults()
	n := &Node{opts: o, clk: o.Clock, raft: raftState{storage: raft.NewMemoryStorage()}}
	ents := make([]raftpb.Entry, last)
	for i := range ents {
		ents[i] = raftpb.Entry{Index: uint64(i) + 1, Term: 1}
	}
	if err := n.raft.storage.Append(ents); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMemorySnapshotRules checks etcd 3.6's rules step by step, applied
// index by applied index (snapshotIfNeededAndCompactRaftLog): a snapshot to
// memory once applied > last snapshot + 100, at the applied index, then the
// raft log compacted to applied − SnapshotCatchUpEntries; nothing with the
// 3.5 rule below SnapshotCount.
func TestMemorySnapshotRules(t *testing.T) {
	const catchup, last = 250, 2000
	for _, mode := range []string{RaftLogCompaction36, RaftLogCompaction35} {
		t.Run("mode="+mode, func(t *testing.T) {
			n := newCompactionNode(t, mode, 100_000, catchup, last, nil)
			var snaps []uint64
			for applied := uint64(1); applied <= last; applied++ {
				n.ap.appliedIndex = applied
				before := n.ap.memSnapIndex
				if err := n.snapshotIfNeededAndCompactRaftLog(); err != nil {
					t.Fatal(err)
				}
				if n.ap.memSnapIndex != before {
					snaps = append(snaps, n.ap.memSnapIndex)
				}
				st := n.RaftLogStats()
				if mode == RaftLogCompaction35 {
					if st.FirstIndex != 1 {
						t.Fatalf("3.5: log compacted to %d below SnapshotCount", st.FirstIndex)
					}
					continue
				}
				// Compact(i) keeps i+1 on; etcd compacts to snapshot −
				// catchup, or to 1 while the snapshot is not past catchup.
				wantFirst := uint64(1)
				if s := n.ap.memSnapIndex; s > catchup {
					wantFirst = s - catchup + 1
				} else if s > 0 {
					wantFirst = 2
				}
				if st.FirstIndex != wantFirst {
					t.Fatalf("applied %d, memory snapshot %d: first index %d, want %d", applied, n.ap.memSnapIndex, st.FirstIndex, wantFirst)
				}
				if kept := applied - st.FirstIndex + 1; kept > catchup+memorySnapshotCount {
					t.Fatalf("applied %d: %d entries kept up to it, want ≤ %d", applied, kept, catchup+memorySnapshotCount)
				}
			}
			if mode == RaftLogCompaction35 {
				if len(snaps) != 0 || n.stats.memorySnapshots.Load() != 0 {
					t.Fatalf("3.5 took snapshots to memory at %v", snaps)
				}
				return
			}
			// 101, 202, 303, ...: strictly more than 100 entries apart.
			for i, s := range snaps {
				if want := uint64(i+1) * (memorySnapshotCount + 1); s != want {
					t.Fatalf("snapshot %d at %d, want %d (all: %v)", i, s, want, snaps)
				}
			}
			if got := n.stats.memorySnapshots.Load(); got != int64(len(snaps)) || len(snaps) != last/(memorySnapshotCount+1) {
				t.Fatalf("%d memory snapshots counted, %d taken", got, len(snaps))
			}
			s, _ := n.raft.storage.Snapshot()
			if s.Metadata.Index != snaps[len(snaps)-1] || s.Metadata.Term != 1 {
				t.Fatalf("raft storage snapshot at %d term %d, want %d term 1", s.Metadata.Index, s.Metadata.Term, snaps[len(snaps)-1])
			}
		})
	}
}

// TestCompactionHeldAfterSnapshotSent: etcd pauses raft log compaction while
// a snapshot is in flight and for 30s after it was sent successfully
// (releaseDelayAfterSnapshot); after a failed send it resumes at once.
func TestCompactionHeldAfterSnapshotSent(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	n := newCompactionNode(t, RaftLogCompaction36, 100_000, 10, 1000, clk)
	compactAt := func(idx uint64) bool {
		t.Helper()
		_, ok, err := n.compactRaftLog(idx)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	n.snaps.inflight.Add(1)
	if compactAt(100) {
		t.Fatal("compacted with a snapshot in flight")
	}
	n.holdCompaction() // the send finished (ReportSnapshot with SnapshotFinish)
	n.snaps.inflight.Add(-1)
	if compactAt(100) {
		t.Fatal("compacted right after a snapshot was sent")
	}
	clk.Advance(releaseDelayAfterSnapshot - time.Second)
	if compactAt(100) {
		t.Fatal("compacted 29s after a snapshot was sent")
	}
	clk.Advance(time.Second)
	if !compactAt(100) {
		t.Fatal("not compacted 30s after a snapshot was sent")
	}
	if first := n.RaftLogStats().FirstIndex; first != 91 {
		t.Fatalf("first index %d, want 91", first)
	}
}

// TestRaftLogBounded36: with etcd 3.6's rule and a snapshot count never
// reached, every member's in-memory raft log stays within
// SnapshotCatchUpEntries + 100 + its unapplied entries, and no disk snapshot
// is taken; with the 3.5 rule the same writes keep the whole log.
func TestRaftLogBounded36(t *testing.T) {
	catchup, rounds, perRound := uint64(200), 5, 250
	if !testing.Short() {
		catchup, rounds, perRound = DefaultSnapshotCatchUpEntries, 6, 2500
	}
	for _, mode := range []string{RaftLogCompaction36, RaftLogCompaction35} {
		t.Run("mode="+mode, func(t *testing.T) {
			node := fastNode("memory")
			node.SnapshotCount = 100_000
			node.SnapshotCatchUpEntries = catchup
			node.RaftLogCompaction = mode
			c := startCluster(t, 3, node, nil)
			waitLeader(t, c)
			cl := c.Client(ClientOptions{Policy: PolicyLeader})
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
					if mode == RaftLogCompaction35 {
						if st := n.RaftLogStats(); st.FirstIndex != 1 || st.MemorySnapshots != 0 {
							t.Fatalf("node %d, 3.5: %+v: compacted without a disk snapshot", n.ID(), st)
						}
						continue
					}
					// The snapshot check runs right after the batch is applied.
					var st RaftLogStats
					waitFor(t, "the log within bounds", 10*time.Second, func() bool {
						st = n.RaftLogStats()
						return st.Entries <= catchup+memorySnapshotCount+(st.LastIndex-n.AppliedIndex())
					})
					if r == rounds-1 {
						t.Logf("node %d: %d entries in memory after %d writes: %+v", n.ID(), st.Entries, written, st)
					}
				}
			}
			for _, n := range c.Nodes() {
				st := n.RaftLogStats()
				if n.stats.snapshots.Load() != 0 {
					t.Errorf("node %d: a disk snapshot below the snapshot count", n.ID())
				}
				switch mode {
				case RaftLogCompaction36:
					if st.MemorySnapshots == 0 || st.Compactions == 0 || st.FirstIndex <= 1 {
						t.Errorf("node %d, 3.6: %+v: the log was never compacted", n.ID(), st)
					}
				case RaftLogCompaction35:
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
	cl := c.Client(ClientOptions{Policy: PolicyLeader})
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
			return ln.RaftLogStats().Entries <= catchup+memorySnapshotCount+(ln.RaftLogStats().LastIndex-ln.AppliedIndex())
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
		if got := fn.stats.snapshotsInstalled.Load() > 0; got != wantSnapshot {
			t.Fatalf("%s: snapshot installed %v, want %v", what, got, wantSnapshot)
		}
		checkConverged(t, c)
	}
	catchUp("catch-up from the log", false)
	catchUp("catch-up from a snapshot", true)
	if ln.stats.snapshots.Load() != 0 {
		t.Fatalf("the leader took a disk snapshot below the snapshot count")
	}
	r, err := c.Node(follower).Range(ctx, &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), Serializable: true, CountOnly: true})
	if err != nil || r.Count != int64(written) {
		t.Fatalf("follower count %v, %v; want %d", r, err, written)
	}
}

// writeConcurrently puts keys from..from+k−1 with 8 writers.
func writeConcurrently(t *testing.T, ctx context.Context, cl *Client, from, k int) {
	t.Helper()
	runParallel(t, 8, from, k, func(i int) error {
		_, err := cl.Put(ctx, put(key(i), "v"))
		return err
	})
}
