// Package server runs one etcdlab node as etcd runs one member: from etcd's
// flags, with raft over TCP and etcd's v3 gRPC API, so that etcd's clients,
// etcdctl and etcd's benchmark tool talk to it unchanged (`etcdlab node`).
//
// Serve runs one member from a Config holding etcd's flags: raft over TCP on
// the peer URL (package cluster's StartNode with a TCP transport) and etcd's
// v3 gRPC API (package cluster/v3rpc) on the client URLs, through
// V3Backend; each client URL also serves /metrics, /health and, with
// EnablePprof, /debug/pprof/ over HTTP/1 on the same port, as etcd does.
// It returns when its context ends or the node stops (for instance after
// its removal), after stopping the gRPC server gracefully and the node
// cleanly. RunNode runs a node over TCP with no API, for a process per node.
//
// Member IDs are etcd's (SHA-1 of the member's peer URLs and the cluster
// token), so every process derives the same IDs from --initial-cluster, and
// MemberAdd gives a new member the ID its own flags will give it (join with
// --initial-cluster-state existing). URLs are http://host:port only (no
// TLS). MemberList reports names from --initial-cluster and client URLs of
// the answering member only (etcd replicates the others' published
// attributes; etcdlab does not).
//
// The package uses only cluster's exported API: a Node and its options.
// Errors keep their "cluster:" prefix, as the CLI printed them before the
// package was split out of cluster.
package server
