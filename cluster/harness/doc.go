// Package harness runs an etcdlab cluster in one process, for tests,
// experiments and the bench's cluster layer: Start opens N nodes (package
// cluster) over the in-process network (cluster/transport: per-link delay,
// jitter, loss and partitions, by seed) or TCP on 127.0.0.1, each in
// Dir/node-<id>, with hooks to wrap a node's transport, file system or engine
// (fault injection). Kill crashes a node (pending backend writes lost),
// Stop stops it cleanly, Restart reopens it from its data dir, Partition and
// Heal cut and mend links, StartMember starts a member added through
// MemberAdd.
//
// Client balances requests over the nodes (leader, round-robin, random) and
// retries on a leader change; a write is retried only when it was surely not
// proposed, a read on any unavailability. It offers etcd's KV and Lease
// requests with the signatures of their consumers (v3rpc.KV, v3rpc.Lessor,
// bench.KV), checked at compile time.
//
// The package uses only cluster's exported API. Most of cluster's
// whole-cluster tests live here (package harness_test); those that look
// inside a node stay in cluster's directory as package cluster_test, with
// the hooks of cluster/export_test.go. The helpers they share are in
// internal/clustertest.
package harness
