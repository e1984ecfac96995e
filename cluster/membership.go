package cluster

import (
	"context"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"
)

// Member describes one cluster member.
type Member struct {
	ID      uint64
	Addr    string
	Learner bool
}

// MemberResponse answers a membership change once raft has applied it.
type MemberResponse struct {
	Members []Member
}

func (n *Node) applyConfChange(e *raftpb.Entry, cc raftpb.ConfChange) error {
	reqID, addr := decodeConfContext(cc.Context)
	removed := n.mb.isRemoved(cc.NodeID)
	if removed && cc.Type != raftpb.ConfChangeRemoveNode {
		// IDs are never reused (etcd); turn the change into a no-op for raft
		// too, so every node's configuration stays the same.
		cc.NodeID = 0
	}
	cs := n.raft.applyConfChange(cc)
	n.ap.confState = *cs
	n.updateLearner()
	if cc.NodeID != 0 {
		n.mb.applyConfChange(cc.Type, cc.NodeID, addr)
		if cc.NodeID != n.id {
			if cc.Type == raftpb.ConfChangeRemoveNode {
				n.raft.tr.RemovePeer(cc.NodeID)
			} else {
				n.raft.tr.AddPeer(cc.NodeID, addr)
			}
		}
		n.emit(EventMemberChange, 0, "%s %x at index %d", cc.Type, cc.NodeID, e.Index)
		if cc.NodeID == n.id && cc.Type == raftpb.ConfChangeRemoveNode {
			n.stopAfterRemoval()
		}
	}
	n.markConsistent(e)
	if reqID != 0 {
		var err error
		if removed {
			err = ErrIDRemoved
		}
		res := result{resp: &MemberResponse{Members: n.Members()}, err: err}
		n.deferConfAck(func() { n.reqs.wait.trigger(reqID, res) })
	}
	return nil
}

func (n *Node) updateLearner() {
	learner := false
	for _, id := range n.ap.confState.Learners {
		if id == n.id {
			learner = true
		}
	}
	n.prog.isLearner.Store(learner)
}

// Members lists the members this node knows, by ID.
func (n *Node) Members() []Member {
	return n.mb.list()
}

// AddMember adds a voter or a learner. It must be called on the leader and
// returns once raft has applied the change.
func (n *Node) AddMember(ctx context.Context, id uint64, addr string, learner bool) (*MemberResponse, error) {
	_, exists, removed := n.mb.lookup(id)
	switch {
	case id == 0:
		return nil, fmt.Errorf("%w: member ID 0", ErrBadOption)
	case removed:
		return nil, ErrIDRemoved
	case exists:
		return nil, ErrMemberExists
	}
	t := raftpb.ConfChangeAddNode
	if learner {
		t = raftpb.ConfChangeAddLearnerNode
	}
	return n.proposeConfChange(ctx, raftpb.ConfChange{Type: t, NodeID: id}, addr)
}

// PromoteMember turns a learner into a voter once it has caught up: its
// match index is at least 90% of the leader's (etcd's isLearnerReady).
func (n *Node) PromoteMember(ctx context.Context, id uint64) (*MemberResponse, error) {
	m, ok, _ := n.mb.lookup(id)
	if !ok {
		return nil, ErrMemberNotFound
	}
	if !m.Learner {
		return nil, ErrMemberNotLearner
	}
	if !n.IsLeader() {
		return nil, ErrNotLeader
	}
	st := n.RaftStatus()
	lp, lok := st.Progress[n.id]
	pr, ok := st.Progress[id]
	if !lok || !ok || float64(pr.Match) < 0.9*float64(lp.Match) {
		return nil, ErrLearnerNotReady
	}
	return n.proposeConfChange(ctx, raftpb.ConfChange{Type: raftpb.ConfChangeAddNode, NodeID: id}, m.Addr)
}

// RemoveMember removes a member.
func (n *Node) RemoveMember(ctx context.Context, id uint64) (*MemberResponse, error) {
	if _, ok, _ := n.mb.lookup(id); !ok {
		return nil, ErrMemberNotFound
	}
	return n.proposeConfChange(ctx, raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode, NodeID: id}, "")
}

func (n *Node) proposeConfChange(ctx context.Context, cc raftpb.ConfChange, addr string) (*MemberResponse, error) {
	if !n.IsLeader() {
		if n.Leader() == 0 {
			return nil, ErrNoLeader
		}
		return nil, ErrNotLeader
	}
	// One pending change at a time: raft would silently turn a second one
	// into an empty entry, leaving its proposer to time out.
	if !n.mb.confBusy.CompareAndSwap(false, true) {
		return nil, ErrPendingConfChange
	}
	defer n.mb.confBusy.Store(false)
	id := n.reqs.nextID()
	cc.ID = id
	cc.Context = encodeConfContext(id, addr)
	ch := n.reqs.wait.register(id)
	err := n.raft.proposeConfChange(cc)
	if err != nil {
		n.reqs.wait.cancel(id)
		return nil, mapProposeErr(n, err)
	}
	n.signal()
	r, err := n.waitResult(ctx, id, ch)
	if err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.resp.(*MemberResponse), nil
}

// stopAfterRemoval stops a node that applied its own removal, after 10
// ticks so that the commit of the change can still reach the others (etcd's
// stopWithDelay).
func (n *Node) stopAfterRemoval() {
	n.loops.wg.Add(1)
	go func() {
		defer n.loops.wg.Done()
		t := n.clk.NewTimer(10 * n.opts.TickInterval)
		defer t.Stop()
		select {
		case <-t.C():
			n.fail(ErrRemoved)
		case <-n.loops.stopc:
		}
	}()
}
