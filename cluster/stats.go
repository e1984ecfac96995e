package cluster

import (
	"context"
	"time"

	"etcdlab/engines/backend"
	"etcdlab/engines/engine"
)

// StorageStats are one node's storage figures, for the bench's resource
// samples: the backend's (and so the engine's) counters and sizes. OK is
// false while the node has no store (killed, or swapping in a snapshot).
type StorageStats struct {
	OK      bool
	Backend backend.Stats
	// Size is the backend size the quota compares, SizeInUse its live part
	// (both as of the last backend commit) and DiskSize what the engine's
	// files take now (it may list the data directory: sampling only).
	Size      int64
	SizeInUse int64
	DiskSize  int64
}

// StorageStats returns the node's backend statistics.
func (n *Node) StorageStats() StorageStats {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return StorageStats{}
	}
	b := n.kv.store.Backend()
	return StorageStats{OK: true, Backend: b.Stats(), Size: b.Size(), SizeInUse: b.SizeInUse(), DiskSize: b.DiskSize()}
}

// CommitBackend forces the node's pending backend batch into the engine, so
// that the disk cost of writes already acknowledged is paid now (the bench
// calls it after its measured phase).
func (n *Node) CommitBackend() error {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return ErrStopped
	}
	return n.kv.store.Commit()
}

// ReadIndexRounds is how many ReadIndex rounds this node's read loop has
// completed: linearizable reads per round is how well the loop batches.
func (n *Node) ReadIndexRounds() int64 { return n.stats.readIndexRounds.Load() }

// SettleBackend calls settle with the node's engine, holding the store so
// that a restart cannot swap the engine meanwhile. The bench uses it to wait
// for an engine's background work (engine.Settler) outside the measured
// time; the cluster itself never calls it.
func (n *Node) SettleBackend(ctx context.Context, settle func(context.Context, engine.Engine) error) error {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return ErrStopped
	}
	return settle(ctx, n.kv.store.Backend().Engine())
}

// RestoreDuration is how long the node's MVCC store took to rebuild its
// index when it was opened (the part of a restart that grows with the key
// history); 0 while the node has no store.
func (n *Node) RestoreDuration() time.Duration {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return 0
	}
	return n.kv.store.RestoreDuration()
}

// compactWait is an applied compaction and the channel its background
// deletion closes.
type compactWait struct {
	rev  int64
	done <-chan struct{}
}

// WaitCompacted waits until this node has applied a compaction at rev or
// later and finished deleting what it compacted (a physical compaction on
// this member), or ctx ends. It lets a caller defragment a member only once
// the space is free, which a Compact with Physical set waits for on the
// member that served it only.
func (n *Node) WaitCompacted(ctx context.Context, rev int64) error {
	poll := n.clk.NewTicker(time.Millisecond)
	defer poll.Stop()
	for {
		if cw := n.prog.compactDone.Load(); cw != nil && cw.rev >= rev {
			select {
			case <-cw.done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-n.loops.stopc:
				return ErrStopped
			}
		}
		select {
		case <-poll.C():
		case <-ctx.Done():
			return ctx.Err()
		case <-n.loops.stopc:
			return ErrStopped
		}
	}
}

// AutoCompactions returns how many compactions this node's auto-compaction
// loop requested successfully (an already compacted revision counts, as in
// etcd) and how many failed.
func (n *Node) AutoCompactions() (done, failed int64) {
	return n.stats.autoCompactions.Load(), n.stats.autoCompactFailures.Load()
}
