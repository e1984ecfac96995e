package cluster

import (
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/cluster/wal"
)

// raftLoop ticks raft and handles its Readys in etcd's order (see doc.go).
func (n *Node) raftLoop() {
	defer n.loops.wg.Done()
	ticker := n.clk.NewTicker(n.opts.TickInterval)
	defer ticker.Stop()
	hb := newHeartbeatDetector(2 * time.Duration(n.opts.HeartbeatTicks) * n.opts.TickInterval)
	for {
		// Handle every pending Ready, first of all what the node starts
		// with (a bootstrap's conf changes, a restart's committed entries)
		// before the first tick.
		for {
			// raft.mu inline: every write's Ready goes through here (see
			// state.go).
			n.raft.mu.Lock()
			if !n.raft.rn.HasReady() {
				n.raft.mu.Unlock()
				break
			}
			rd := n.raft.rn.Ready()
			n.raft.mu.Unlock()
			if !n.handleReady(rd, hb) {
				return
			}
			n.raft.mu.Lock()
			n.raft.rn.Advance(rd)
			n.raft.mu.Unlock()
			n.flushConfAcks()
		}
		select {
		case <-ticker.C():
			n.raft.tick(1)
			n.stats.ticks.Add(1)
			n.prog.lastTick.Store(n.clk.Now().UnixNano())
		case <-n.loops.readyc:
		case <-n.loops.stopc:
			return
		}
	}
}

// handleReady persists, sends and hands off one Ready. It returns false when
// the node must stop (stopped, or a write failed).
func (n *Node) handleReady(rd raft.Ready, hb *heartbeatDetector) bool {
	// 1. Leader state.
	if !raft.IsEmptyHardState(rd.HardState) {
		n.prog.term.Store(rd.HardState.Term)
		if rd.HardState.Commit > n.prog.committed.Load() {
			n.prog.committed.Store(rd.HardState.Commit)
		}
	}
	if rd.SoftState != nil {
		n.updateLeader(rd.SoftState.Lead, rd.SoftState.RaftState)
		hb.reset()
	}
	// 2. ReadStates to the read loop.
	for _, rs := range rd.ReadStates {
		select {
		case n.reads.stateC <- rs:
		default: // the read loop retries; never block the Ready loop
		}
	}
	// 3. Committed entries (and a snapshot) to the apply goroutine.
	var ap *toApply
	if len(rd.CommittedEntries) > 0 || !raft.IsEmptySnap(rd.Snapshot) {
		ap = &toApply{entries: rd.CommittedEntries, snapshot: rd.Snapshot,
			notifyc: make(chan struct{}, 1), done: make(chan struct{})}
		n.loops.applyq.push(ap) // without waiting for the apply in progress, as etcd's run loop schedules it
	}
	isLeader := n.prog.lead.Load() == n.id
	// 4. The leader sends at once, in parallel with its own disk write: raft
	// counts the leader's own acknowledgement only at Advance.
	if isLeader {
		n.observeHeartbeats(hb, rd.Messages)
		n.send(rd.Messages)
	}
	// 5. Snapshot file, then its WAL marker.
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := n.raft.ss.SaveSnap(rd.Snapshot); err != nil {
			n.fail(fmt.Errorf("cluster: save snapshot: %w", err))
			return false
		}
		md := rd.Snapshot.Metadata
		if err := n.raft.w.SaveSnapshot(wal.Snapshot{Index: md.Index, Term: md.Term, ConfState: &md.ConfState}); err != nil {
			n.fail(fmt.Errorf("cluster: save wal snapshot marker: %w", err))
			return false
		}
	}
	// 6. Entries and hard state, fdatasync iff raft.MustSync.
	if err := n.raft.w.Save(rd.HardState, rd.Entries); err != nil {
		n.fail(fmt.Errorf("cluster: wal save: %w", err))
		return false
	}
	// 7. MemoryStorage after the WAL.
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := n.raft.storage.ApplySnapshot(rd.Snapshot); err != nil {
			n.fail(fmt.Errorf("cluster: raft storage apply snapshot: %w", err))
			return false
		}
	}
	if err := n.raft.storage.Append(rd.Entries); err != nil {
		n.fail(fmt.Errorf("cluster: raft storage append: %w", err))
		return false
	}
	if ap != nil {
		ap.notifyc <- struct{}{}
	}
	// 8. A committed conf change is applied before Advance (etcd's
	// waitApply), so raft's configuration and applied index move together
	// and its proposer is answered after Advance (flushConfAcks). Followers
	// send only now that entries and votes are durable and, with a conf
	// change, applied, so votes are counted under the new configuration.
	if ap != nil && hasConfChange(rd.CommittedEntries) {
		select {
		case <-ap.done:
		case <-n.loops.stopc:
			return false
		}
	}
	if !isLeader {
		n.send(rd.Messages) // a follower sends no heartbeats: nothing to observe
	}
	return true
}

// heartbeatDetector is etcd's heartbeat delay check (raftNode.td, a
// pkg/contention TimeoutDetector of 2 × the heartbeat interval, observed in
// raftNode.processMessages for every MsgHeartbeat sent and reset on every
// SoftState change): a heartbeat to a follower that leaves more than 2 ×
// the heartbeat interval after the previous one to the same follower means
// the leader's Ready loop was held up (ticks are not taken while it
// writes), "leader is overloaded likely from slow disk". Like etcd's, it
// fires once per late heartbeat and follower, with no other rate limit.
// Only the Ready loop uses it.
type heartbeatDetector struct {
	limit time.Duration
	last  map[uint64]time.Time
}

func newHeartbeatDetector(limit time.Duration) *heartbeatDetector {
	return &heartbeatDetector{limit: limit, last: make(map[uint64]time.Time)}
}

func (d *heartbeatDetector) reset() { clear(d.last) }

// observe records a heartbeat to id at now and returns the gap since the
// previous one and whether it exceeded the maximum.
func (d *heartbeatDetector) observe(id uint64, now time.Time) (time.Duration, bool) {
	prev, seen := d.last[id]
	d.last[id] = now
	if !seen {
		return 0, false
	}
	gap := now.Sub(prev)
	return gap, gap > d.limit
}

// observeHeartbeats emits EventHeartbeatLate for every heartbeat in msgs
// that leaves too late.
func (n *Node) observeHeartbeats(hb *heartbeatDetector, msgs []raftpb.Message) {
	for i := range msgs {
		if msgs[i].Type != raftpb.MsgHeartbeat {
			continue
		}
		n.noteHeartbeat(msgs[i].To)
		if gap, late := hb.observe(msgs[i].To, n.clk.Now()); late {
			n.m.HeartbeatSendFailures.Inc()
			n.emit(EventHeartbeatLate, gap,
				"leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk: to=%x heartbeat-interval=%v expected-duration=%v exceeded-duration=%v",
				msgs[i].To, hb.limit/2, hb.limit, gap-hb.limit)
		}
	}
}

// deferConfAck queues the answer to a conf-change proposer until the Ready
// loop's next Advance.
func (n *Node) deferConfAck(f func()) {
	n.reqs.confAcks.push(f)
}

// flushConfAcks answers the conf-change proposers whose changes raft now
// counts as applied.
func (n *Node) flushConfAcks() {
	q := &n.reqs.confAcks // its lock inline: the Ready loop calls this after every Advance
	q.mu.Lock()
	acks := q.fns
	q.fns = nil
	q.mu.Unlock()
	for _, f := range acks {
		f()
	}
}

func hasConfChange(ents []raftpb.Entry) bool {
	for i := range ents {
		if ents[i].Type == raftpb.EntryConfChange || ents[i].Type == raftpb.EntryConfChangeV2 {
			return true
		}
	}
	return false
}

// send hands messages to the transport; a MsgSnap goes to the apply
// goroutine, which replaces it with one that matches a fresh backend image.
func (n *Node) send(msgs []raftpb.Message) {
	if len(msgs) == 0 {
		return
	}
	out := msgs[:0:0]
	for _, m := range msgs {
		if m.Type == raftpb.MsgSnap {
			n.snaps.inflight.Add(1)
			select {
			case n.loops.msgSnapC <- m:
			case <-n.loops.stopc:
				return
			}
			continue
		}
		out = append(out, m)
	}
	if len(out) > 0 {
		n.raft.tr.Send(out)
	}
}

func (n *Node) updateLeader(lead uint64, state raft.StateType) {
	old := n.prog.lead.Swap(lead)
	if old == lead {
		return
	}
	if old == n.id {
		// Lost leadership: no lease expires here until this node leads
		// again (etcd's updateLeadership demotes the lessor). Promotion
		// waits for the new term's first commit (applyEntry).
		n.kv.lessor.Demote()
	}
	n.notify.notifyLeaderChanged()
	if lead != raft.None {
		// etcd counts a change to a known leader, not the loss of one.
		n.m.LeaderChanges.Inc()
	}
	if lead == n.id {
		n.emit(EventLeaderElected, 0, "term=%d", n.prog.term.Load())
	} else {
		n.emit(EventLeaderChanged, 0, "leader=%x (was %x)", lead, old)
	}
}
