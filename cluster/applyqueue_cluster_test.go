package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
)

// TestReadyLoopDoesNotWaitForApply: with the applier held, the Ready loop
// goes on persisting and committing proposals, as etcd's raft loop does
// while its FIFO scheduler runs an applyAll. It failed when the Ready loop
// handed batches over an unbuffered channel the applier read: the loop
// stopped one batch ahead of the held apply, so the committed index stayed
// within two batches of the applied one.
func TestReadyLoopDoesNotWaitForApply(t *testing.T) {
	var (
		mu   sync.Mutex
		hold = make(chan struct{})
	)
	gate := func() {
		mu.Lock()
		h := hold
		mu.Unlock()
		<-h
	}
	release := func() {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-hold:
		default:
			close(hold)
		}
	}
	defer release()
	opts := fastNode("memory")
	c := startCluster(t, 1, opts, func(o *harness.Options) {
		cluster.SetBeforeApply(&o.Node, gate)
	})
	// The first Ready (the leader's empty entry) waits on the gate too:
	// let it through, then hold the applier.
	release()
	waitLeader(t, c)
	n := c.Nodes()[0]
	waitFor(t, "the election's entries applied", 10*time.Second, func() bool { return n.AppliedIndex() >= n.CommittedIndex() })
	mu.Lock()
	hold = make(chan struct{})
	mu.Unlock()

	applied := n.AppliedIndex()
	const puts = 40
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make(chan error, puts)
	for i := 0; i < puts; i++ {
		go func() {
			_, err := n.Put(ctx, &pb.PutRequest{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte("v")})
			errs <- err
		}()
		// One proposal at a time: each gets a Ready (and a batch) of its
		// own, so a loop that waits for the applier stops after two.
		target := applied + uint64(i) + 1
		deadline := time.Now().Add(10 * time.Second)
		for n.CommittedIndex() < target {
			if time.Now().After(deadline) {
				t.Fatalf("with the applier held at index %d, the committed index stopped at %d after %d proposals: the Ready loop waits for the apply", applied, n.CommittedIndex(), i+1)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if got := n.AppliedIndex(); got != applied {
		t.Fatalf("applied index moved from %d to %d while the applier was held", applied, got)
	}
	release()
	for i := 0; i < puts; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("put after the applier was released: %v", err)
		}
	}
}
