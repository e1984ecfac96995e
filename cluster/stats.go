package cluster

import (
	"time"

	"etcdlab/engines/backend"
)

// StorageStats are one node's storage figures, for the bench's resource
// samples: the backend's (and so the engine's) counters and sizes. OK is
// false while the node has no store (killed, or swapping in a snapshot).
type StorageStats struct {
	OK        bool
	Backend   backend.Stats
	Size      int64
	SizeInUse int64
}

// StorageStats returns the node's backend statistics.
func (n *Node) StorageStats() StorageStats {
	n.storeMu.RLock()
	defer n.storeMu.RUnlock()
	if n.store == nil {
		return StorageStats{}
	}
	b := n.store.Backend()
	return StorageStats{OK: true, Backend: b.Stats(), Size: b.Size(), SizeInUse: b.SizeInUse()}
}

// CommitBackend forces the node's pending backend batch into the engine, so
// that the disk cost of writes already acknowledged is paid now (the bench
// calls it after its measured phase).
func (n *Node) CommitBackend() error {
	n.storeMu.RLock()
	defer n.storeMu.RUnlock()
	if n.store == nil {
		return ErrStopped
	}
	return n.store.Commit()
}

// RestoreDuration is how long the node's MVCC store took to rebuild its
// index when it was opened (the part of a restart that grows with the key
// history); 0 while the node has no store.
func (n *Node) RestoreDuration() time.Duration {
	n.storeMu.RLock()
	defer n.storeMu.RUnlock()
	if n.store == nil {
		return 0
	}
	return n.store.RestoreDuration()
}
