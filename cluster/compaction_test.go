package cluster

import (
	"testing"
	"time"

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
