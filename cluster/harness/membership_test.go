package harness_test

import (
	"errors"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
)

// TestMembership: add a learner, let it catch up and promote it; remove a
// node; remove-then-add (a new ID); IDs are never reused; one change at a
// time; each answered after raft applied it.
func TestMembership(t *testing.T) {
	node := fastNode("bbolt")
	node.SnapshotCount = 50
	node.SnapshotCatchUpEntries = 10
	c := startCluster(t, 3, node, nil)
	waitLeader(t, c)
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
	ctx := ctxT(t)
	for i := 0; i < 120; i++ {
		if _, err := cl.Put(ctx, put(key(i), "v")); err != nil {
			t.Fatal(err)
		}
	}

	// Add a learner: it receives the log (by snapshot: the log was compacted).
	id, addr, err := c.NewMemberID()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cl.MemberAdd(ctx, id, addr, true)
	if err != nil {
		t.Fatal(err)
	}
	if !hasMember(resp.Members, id, true) {
		t.Fatalf("member list after add: %+v", resp.Members)
	}
	// Answered after raft applied it: the leader's configuration has it.
	if st := c.Node(c.Leader()).RaftStatus(); st.Progress[id].IsLearner != true {
		t.Fatalf("leader's raft config lacks learner %d: %+v", id, st.Config)
	}
	if err := c.StartMember(id); err != nil {
		t.Fatal(err)
	}
	learner := c.Node(id)
	waitFor(t, "learner catch-up", 30*time.Second, func() bool {
		return learner.AppliedIndex() >= c.Node(c.Leader()).CommittedIndex()
	})
	if _, err := learner.Range(ctx, rangeAll()); !errors.Is(err, cluster.ErrLearnerRead) {
		t.Fatalf("linearizable read on a learner: %v", err)
	}
	if _, err := learner.Put(ctx, put("x", "y")); !errors.Is(err, cluster.ErrLearnerRead) {
		t.Fatalf("put on a learner: %v", err)
	}
	if r, err := learner.Range(ctx, &pb.RangeRequest{Key: []byte(key(0)), Serializable: true}); err != nil || len(r.Kvs) != 1 {
		t.Fatalf("serializable read on a learner: %v %v", r, err)
	}
	if _, err := cl.MemberPromote(ctx, id); err != nil {
		t.Fatalf("promote: %v", err)
	}
	waitFor(t, "promoted member is a voter", 10*time.Second, func() bool { return !learner.IsLearner() })
	if _, err := cl.MemberPromote(ctx, id); !errors.Is(err, cluster.ErrMemberNotLearner) {
		t.Fatalf("promoting a voter: %v", err)
	}
	if _, err := cl.Put(ctx, put("after-promote", "v")); err != nil {
		t.Fatal(err)
	}
	checkConverged(t, c)

	// Remove a follower, then add a new member in its place.
	var victim uint64
	for _, n := range c.Nodes() {
		if !n.IsLeader() && n.ID() != id {
			victim = n.ID()
			break
		}
	}
	resp, err = cl.MemberRemove(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	if hasMember(resp.Members, victim, false) {
		t.Fatalf("removed member still listed: %+v", resp.Members)
	}
	vn := c.Node(victim)
	waitFor(t, "removed member to stop itself", 10*time.Second, func() bool { return errors.Is(vn.Err(), cluster.ErrRemoved) })
	if err := c.Stop(victim); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.MemberAdd(ctx, victim, "", false); !errors.Is(err, cluster.ErrIDRemoved) {
		t.Fatalf("re-adding a removed ID: %v", err)
	}
	id2, addr2, err := c.NewMemberID()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.MemberAdd(ctx, id2, addr2, false); err != nil {
		t.Fatal(err)
	}
	if err := c.StartMember(id2); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(ctx, put("after-replace", "v")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "new member catch-up", 30*time.Second, func() bool {
		return c.Node(id2).AppliedIndex() >= c.Node(c.Leader()).CommittedIndex()
	})
	checkConverged(t, c)
	if got := len(c.Node(c.Leader()).Members()); got != 4 {
		t.Fatalf("%d members, want 4", got)
	}
}

func hasMember(ms []cluster.Member, id uint64, learner bool) bool {
	for _, m := range ms {
		if m.ID == id && m.Learner == learner {
			return true
		}
	}
	return false
}

// TestBackToBackConfChanges proposes each conf change the moment the
// previous one is answered. raft refuses a conf change while its own applied
// index is below the pending one's and silently turns it into an empty
// entry, so answering a proposer before the Ready loop's Advance made the
// next change time out (etcd avoids this by applying conf changes before
// Advance; so does the node). Every change here must succeed at once.
func TestBackToBackConfChanges(t *testing.T) {
	node := fastNode("memory")
	node.RequestTimeout = 3 * time.Second
	c := startCluster(t, 1, node, nil)
	waitLeader(t, c)
	n := c.Node(c.Leader())
	ctx := ctxT(t)
	for i := 0; i < 200; i++ {
		id, addr, err := c.NewMemberID()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.AddMember(ctx, id, addr, true); err != nil {
			t.Fatalf("round %d: add learner: %v", i, err)
		}
		// Answered means raft itself counts the change as applied.
		if st := n.RaftStatus(); st.Applied < st.Commit {
			t.Fatalf("round %d: conf change answered while raft has applied %d of %d committed", i, st.Applied, st.Commit)
		}
		if _, err := n.RemoveMember(ctx, id); err != nil {
			t.Fatalf("round %d: remove right after add: %v", i, err)
		}
	}
}
