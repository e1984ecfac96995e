package server

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/engines/backend"
)

// The helpers below are cluster's own test helpers (cluster/helpers_test.go),
// the few the server's tests need.

// fastNode is a node template for tests: a 10ms tick keeps elections quick
// on a loaded machine (election after 10-20 ticks).
func fastNode(engine string) cluster.NodeOptions {
	return cluster.NodeOptions{
		Engine:         engine,
		TickInterval:   10 * time.Millisecond,
		RequestTimeout: 5 * time.Second,
		ReadRetry:      50 * time.Millisecond,
		Backend:        backend.Config{BatchInterval: 10 * time.Millisecond},
	}
}

// startCluster starts an in-process cluster, closed at cleanup with a
// goroutine leak check.
func startCluster(t testing.TB, nodes int, node cluster.NodeOptions) *cluster.Cluster {
	t.Helper()
	base := runtime.NumGoroutine()
	var seed uint64
	for _, c := range t.Name() {
		seed = seed*31 + uint64(c)
	}
	c, err := cluster.Start(cluster.Options{Nodes: nodes, Dir: t.TempDir(), Node: node, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		checkGoroutines(t, base)
	})
	return c
}

// checkGoroutines waits (bounded) for the goroutine count to return near
// base after a cluster closed.
func checkGoroutines(t testing.TB, base int) {
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

// waitLeader waits until the cluster has a leader known to every running
// node, and returns it.
func waitLeader(t testing.TB, c *cluster.Cluster) uint64 {
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

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(5 * time.Millisecond)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func put(k, v string) *pb.PutRequest { return &pb.PutRequest{Key: []byte(k), Value: []byte(v)} }

func key(i int) string { return fmt.Sprintf("k%06d", i) }
