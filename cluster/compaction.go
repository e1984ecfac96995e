package cluster

import (
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
)

// Raft log compaction, as etcd 3.6's EtcdServer does it after each applied
// batch (snapshotIfNeededAndCompactRaftLog in server/etcdserver/server.go):
//
//   - a snapshot to disk when more than SnapshotCount entries were applied
//     since the last one (snapshot: backend commit, .snap, WAL marker, WAL
//     release);
//   - otherwise, with RaftLogCompaction36, a snapshot to memory when more
//     than memorySnapshotCount entries were applied since the last snapshot
//     of either kind: raft's MemoryStorage.CreateSnapshot at the applied
//     index with the configuration and the membership, nothing on disk;
//   - after either, the raft log is compacted to applied −
//     SnapshotCatchUpEntries (or 1), so that a follower that is behind by
//     fewer entries catches up from the log, not from a snapshot;
//   - no compaction while a snapshot is being sent, nor for
//     releaseDelayAfterSnapshot after one was sent: the follower needs the
//     entries right after the snapshot once it has installed it.
//
// With RaftLogCompaction35 only the disk snapshot compacts (etcd 3.5), and
// the in-memory log grows to SnapshotCount + SnapshotCatchUpEntries entries.

const (
	// memorySnapshotCount is etcd 3.6's memorySnapshotCount: applied entries
	// between snapshots to memory.
	memorySnapshotCount = 100
	// releaseDelayAfterSnapshot is etcd's: how long compaction stays paused
	// after a snapshot was sent successfully.
	releaseDelayAfterSnapshot = 30 * time.Second
)

// snapshotIfNeededAndCompactRaftLog runs on the apply goroutine after each
// applied batch, once the batch is durable and in MemoryStorage.
func (n *Node) snapshotIfNeededAndCompactRaftLog() error {
	applied := n.ap.appliedIndex
	if applied-n.ap.snapIndex > n.opts.SnapshotCount {
		if err := n.snapshot(); err != nil {
			return err
		}
		if n.ap.snapIndex == applied { // not superseded by a newer snapshot
			n.ap.memSnapIndex = applied
		}
		return nil
	}
	if n.opts.RaftLogCompaction != RaftLogCompaction36 || applied <= n.ap.memSnapIndex+memorySnapshotCount {
		return nil
	}
	return n.snapshotToMemory()
}

// snapshotToMemory is etcd 3.6's snapshot with toDisk false: a raft storage
// snapshot at the applied index (configuration and membership, as the disk
// one), then the raft log compaction. No backend commit, no file, no event:
// it happens every 100 entries; RaftLogStats counts it.
func (n *Node) snapshotToMemory() error {
	idx := n.ap.appliedIndex
	cs := n.ap.confState
	if _, err := n.raft.storage.CreateSnapshot(idx, &cs, n.mb.snapshotData()); err != nil {
		if errors.Is(err, raft.ErrSnapOutOfDate) {
			return nil
		}
		return fmt.Errorf("cluster: create snapshot in memory: %w", err)
	}
	n.ap.memSnapIndex = idx
	n.stats.memorySnapshots.Add(1)
	_, _, err := n.compactRaftLog(idx)
	return err
}

// compactRaftLog compacts the raft log behind a snapshot at idx, keeping
// SnapshotCatchUpEntries entries, unless a snapshot is in flight or was sent
// less than releaseDelayAfterSnapshot ago (ok false). It returns the index
// compacted to; one already compacted is not an error.
func (n *Node) compactRaftLog(idx uint64) (compact uint64, ok bool, err error) {
	if n.snaps.inflight.Load() > 0 || n.clk.Now().UnixNano() < n.snaps.holdUntil.Load() {
		return 0, false, nil // a follower may still need these entries after its snapshot
	}
	compact = 1
	if idx > n.opts.SnapshotCatchUpEntries {
		compact = idx - n.opts.SnapshotCatchUpEntries
	}
	if err := n.raft.storage.Compact(compact); err != nil {
		if errors.Is(err, raft.ErrCompacted) {
			return compact, true, nil
		}
		return 0, false, fmt.Errorf("cluster: compact raft log: %w", err)
	}
	n.stats.raftLogCompactions.Add(1)
	return compact, true, nil
}

// holdCompaction pauses raft log compaction for releaseDelayAfterSnapshot
// from now: a snapshot was sent, and its receiver will ask for the entries
// after it (etcd's sendMergedSnap keeps the snapshot counted as in flight
// that long after a successful send).
func (n *Node) holdCompaction() {
	until := n.clk.Now().Add(releaseDelayAfterSnapshot).UnixNano()
	for {
		cur := n.snaps.holdUntil.Load()
		if cur >= until || n.snaps.holdUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// RaftLogStats describes a node's in-memory raft log (raft's MemoryStorage).
type RaftLogStats struct {
	// FirstIndex and LastIndex bound the entries held; Entries is
	// LastIndex − FirstIndex + 1 (0 when empty).
	FirstIndex, LastIndex, Entries uint64
	// MemorySnapshots counts snapshots to memory only (RaftLogCompaction36),
	// Compactions every compaction of the log.
	MemorySnapshots, Compactions int64
}

// RaftLogStats returns the node's in-memory raft log figures.
func (n *Node) RaftLogStats() RaftLogStats {
	first, _ := n.raft.storage.FirstIndex()
	last, _ := n.raft.storage.LastIndex()
	s := RaftLogStats{FirstIndex: first, LastIndex: last,
		MemorySnapshots: n.stats.memorySnapshots.Load(), Compactions: n.stats.raftLogCompactions.Load()}
	if last >= first {
		s.Entries = last - first + 1
	}
	return s
}
