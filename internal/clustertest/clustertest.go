// Package clustertest holds the test helpers shared by the tests of
// cluster, cluster/harness and cluster/server: seeds, a fast node template,
// a harness cluster closed at cleanup with a goroutine leak check, and
// waits for a leader, an index or convergence. Test code only: importing it
// registers the -seed flag, as internal/testseed does, so one test binary
// takes one of the two.
package clustertest

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
	"etcdlab/engines/backend"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized cluster tests (0: derived from the test name)")

// Seed returns the seed for t, logging it so a failure can be replayed
// with -seed.
func Seed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		for _, c := range t.Name() {
			s = s*31 + uint64(c)
		}
	}
	t.Logf("seed %d (replay with -seed=%d)", s, s)
	return s
}

// FastNode is a node template for tests: a 10ms tick keeps elections quick
// on a loaded machine (election after 10-20 ticks).
func FastNode(engine string) cluster.NodeOptions {
	return cluster.NodeOptions{
		Engine:         engine,
		TickInterval:   10 * time.Millisecond,
		RequestTimeout: 5 * time.Second,
		ReadRetry:      50 * time.Millisecond,
		Backend:        backend.Config{BatchInterval: 10 * time.Millisecond},
	}
}

func Start(t testing.TB, nodes int, node cluster.NodeOptions, mod func(*harness.Options)) *harness.Cluster {
	t.Helper()
	base := runtime.NumGoroutine()
	o := harness.Options{Nodes: nodes, Dir: t.TempDir(), Node: node, Seed: Seed(t)}
	if mod != nil {
		mod(&o)
	}
	c, err := harness.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		CheckGoroutines(t, base)
	})
	return c
}

// CheckGoroutines waits (bounded) for the goroutine count to return near
// base after a cluster closed.
func CheckGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines: %d after close, %d before\n%s", n, base, buf)
			return
		}
		runtime.Gosched()
		<-time.After(20 * time.Millisecond)
	}
}

// WaitLeader waits until the cluster has a leader known to every running
// node, and returns it.
func WaitLeader(t testing.TB, c *harness.Cluster) uint64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if l := c.Leader(); l != 0 {
			agree := true
			for _, n := range c.Nodes() {
				if n.Leader() != l {
					agree = false
				}
			}
			if agree {
				return l
			}
		}
		<-time.After(5 * time.Millisecond)
	}
	t.Fatalf("no leader within 20s")
	return 0
}

// WaitFor polls cond until it holds or the timeout passes.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(5 * time.Millisecond)
	}
}

func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func Put(k, v string) *pb.PutRequest { return &pb.PutRequest{Key: []byte(k), Value: []byte(v)} }

func Key(i int) string { return fmt.Sprintf("k%06d", i) }

// WaitApplied waits until every running node has applied index.
func WaitApplied(t testing.TB, c *harness.Cluster, index uint64) {
	t.Helper()
	WaitFor(t, fmt.Sprintf("every node to apply %d", index), 30*time.Second, func() bool {
		for _, n := range c.Nodes() {
			if n.AppliedIndex() < index {
				return false
			}
		}
		return true
	})
}

// CheckConverged requires equal revisions and hashes on every running node
// once the cluster is quiet (proposals cancelled by their clients may still
// commit after the test stopped writing, so it retries until a deadline).
func CheckConverged(t testing.TB, c *harness.Cluster) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		last = Converged(c)
		if last == "" {
			return
		}
		<-time.After(20 * time.Millisecond)
	}
	t.Fatalf("nodes did not converge: %s", last)
}

// Converged returns "" when every running node applied the leader's commit
// index and has the same revision and hash, else what differs.
func Converged(c *harness.Cluster) string {
	lid := c.Leader()
	if lid == 0 {
		return "no leader"
	}
	commit := c.Node(lid).CommittedIndex()
	var rev int64 = -1
	var hash uint32
	for _, n := range c.Nodes() {
		if n.AppliedIndex() < commit {
			return fmt.Sprintf("node %d applied %d < leader commit %d", n.ID(), n.AppliedIndex(), commit)
		}
		h, r, err := n.Hash(0)
		if err != nil {
			return fmt.Sprintf("node %d hash: %v", n.ID(), err)
		}
		if rev == -1 {
			rev, hash = r, h.Hash
			continue
		}
		if r != rev || h.Hash != hash {
			return fmt.Sprintf("node %d: rev %d hash %x, others rev %d hash %x", n.ID(), r, h.Hash, rev, hash)
		}
	}
	return ""
}

func RangeAll() *pb.RangeRequest { return &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}} }

// RunParallel calls op(i) for i in [base, base+n) from workers goroutines
// (worker w takes base+w, base+w+workers, ...) and fails the test with the
// first error; each worker stops at its first error.
func RunParallel(t testing.TB, workers, base, n int, op func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := base + w; i < base+n; i += workers {
				if err := op(i); err != nil {
					errc <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// AFollower returns the ID of a running node other than leader (0: none).
func AFollower(c *harness.Cluster, leader uint64) uint64 {
	for _, n := range c.Nodes() {
		if n.ID() != leader {
			return n.ID()
		}
	}
	return 0
}
