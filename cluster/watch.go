package cluster

import (
	"etcdlab/lease"
	"etcdlab/mvcc"
)

// NewWatchStream opens a watch stream on this member's local store, as
// etcd serves watches: from any member, not linearizable. The stream
// survives a snapshot install (the store restores in place, its watchers
// catching up from the new backend); close it before the node stops.
func (n *Node) NewWatchStream() (*mvcc.WatchStream, error) {
	return n.NewWatchStreamFunc(nil)
}

// NewWatchStreamFunc is NewWatchStream with the responses handed to deliver
// on the stream's goroutine instead of Chan (mvcc.Store.NewWatchStreamFunc).
func (n *Node) NewWatchStreamFunc(deliver func(mvcc.WatchResponse) bool) (*mvcc.WatchStream, error) {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return nil, ErrStopped
	}
	return n.kv.store.NewWatchStreamFunc(deliver), nil
}

// WatchStats is the catch-up work of this member's watchers so far
// (mvcc.Store.WatchStats; the store keeps it across a snapshot install).
func (n *Node) WatchStats() mvcc.WatchStats {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return mvcc.WatchStats{}
	}
	return n.kv.store.WatchStats()
}

// LeaseRevokeStats are the lease revokes this member applied so far
// (lease.Lessor.RevokeStats).
func (n *Node) LeaseRevokeStats() lease.RevokeStats {
	if n.kv.lessor == nil {
		return lease.RevokeStats{}
	}
	return n.kv.lessor.RevokeStats()
}
