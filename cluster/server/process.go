package server

import (
	"context"
	"fmt"
	"net"

	"etcdlab/cluster"
	"etcdlab/cluster/transport"
)

// NodeConfig runs one node as its own process over TCP.
type NodeConfig struct {
	// Node options; Peers must list every initial member with its address.
	Node cluster.NodeOptions
	// ListenAddr is the address this node's transport binds.
	ListenAddr string
}

// RunNode starts a node over TCP, calls ready (if set) once it runs, and
// serves until ctx is done; then it stops the node cleanly. A CLI binds flags
// to NodeConfig and calls this.
func RunNode(ctx context.Context, cfg NodeConfig, ready func(*cluster.Node)) error {
	peers := make(map[uint64]string)
	for _, p := range cfg.Node.Peers {
		if p.ID != cfg.Node.ID {
			peers[p.ID] = p.Addr
		}
	}
	n, err := cluster.StartNode(cfg.Node, func(h transport.Handler) (transport.Transport, error) {
		return transport.NewTCP(transport.TCPOptions{ID: cfg.Node.ID, ListenAddr: cfg.ListenAddr, Handler: h, Peers: peers, Clock: cfg.Node.Clock})
	})
	if err != nil {
		return err
	}
	if ready != nil {
		ready(n)
	}
	select {
	case <-ctx.Done():
	case <-n.Done():
	}
	stopErr := n.Stop()
	if err := n.Err(); err != nil {
		return err
	}
	return stopErr
}

// reservePort finds a free 127.0.0.1 port for a node to bind.
func reservePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cluster: reserve port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}
