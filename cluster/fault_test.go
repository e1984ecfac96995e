package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
)

// TestKillLeaderUnderLoad kills the leader while clients write distinct
// keys, restarts it, and checks that every acknowledged write is present
// exactly once (version 1: no entry applied twice), and that revisions and
// hashes agree on every node.
func TestKillLeaderUnderLoad(t *testing.T) {
	type tc struct {
		nodes  int
		engine string
	}
	cases := []tc{{3, "bbolt"}, {3, "pebble"}, {5, "bbolt"}}
	for _, k := range cases {
		engine := k.engine
		t.Run(fmt.Sprintf("nodes=%d/engine=%s", k.nodes, engine), func(t *testing.T) {
			if k.nodes == 5 && testing.Short() {
				t.Skip("5 nodes: long mode only")
			}
			node := fastNode(engine)
			node.SnapshotCount = 200
			node.SnapshotCatchUpEntries = 50
			c := startCluster(t, k.nodes, node, nil)
			leader := waitLeader(t, c)
			cl := c.Client(harness.ClientOptions{Policy: harness.PolicyRoundRobin})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			var mu sync.Mutex
			acked := map[string]bool{}
			var wg sync.WaitGroup
			const workers = 8
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; ctx.Err() == nil; i++ {
						k := fmt.Sprintf("w%d-%06d", w, i)
						if _, err := cl.Put(ctx, put(k, k)); err == nil {
							mu.Lock()
							acked[k] = true
							mu.Unlock()
						}
					}
				}(w)
			}
			count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
			waitFor(t, "300 acknowledged writes", 30*time.Second, func() bool { return count() >= 300 })
			if err := c.Kill(leader); err != nil {
				t.Fatal(err)
			}
			before := count()
			waitFor(t, "writes under a new leader", 30*time.Second, func() bool { return count() >= before+300 })
			if err := c.Restart(leader); err != nil {
				t.Fatal(err)
			}
			after := count()
			waitFor(t, "writes after the restart", 30*time.Second, func() bool { return count() >= after+200 })
			cancel()
			wg.Wait()

			checkConverged(t, c)
			rctx := ctxT(t)
			for _, n := range c.Nodes() {
				r, err := n.Range(rctx, &pb.RangeRequest{Key: []byte("w"), RangeEnd: []byte("x"), Serializable: true})
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]bool{}
				for _, kv := range r.Kvs {
					if kv.Version != 1 {
						t.Errorf("node %d: key %s has version %d: applied twice", n.ID(), kv.Key, kv.Version)
					}
					got[string(kv.Key)] = true
				}
				mu.Lock()
				for k := range acked {
					if !got[k] {
						t.Errorf("node %d: acknowledged write %s lost", n.ID(), k)
					}
				}
				mu.Unlock()
			}
			t.Logf("%d acknowledged writes", count())
		})
	}
}

// TestSnapshotCatchUp: a follower down for 10 × snapshot-count entries
// comes back, receives the leader's backend image, installs it and catches
// up; the leader's raft log was compacted meanwhile.
func TestSnapshotCatchUp(t *testing.T) {
	for _, engine := range []string{"bbolt", "pebble", "memory"} {
		t.Run("engine="+engine, func(t *testing.T) { testSnapshotCatchUp(t, engine) })
	}
}

func testSnapshotCatchUp(t *testing.T, engine string) {
	snapCount := uint64(100)
	if !testing.Short() && engine == "bbolt" {
		snapCount = cluster.DefaultSnapshotCount
	}
	node := fastNode(engine)
	node.SnapshotCount = snapCount
	node.SnapshotCatchUpEntries = snapCount / 2
	node.WALSegmentSize = 16 << 10 // cut segments, so old ones are released
	var evMu sync.Mutex
	events := map[cluster.EventKind]int{}
	c := startCluster(t, 3, node, func(o *harness.Options) {
		o.OnEvent = func(e cluster.Event) {
			evMu.Lock()
			events[e.Kind]++
			evMu.Unlock()
		}
	})
	leader := waitLeader(t, c)
	follower := aFollower(c, leader)
	if err := c.Stop(follower); err != nil {
		t.Fatal(err)
	}
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
	ctx := ctxT(t)
	total := int(10 * snapCount)
	runParallel(t, 16, 0, total, func(i int) error {
		_, err := cl.Put(ctx, put(key(i), "v"))
		return err
	})
	ln := c.Node(leader)
	if first := ln.FirstIndex(); first <= 1 {
		t.Fatalf("leader's raft log was not compacted: first index %d", first)
	}
	if err := c.Restart(follower); err != nil {
		t.Fatal(err)
	}
	fn := c.Node(follower)
	waitFor(t, "follower catch-up", 60*time.Second, func() bool {
		return fn.AppliedIndex() >= ln.CommittedIndex()
	})
	if fn.TestStats().SnapshotsInstalled.Load() == 0 {
		t.Fatalf("follower caught up without installing a snapshot")
	}
	checkConverged(t, c)
	// Crash the follower right after: its restart must find the snapshot
	// (and, if the backend lost it, the received image) and come back equal.
	if err := c.Kill(follower); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(follower); err != nil {
		t.Fatal(err)
	}
	fn = c.Node(follower)
	checkConverged(t, c)
	r, err := fn.Range(ctx, &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), Serializable: true, CountOnly: true})
	if err != nil || r.Count != int64(total) {
		t.Fatalf("follower count %v, %v; want %d", r, err, total)
	}
	evMu.Lock()
	defer evMu.Unlock()
	for _, k := range []cluster.EventKind{cluster.EventLeaderElected, cluster.EventSnapshotTaken, cluster.EventSnapshotSent, cluster.EventSnapshotReceived,
		cluster.EventSnapshotInstalled, cluster.EventWALCut, cluster.EventBackendCommit, cluster.EventRaftLogCompacted} {
		if events[k] == 0 {
			t.Errorf("no %s event", k)
		}
	}
}

// TestPartitionedLeaderReads: a leader cut off with a minority refuses a
// linearizable read (error or timeout), while a serializable read there
// returns the stale value; the majority elects a new leader and moves on.
func TestPartitionedLeaderReads(t *testing.T) {
	node := fastNode("bbolt")
	node.RequestTimeout = time.Second
	c := startCluster(t, 3, node, nil)
	old := waitLeader(t, c)
	ctx := ctxT(t)
	if _, err := c.Node(old).Put(ctx, put("x", "1")); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, c, c.Node(old).CommittedIndex())
	var others []uint64
	for _, n := range c.Nodes() {
		if n.ID() != old {
			others = append(others, n.ID())
		}
	}
	c.Partition([]uint64{old}, others)
	waitFor(t, "new leader in the majority", 20*time.Second, func() bool {
		n := c.Node(others[0])
		return n.Leader() != 0 && n.Leader() != old
	})
	nl := c.Node(c.Node(others[0]).Leader())
	if _, err := nl.Put(ctx, put("x", "2")); err != nil {
		t.Fatal(err)
	}
	_, err := c.Node(old).Range(ctx, &pb.RangeRequest{Key: []byte("x")})
	if err == nil {
		t.Fatalf("isolated old leader served a linearizable read")
	}
	if !errors.Is(err, cluster.ErrTimeout) && !errors.Is(err, cluster.ErrLeaderChanged) && !errors.Is(err, cluster.ErrNoLeader) {
		t.Fatalf("unexpected error %v", err)
	}
	r, err := c.Node(old).Range(ctx, &pb.RangeRequest{Key: []byte("x"), Serializable: true})
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "1" {
		t.Fatalf("serializable read on the old leader: %v %v, want stale value 1", r, err)
	}
	c.Heal()
	waitFor(t, "old leader to see value 2", 20*time.Second, func() bool {
		r, err := c.Node(old).Range(ctx, &pb.RangeRequest{Key: []byte("x")})
		return err == nil && len(r.Kvs) == 1 && string(r.Kvs[0].Value) == "2"
	})
	checkConverged(t, c)
}

// TestLossyLinks: with one-way delay, jitter (reordering) and 5% loss on
// every link, writes still commit and every node converges.
func TestLossyLinks(t *testing.T) {
	node := fastNode("memory")
	// A forwarded proposal that is lost waits for its timeout; keep it short.
	node.RequestTimeout = 300 * time.Millisecond
	c := startCluster(t, 3, node, func(o *harness.Options) {
		o.Link.Delay, o.Link.Jitter, o.Link.Loss = time.Millisecond, time.Millisecond, 0.05
	})
	waitLeader(t, c)
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyRoundRobin})
	ctx := ctxT(t)
	for i := 0; i < 60; i++ {
		if _, err := cl.Put(ctx, put(key(i), "v")); err != nil && !errors.Is(err, cluster.ErrTimeout) {
			t.Fatal(err)
		}
	}
	r, err := cl.Range(ctx, &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), CountOnly: true})
	if err != nil || r.Count == 0 {
		t.Fatalf("range: %v %v", r, err)
	}
	checkConverged(t, c)
}
