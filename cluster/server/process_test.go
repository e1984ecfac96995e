package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"etcdlab/cluster"
)

// TestRunNode runs one node through RunNode (the process entry point) over
// TCP on 127.0.0.1.
func TestRunNode(t *testing.T) {
	ctx := ctxT(t)
	addr, err := reservePort()
	if err != nil {
		t.Fatal(err)
	}
	o := fastNode("memory")
	o.ID, o.Dir, o.Peers = 1, t.TempDir(), []cluster.Peer{{ID: 1, Addr: addr}}
	rctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *cluster.Node, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunNode(rctx, NodeConfig{Node: o, ListenAddr: addr}, func(n *cluster.Node) { ready <- n })
	}()
	var n *cluster.Node
	select {
	case n = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	waitFor(t, "single node leader", 10*time.Second, n.IsLeader)
	if _, err := n.Put(ctx, put("p", fmt.Sprint(1))); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
