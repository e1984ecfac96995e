package cluster_test

import (
	"testing"
	"time"
)

// TestLogCompactionRules: snapshots are taken every SnapshotCount applied
// entries; the raft log keeps SnapshotCatchUpEntries behind the snapshot and
// is not compacted at all while a snapshot is being sent (pitfall 4).
func TestLogCompactionRules(t *testing.T) {
	node := fastNode("memory")
	node.SnapshotCount = 50
	node.SnapshotCatchUpEntries = 20
	c := startCluster(t, 1, node, nil)
	waitLeader(t, c)
	n := c.Node(1)
	ctx := ctxT(t)
	write := func(k int) {
		for i := 0; i < k; i++ {
			if _, err := n.Put(ctx, put(key(i), "v")); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A snapshot "in flight": snapshots are taken, the log is kept whole.
	n.InflightSnapshots().Add(1)
	write(120)
	waitFor(t, "a snapshot", 10*time.Second, func() bool { return n.SnapshotIndex() > 0 })
	if first := n.FirstIndex(); first != 1 {
		t.Fatalf("log compacted to %d while a snapshot was being sent", first)
	}
	n.InflightSnapshots().Add(-1)
	before := n.SnapshotIndex()
	write(120)
	waitFor(t, "a newer snapshot", 10*time.Second, func() bool { return n.SnapshotIndex() > before })
	snap, first := n.SnapshotIndex(), n.FirstIndex()
	if first <= 1 {
		t.Fatalf("log not compacted after the send ended (first index %d)", first)
	}
	// MemoryStorage.Compact(i) makes i+1 the first index; the entries from
	// snap-catchup on must still be there.
	if first > snap-node.SnapshotCatchUpEntries+1 {
		t.Fatalf("first index %d: fewer than %d entries kept behind snapshot %d", first, node.SnapshotCatchUpEntries, snap)
	}
	if applied := n.AppliedIndex(); snap > applied {
		t.Fatalf("snapshot %d past applied %d", snap, applied)
	}
}
