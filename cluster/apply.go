package cluster

import (
	"errors"
	"fmt"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/cluster/wal"
	"etcdlab/engines/backend"
)

// applyLoop applies committed entries in log order on one goroutine, apart
// from the Ready loop (etcd's applyAll jobs on its FIFO scheduler: the queue
// is applyq), and builds outgoing snapshots between batches so that the image
// and its metadata describe the same applied state (etcd's applyAll checks
// msgSnapC after each batch).
func (n *Node) applyLoop() {
	defer n.loops.wg.Done()
	for {
		select {
		case <-n.loops.applyq.ready:
			for ap := n.loops.applyq.pop(); ap != nil; ap = n.loops.applyq.pop() {
				if !n.applyAll(ap) {
					return
				}
				select {
				case m := <-n.loops.msgSnapC:
					n.sendMergedSnapshot(m)
				default:
				}
			}
		case m := <-n.loops.msgSnapC:
			n.sendMergedSnapshot(m)
		case <-n.loops.stopc:
			return
		}
	}
}

func (n *Node) applyAll(ap *toApply) bool {
	defer close(ap.done)
	if n.opts.beforeApply != nil {
		n.opts.beforeApply()
	}
	if !raft.IsEmptySnap(ap.snapshot) {
		// The snapshot must be durable (its .snap and WAL marker) before the
		// backend is swapped.
		select {
		case <-ap.notifyc:
		case <-n.loops.stopc:
			return false
		}
		if err := n.installSnapshot(ap.snapshot); err != nil {
			n.fail(err)
			return false
		}
		ap.notifyc <- struct{}{} // re-arm for the wait below
	}
	for i := range ap.entries {
		e := &ap.entries[i]
		if e.Index <= n.ap.appliedIndex {
			continue
		}
		start := n.clk.Now()
		if err := n.applyEntry(e); err != nil {
			n.fail(err)
			return false
		}
		if d := n.clk.Since(start); d > n.opts.SlowApply {
			n.m.SlowApplies.Inc()
			n.emit(EventSlowApply, d, "apply request took too long: index=%d", e.Index)
		}
		n.ap.appliedIndex, n.ap.appliedTerm = e.Index, e.Term
	}
	n.prog.applied.Store(n.ap.appliedIndex)
	n.prog.applyWait.trigger(n.ap.appliedIndex)
	// Snapshots need the applied entries in the WAL and MemoryStorage.
	select {
	case <-ap.notifyc:
	case <-n.loops.stopc:
		return false
	}
	if err := n.snapshotIfNeededAndCompactRaftLog(); err != nil {
		n.fail(err)
		return false
	}
	return true
}

func (n *Node) applyEntry(e *raftpb.Entry) error {
	switch e.Type {
	case raftpb.EntryNormal:
		if len(e.Data) == 0 {
			// The empty entry a new leader commits: its first commit in the term.
			n.markConsistent(e)
			if e.Term == n.prog.term.Load() {
				n.notify.notifyFirstCommitInTerm()
			}
			// A leader that has applied every entry of earlier terms
			// becomes the primary lessor; every lease gets an election
			// timeout more, so a leader change does not expire leases in
			// bulk (etcd's applyEntryNormal).
			if n.IsLeader() {
				n.kv.lessor.Promote(n.electionTimeout())
			}
			return nil
		}
		var req pb.InternalRaftRequest
		if err := req.Unmarshal(e.Data); err != nil {
			return fmt.Errorf("%w at index %d: %v", ErrCorrupt, e.Index, err)
		}
		id := uint64(0)
		if req.Header != nil {
			id = req.Header.ID
		}
		n.kv.mu.RLock()
		ci, _ := n.kv.store.ConsistentIndex()
		if e.Index <= ci {
			// Replay after restart: already in the backend.
			n.kv.mu.RUnlock()
			return nil
		}
		n.kv.store.SetApplyingIndex(e.Index, e.Term)
		r := n.applyRequest(&req)
		if ci, _ := n.kv.store.ConsistentIndex(); ci < e.Index {
			// Nothing was written (an error, a compaction, an alarm): record
			// the index on its own.
			n.kv.store.SetConsistentIndex(e.Index, e.Term)
		}
		n.kv.mu.RUnlock()
		n.stats.applied.Add(1)
		if id != 0 {
			n.reqs.wait.trigger(id, r)
		}
		return nil
	case raftpb.EntryConfChange:
		var cc raftpb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			return fmt.Errorf("%w: conf change at index %d: %v", ErrCorrupt, e.Index, err)
		}
		return n.applyConfChange(e, cc)
	case raftpb.EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			return fmt.Errorf("%w: conf change v2 at index %d: %v", ErrCorrupt, e.Index, err)
		}
		cs := n.raft.applyConfChange(cc)
		n.ap.confState = *cs
		n.updateLearner()
		n.markConsistent(e)
		return nil
	}
	return nil
}

func (n *Node) markConsistent(e *raftpb.Entry) {
	n.kv.markConsistent(e.Index, e.Term)
}

// applyRequest applies one request to the store. It must be deterministic:
// every decision depends on the entry and on replicated state (alarms), except
// the quota check, which (as etcd's) applies the write anyway and only then
// reports NOSPACE and raises the alarm through raft.
func (n *Node) applyRequest(r *pb.InternalRaftRequest) result {
	switch {
	case r.Put != nil:
		if n.mb.alarmActive(pb.AlarmType_NOSPACE) {
			return result{err: ErrNoSpace}
		}
		ok := n.quotaAvailable(costPut(r.Put))
		resp, err := n.kv.store.Put(r.Put)
		if err == nil {
			n.countRequest(1, 0, 0, false)
		}
		if err == nil && !ok {
			n.raiseNoSpaceAsync()
			return result{resp: resp, err: ErrNoSpace}
		}
		return result{resp: resp, err: err}
	case r.DeleteRange != nil:
		resp, err := n.kv.store.DeleteRange(r.DeleteRange)
		if err == nil {
			n.countRequest(0, 1, 0, false)
		}
		return result{resp: resp, err: err}
	case r.Txn != nil:
		cost := costTxn(r.Txn)
		if cost > 0 && n.mb.alarmActive(pb.AlarmType_NOSPACE) {
			return result{err: ErrNoSpace}
		}
		ok := cost == 0 || n.quotaAvailable(cost)
		resp, err := n.kv.store.Txn(r.Txn)
		n.countTxn(r.Txn, resp)
		if err == nil && !ok {
			n.raiseNoSpaceAsync()
			return result{resp: resp, err: ErrNoSpace}
		}
		return result{resp: resp, err: err}
	case r.Compaction != nil:
		done, err := n.kv.store.Compact(r.Compaction.Revision)
		if err != nil {
			return result{err: err}
		}
		n.prog.compactDone.Store(&compactWait{rev: r.Compaction.Revision, done: done})
		// EventCompaction comes when the background part ends
		// (Node.compacted), so that it spans the whole compaction.
		// A physical compaction is waited for by the proposer, not here:
		// apply must not stall behind the background deletion.
		return result{resp: compactResult{resp: &pb.CompactionResponse{Header: &pb.ResponseHeader{Revision: n.kv.store.Rev()}}, done: done}}
	case r.Alarm != nil:
		resp, err := n.applyAlarm(r.Alarm)
		return result{resp: resp, err: err}
	case r.LeaseGrant != nil:
		return n.applyLeaseGrant(r.LeaseGrant)
	case r.LeaseRevoke != nil:
		return n.applyLeaseRevoke(r.LeaseRevoke)
	}
	return result{err: fmt.Errorf("%w: empty request", ErrCorrupt)}
}

// installSnapshot swaps in the backend image received with a snapshot, as
// etcd's applySnapshot: the store (mvcc.Store.Restore) closes the old
// backend, opens the image in its place, recovers the lessor over it before
// it rebuilds the index (so keys attach to the new leases), and moves its
// synced watchers to unsynced, so open watch streams catch up from the new
// backend instead of ending.
func (n *Node) installSnapshot(s raftpb.Snapshot) error {
	idx := s.Metadata.Index
	if idx <= n.ap.appliedIndex {
		return nil
	}
	start := n.clk.Now()
	n.m.ApplySnapshotInProgress.Inc()
	defer n.m.ApplySnapshotInProgress.Dec()
	path := n.raft.ss.DBFilePath(idx)
	n.kv.mu.Lock()
	if n.kv.store == nil {
		n.kv.mu.Unlock()
		return ErrStopped
	}
	err := n.kv.store.Restore(func(old *backend.Backend) (*backend.Backend, error) {
		if err := old.Close(); err != nil {
			return nil, fmt.Errorf("cluster: close backend before snapshot install: %w", err)
		}
		nb, err := imageBackend(n.opts, n.dirs.engine, path, n.backendConfig())
		if err != nil {
			return nil, err
		}
		if err := n.kv.lessor.Recover(nb); err != nil {
			_ = nb.Close()
			return nil, fmt.Errorf("cluster: recover the lessor from snapshot %d: %w", idx, err)
		}
		return nb, nil
	})
	n.kv.mu.Unlock()
	if err != nil {
		return err
	}
	if err := n.restoreMembers(s.Data); err != nil {
		return err
	}
	for _, m := range n.mb.peers(n.id) {
		n.raft.tr.AddPeer(m.ID, m.Addr)
	}
	n.loadAlarms()
	n.ap.appliedIndex, n.ap.appliedTerm = idx, s.Metadata.Term
	n.ap.snapIndex = idx
	n.ap.memSnapIndex = idx
	n.ap.confState = s.Metadata.ConfState
	n.updateLearner()
	n.stats.snapshotsInstalled.Add(1) // counted before the applied index shows it
	n.prog.applied.Store(idx)
	n.prog.applyWait.trigger(idx)
	n.purgeImages(idx)
	n.emit(EventSnapshotInstalled, n.clk.Since(start), "index=%d", idx)
	return nil
}

// snapshot takes a snapshot at the applied index: backend committed first,
// then the .snap file and its WAL marker, then the raft log is compacted to
// keep SnapshotCatchUpEntries, unless a snapshot is being sent.
func (n *Node) snapshot() error {
	start := n.clk.Now()
	idx := n.ap.appliedIndex
	// Commit the backend and make the engine durable up to idx before the
	// .snap, its WAL marker and the WAL release: a restart starts from the
	// snapshot, so the engine must hold it even where a commit alone is not
	// durable (pebble wal=disabled/unsynced, bbolt no-sync, memory).
	n.kv.mu.RLock()
	err := n.kv.store.Backend().Sync()
	n.kv.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("cluster: commit and sync backend before snapshot: %w", err)
	}
	cs := n.ap.confState
	s, err := n.raft.storage.CreateSnapshot(idx, &cs, n.mb.snapshotData())
	if err != nil {
		if errors.Is(err, raft.ErrSnapOutOfDate) {
			return nil
		}
		return fmt.Errorf("cluster: create snapshot: %w", err)
	}
	if err := n.raft.ss.SaveSnap(s); err != nil {
		return fmt.Errorf("cluster: save snapshot: %w", err)
	}
	if err := n.raft.w.SaveSnapshot(walSnapshot(s)); err != nil {
		return fmt.Errorf("cluster: wal snapshot marker: %w", err)
	}
	n.ap.snapIndex = idx
	n.stats.snapshots.Add(1)
	n.emit(EventSnapshotTaken, n.clk.Since(start), "index=%d", idx)
	if err := n.raft.w.ReleaseLockTo(idx); err != nil {
		return fmt.Errorf("cluster: release wal: %w", err)
	}
	compact, ok, err := n.compactRaftLog(idx)
	if err != nil || !ok {
		return err
	}
	n.emit(EventRaftLogCompacted, 0, "first-index=%d", compact)
	return nil
}

// sendMergedSnapshot replaces raft's MsgSnap with one whose metadata matches
// the backend image streamed with it (etcd's createMergedSnapshotMessage):
// the applied index, its term and the current configuration.
func (n *Node) sendMergedSnapshot(m raftpb.Message) {
	cs := n.ap.confState
	snapMeta := raftpb.Snapshot{
		Data: n.mb.snapshotData(),
		Metadata: raftpb.SnapshotMetadata{
			Index:     n.ap.appliedIndex,
			Term:      n.ap.appliedTerm,
			ConfState: cs,
		},
	}
	m.Snapshot = &snapMeta
	be := n.kv.backend()
	pr, pw := io.Pipe()
	n.loops.wg.Add(1)
	go func() {
		defer n.loops.wg.Done()
		start := n.clk.Now()
		_, err := be.Snapshot(pw)
		n.m.BackendSnapshot.Observe(n.clk.Since(start).Seconds())
		pw.CloseWithError(err)
	}()
	n.emit(EventSnapshotSent, 0, "to=%x index=%d started", m.To, snapMeta.Metadata.Index)
	n.raft.tr.SendSnapshot(m, pr)
}

func walSnapshot(s raftpb.Snapshot) wal.Snapshot {
	cs := s.Metadata.ConfState
	return wal.Snapshot{Index: s.Metadata.Index, Term: s.Metadata.Term, ConfState: &cs}
}

// purgeImages deletes received backend images older than the one installed
// at keep: the installed backend has superseded them.
func (n *Node) purgeImages(keep uint64) {
	names, err := n.fs.List(n.dirs.snap)
	if err != nil {
		return
	}
	for _, name := range names {
		var idx uint64
		if _, err := fmt.Sscanf(name, "%016x.snap.db", &idx); err != nil || idx >= keep {
			continue
		}
		if name != fmt.Sprintf("%016x.snap.db", idx) {
			continue
		}
		_ = n.fs.Remove(n.fs.PathJoin(n.dirs.snap, name))
	}
}
