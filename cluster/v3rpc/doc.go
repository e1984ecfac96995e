// Package v3rpc serves etcd's v3 gRPC API (go.etcd.io/etcd/api/v3
// etcdserverpb) from an etcdlab node, so that etcd's own client
// (go.etcd.io/etcd/client/v3) and etcdctl talk to etcdlab as they talk to
// etcd. It is the counterpart of etcd's server/etcdserver/api/v3rpc.
//
// The package owns only the API layer; the node behind it is reached through
// small consumer-side interfaces (KV, Maintenance, Cluster, Watchable,
// Lessor, Headers, all gathered in Backend) that the raft node implements:
//
//   - KV, Maintenance and Cluster carry the requests to the node, which
//     routes writes through raft and serves serializable and linearizable
//     reads as etcd does. The API layer never touches the store itself.
//   - Watchable opens an mvcc.WatchStream on the member's local store; the
//     Watch service (watch.go) is etcd's serverWatchStream over it: create
//     (prev_kv, NOPUT/NODELETE, range_end conventions, a negative start
//     revision answered as compacted), cancel, progress requests, created
//     responses sent before the watcher's events, compaction notices, and
//     fragmentation below MaxRequestBytes + GRPCOverheadBytes for watchers
//     that ask for it. Errors carry etcd's texts as CancelReason.
//   - Lessor carries lease requests (lease.go, etcd's LeaseServer): grant
//     and revoke through raft, keepalive streams (TTL 0 for a lease that
//     does not exist), time-to-live (TTL -1 for one that does not exist),
//     leases.
//   - Headers gives what etcd puts in every ResponseHeader: cluster ID, member
//     ID, raft term, and the current revision when the response carries none.
//
// Contract, as etcd's v3rpc:
//
//   - Requests are checked before they reach the node (etcd's key.go): empty
//     keys, ignore_value with a value, ignore_lease with a lease, at most
//     MaxTxnOps compares and ops per txn branch (a nested txn gets what its
//     parent left, as etcd's budget), no key written twice in a txn, the
//     request size limit; a rejected request changes nothing.
//   - The gRPC server accepts messages up to MaxRequestBytes plus etcd's
//     512 KiB gRPC overhead (MaxRecvMsgSize); a request between the two
//     limits gets etcd's "request is too large", a bigger one gRPC's own
//     ResourceExhausted, as with etcd.
//   - Every error a node returns goes through ToGRPCError, which maps it to
//     etcd's own gRPC error (rpctypes) so that clients react as they do with
//     etcd (retry on no leader, stop on compacted...). Sentinels are
//     recognised with errors.Is; errors of packages v3rpc cannot import (the
//     raft node) are recognised by etcd's exact message text, anywhere in the
//     wrap chain, as a documented fallback; a node may also pass its own
//     sentinels in Options.Errors.
//   - Snapshot streams the backend image in 32 KiB chunks with RemainingBytes
//     counting down, then one more message holding the SHA-256 of the image,
//     exactly as etcd frames it; the image is spooled to a temporary file
//     first because RemainingBytes must be known from the first chunk.
//   - What etcdlab does not serve (auth, Hash, MoveLeader, Downgrade,
//     MemberUpdate, and etcd's v3lock and v3election services, which are
//     not registered at all) answers codes.Unimplemented with a message
//     naming it, never a silent empty answer.
//   - Server.GracefulStop and Stop end watch and keepalive streams at once
//     with "etcdserver: server stopped" (they never end by themselves), so
//     a stopping member does not wait out its stop timeout for them.
package v3rpc
