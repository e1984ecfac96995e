// Package cluster is etcdlab's replicated pipeline: etcd's server loop
// (server/etcdserver) rebuilt on raft's RawNode (go.etcd.io/raft/v3 v3.6)
// over the WAL (cluster/wal), the snapshotter (cluster/snap), the MVCC store
// (mvcc) on any engine, and a transport (cluster/transport: in-process or
// TCP).
//
// # A node
//
// StartNode opens or creates a member in Dir/member/{wal,snap,engine}. Raft
// runs with etcd's configuration: one tick every TickInterval (100ms) from
// the injected clock, heartbeat 1 tick, election 10 ticks, CheckQuorum,
// PreVote, ReadOnlySafe, MaxSizePerMsg 1 MiB, MaxInflightMsgs 512. At start
// it fast-forwards its election ticks as etcd does (election.go): a single
// member by ElectionTicks-1 at once, a member of a larger cluster by
// ElectionTicks-2 once its peers are reachable, unless
// NoInitialElectionTickAdvance. A leader whose heartbeat to a follower
// leaves more than 2 heartbeat intervals after the previous one emits
// EventHeartbeatLate (etcd's "leader failed to send out heartbeat on time").
//
// The Ready loop (ready.go) handles each Ready in etcd's order:
//
//  1. Update the leader; on a change wake the read loop (pending linearizable
//     reads fail with ErrLeaderChanged) and emit an event.
//  2. Publish ReadStates to the read loop.
//  3. Hand committed entries (and a snapshot) to the apply goroutine, which
//     works in parallel with the disk writes below.
//  4. The leader sends its messages now, in parallel with its own WAL write:
//     raft counts the leader's own acknowledgement only at Advance.
//  5. If the Ready has a snapshot: write the .snap file (fsync, rename), then
//     its WAL snapshot marker (fsync).
//  6. wal.Save(HardState, Entries): fdatasync exactly when raft.MustSync.
//  7. MemoryStorage: ApplySnapshot, then Append; then tell the apply goroutine
//     the Ready is durable.
//  8. A follower or candidate sends its messages only now (MsgAppResp and
//     votes never leave before their fsync); if the Ready committed a conf
//     change it first waits for it to be applied.
//  9. Advance.
//
// A MsgSnap is not sent as raft made it: the apply goroutine replaces its
// metadata with the applied index, term and configuration and streams the
// backend image with it (etcd's merged snapshot message). The receiver stores
// the image durably (snap.ReceiveDBImage) before stepping the message.
//
// # Apply
//
// One goroutine applies entries in log order. An entry at or below the
// store's consistent index is skipped, so replay after a restart is
// idempotent; otherwise SetApplyingIndex stages the index so that it reaches
// the backend in the same commit as the entry's writes. The proposer waiting
// on the entry's request ID receives the result. A received snapshot is
// installed only once it is durable: the store closes its backend, the
// engine is replaced from the image, the lessor reloads its leases from it
// and the store rebuilds its index (mvcc.Store.Restore). Every SnapshotCount applied entries: commit
// the backend, save the .snap and its WAL marker, release WAL segments, and
// compact the raft log keeping SnapshotCatchUpEntries, unless a snapshot is
// being sent or was sent less than 30s ago. With RaftLogCompaction "3.6"
// (etcd 3.6, the default) every 100 applied entries also take a snapshot to
// memory (raft's MemoryStorage only) and compact the raft log the same way,
// so the in-memory log stays near SnapshotCatchUpEntries whatever
// SnapshotCount is; "3.5" compacts only at disk snapshots (compaction.go).
//
// # Requests
//
// Writes are etcd's InternalRaftRequest (Put, DeleteRange, Txn, Compaction,
// Alarm, LeaseGrant, LeaseRevoke) with a request ID; each is validated before proposing (size,
// duplicate keys in a txn, quota), rejected when committed − applied > 5000,
// and waits for its own result with RequestTimeout. Followers forward
// proposals to the leader (raft does). Serializable reads go to the local
// store at once; linearizable reads batch every waiting reader into one
// ReadIndex round, retried every ReadRetry and when the leader's first commit
// in its term lands, failing on a leader change, and are served once
// applied ≥ read index. A single voter takes the same path (etcd 3.6 does):
// raft answers its ReadIndex at once with its commit index, and concurrent
// readers still share a round.
//
// Quota: cost = 256 + key + value per put (txn: its larger branch), checked
// before proposing and at apply (applied anyway, then the NOSPACE alarm is
// raised through raft). While NOSPACE is raised, puts and txns with puts fail
// with "etcdserver: mvcc: database space exceeded" on every node.
//
// Leases and watches (lease.go, watch.go; docs/watch-lease.md): the lessor
// is opened with the store, LeaseGrant and LeaseRevoke are raft requests
// applied on every member, the leader's lessor is promoted at its term's
// first commit and expires leases through raft; keepalives and
// time-to-live sent to a follower are forwarded to the leader over the
// transport's Caller. Watches are served by every member from its store; a
// snapshot install restores the store in place (mvcc.Store.Restore, the
// lessor recovered first), so watch streams survive it.
//
// Auto-compaction (autocompact.go), etcd 3.6's v3compactor: with
// AutoCompactionRetention not "0", a loop on every node samples the
// revision (periodic mode: every period/10, capped at 6 min, keeping one
// period of samples) and, on the leader only, proposes a Compaction through
// raft: periodic mode the revision of one period ago, first after one
// period, then every min(period, 1h), retried at the next sample after a
// failure; revision mode the current revision minus the retention every
// 5 min. ErrCompacted counts as done. A compaction's background part (index,
// then key-bucket batches) ends with an EventCompaction spanning it
// (Time its end, Duration its length, Values its revision, keys deleted and
// batches); Defrag emits EventDefrag likewise with the sizes before and
// after.
//
// Membership: add a voter or learner, promote a caught-up learner, remove;
// one change at a time, answered after raft applied it; removed IDs are never
// reused.
//
// # Harness, client and server
//
// Package cluster/harness runs N nodes in one process (Start, Kill, Restart,
// Partition) with a balancing client; package cluster/server runs one node as
// etcd runs a member. Both use only the exported Node. A node's state is in
// parts that each own their lock (state.go: raft, store, progress, requests,
// membership, the read loop's round), so a field's guard is its part's.
package cluster
