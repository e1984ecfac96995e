package cluster

import (
	"context"
	"fmt"
	"sort"

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
	n.amu.RLock()
	removed := n.removed[cc.NodeID]
	n.amu.RUnlock()
	if removed && cc.Type != raftpb.ConfChangeRemoveNode {
		// IDs are never reused (etcd); turn the change into a no-op for raft
		// too, so every node's configuration stays the same.
		cc.NodeID = 0
	}
	n.mu.Lock()
	cs := n.rn.ApplyConfChange(cc)
	n.mu.Unlock()
	n.ap.confState = *cs
	n.updateLearner()
	if cc.NodeID != 0 {
		n.amu.Lock()
		switch cc.Type {
		case raftpb.ConfChangeAddNode:
			m := n.members[cc.NodeID]
			m.ID = cc.NodeID
			if addr != "" {
				m.Addr = addr
			}
			m.Learner = false
			n.members[cc.NodeID] = m
		case raftpb.ConfChangeAddLearnerNode:
			n.members[cc.NodeID] = member{ID: cc.NodeID, Addr: addr, Learner: true}
		case raftpb.ConfChangeRemoveNode:
			delete(n.members, cc.NodeID)
			n.removed[cc.NodeID] = true
		}
		n.amu.Unlock()
		if cc.NodeID != n.id {
			if cc.Type == raftpb.ConfChangeRemoveNode {
				n.tr.RemovePeer(cc.NodeID)
			} else {
				n.tr.AddPeer(cc.NodeID, addr)
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
		n.deferConfAck(func() { n.wait.trigger(reqID, res) })
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
	n.isLearner.Store(learner)
}

// Members lists the members this node knows, by ID.
func (n *Node) Members() []Member {
	n.amu.RLock()
	defer n.amu.RUnlock()
	out := make([]Member, 0, len(n.members))
	for _, m := range n.members {
		out = append(out, Member(m))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AddMember adds a voter or a learner. It must be called on the leader and
// returns once raft has applied the change.
func (n *Node) AddMember(ctx context.Context, id uint64, addr string, learner bool) (*MemberResponse, error) {
	n.amu.RLock()
	_, exists := n.members[id]
	removed := n.removed[id]
	n.amu.RUnlock()
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
	n.amu.RLock()
	m, ok := n.members[id]
	n.amu.RUnlock()
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
	n.amu.RLock()
	_, ok := n.members[id]
	n.amu.RUnlock()
	if !ok {
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
	if !n.confBusy.CompareAndSwap(false, true) {
		return nil, ErrPendingConfChange
	}
	defer n.confBusy.Store(false)
	id := n.nextID()
	cc.ID = id
	cc.Context = encodeConfContext(id, addr)
	ch := n.wait.register(id)
	n.mu.Lock()
	err := n.rn.ProposeConfChange(cc)
	n.mu.Unlock()
	if err != nil {
		n.wait.cancel(id)
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
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		t := n.clk.NewTimer(10 * n.opts.TickInterval)
		defer t.Stop()
		select {
		case <-t.C():
			n.fail(ErrRemoved)
		case <-n.stopc:
		}
	}()
}
