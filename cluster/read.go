package cluster

import (
	"context"
	"encoding/binary"

	"go.etcd.io/raft/v3"
)

// LinearizableRead returns once this node has applied everything committed
// when it was called, as a linearizable read waits (ErrLearnerRead on a
// learner).
func (n *Node) LinearizableRead(ctx context.Context) error { return n.linearizableReadNotify(ctx) }

// linearizableReadNotify joins the next ReadIndex round and returns once the
// node has applied at least the read index of that round (etcd's
// linearizableReadNotify): every reader waiting at the moment a round starts
// shares it. A single voter takes the same path: raft answers its ReadIndex
// at once with its commit index (stepLeader, MsgReadIndex, IsSingleton), but
// the request still goes through the read loop and its batching, as in
// etcd 3.6.
func (n *Node) linearizableReadNotify(ctx context.Context) error {
	if n.prog.isLearner.Load() {
		return ErrLearnerRead
	}
	if n.opts.unsafeLocalLinearizableReads {
		return nil // test-only broken variant, see NodeOptions
	}
	n.stats.linearizableReads.Add(1)
	n.reads.mu.RLock() // inline: every linearizable read's path (see state.go)
	nc := n.reads.notifier
	n.reads.mu.RUnlock()
	select {
	case n.reads.waitc <- struct{}{}:
	default:
	}
	// No timer of its own, as etcd's linearizableReadNotify has none: the
	// round's ReadIndex request times out after RequestTimeout and fails
	// every reader of the round with ErrTimeout (requestReadIndex), and the
	// caller's context bounds the rest. A timer per read cost 0.77 µs of
	// CPU per 1-client get outside the engine on both engines (2026-12-05,
	// BenchmarkParity, 1,000,000 gets, with and without it alternating ×2).
	select {
	case <-nc.c:
		return nc.err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.loops.stopc:
		return ErrStopped
	}
}

// readLoop runs one ReadIndex round at a time for all waiting readers.
func (n *Node) readLoop() {
	defer n.loops.wg.Done()
	for {
		select {
		case <-n.reads.waitc:
		case <-n.loops.stopc:
			n.reads.stop(ErrStopped)
			return
		}
		// Readers arriving from now on wait for the next round.
		n.reads.mu.Lock()
		nr := n.reads.notifier
		n.reads.notifier = newNotifier()
		n.reads.mu.Unlock()

		index, err := n.requestReadIndex()
		if err != nil {
			n.m.ReadIndexesFailed.Inc()
			nr.notify(err)
			continue
		}
		n.stats.readIndexRounds.Add(1)
		if n.prog.applied.Load() < index {
			select {
			case <-n.prog.applyWait.wait(index):
			case <-n.loops.stopc:
				nr.notify(ErrStopped)
				return
			}
		}
		nr.notify(nil)
	}
}

// requestReadIndex asks raft for a read index, retrying every ReadRetry and
// when the leader's first commit in its term lands (a new leader queues
// reads until then), failing when the leader changes or after
// RequestTimeout.
func (n *Node) requestReadIndex() (uint64, error) {
	id := n.reqs.nextID()
	rctx := make([]byte, 8)
	binary.BigEndian.PutUint64(rctx, id)
	leaderChanged := n.notify.leaderChangedC()
	firstCommit := n.notify.firstCommitInTermC()
	if n.Leader() == 0 {
		return 0, ErrNoLeader
	}
	send := func() {
		n.stats.readIndexRequests.Add(1)
		n.raft.mu.Lock() // inline, as a proposal's (see state.go)
		n.raft.rn.ReadIndex(rctx)
		n.raft.mu.Unlock()
		n.signal()
	}
	send()
	timeout := n.clk.NewTimer(n.opts.RequestTimeout)
	defer timeout.Stop()
	retry := n.clk.NewTicker(n.opts.ReadRetry)
	defer retry.Stop()
	for {
		select {
		case rs := <-n.reads.stateC:
			if len(rs.RequestCtx) != 8 || binary.BigEndian.Uint64(rs.RequestCtx) != id {
				n.m.SlowReadIndexes.Inc() // etcd's "ignored out-of-date read index response"
				continue                  // a stale answer to an earlier round: keep waiting
			}
			if n.beforeFirstCommitInTerm(rs.Index) {
				continue // asked again at the first commit in the term
			}
			return rs.Index, nil
		case <-leaderChanged:
			return 0, ErrLeaderChanged
		case <-firstCommit:
			firstCommit = n.notify.firstCommitInTermC()
			send()
		case <-retry.C():
			send()
		case <-timeout.C():
			n.m.SlowReadIndexes.Inc() // etcd counts a timed-out read index as slow too
			return 0, ErrTimeout
		case <-n.loops.stopc:
			return 0, ErrStopped
		}
	}
}

// beforeFirstCommitInTerm reports whether index, a read index this node
// answered as leader, lies below the leader's first entry in its term. Raft
// holds a leader's ReadIndex until that entry is committed when the leader
// has peers, but answers a single voter at once with its commit index; right
// after a restart that index can be below entries committed and
// acknowledged before the restart (a HardState that only moves the commit
// index is written without fsync), and a read served at it would miss them.
// etcd never serves such a read: it answers clients only once the member
// has published itself through raft, after its first commit in the term.
// Here the read loop asks again at that first commit (or the next retry).
func (n *Node) beforeFirstCommitInTerm(index uint64) bool {
	st := n.raft.basicStatus()
	if st.RaftState != raft.StateLeader {
		return false // a follower's read index is the leader's, checked there
	}
	t, err := n.raft.storage.Term(index)
	return err != nil || t != st.Term
}
