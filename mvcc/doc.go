// Package mvcc is etcd's multi-version key-value store (server/storage/mvcc)
// rebuilt over etcdlab's batching backend, so that any engine (bbolt, pebble,
// memory) can sit under the exact storage logic etcd runs.
//
// Contract, as etcd's:
//
//   - Every mutating txn (Put, DeleteRange, Txn with writes) takes one main
//     revision; its changes take sub-revisions 0, 1, ... A store starts at
//     revision 1, so the first write is revision 2. A DeleteRange of absent
//     keys changes nothing and does not move the revision.
//   - The key bucket maps 17-byte big-endian revisions (18 with the tombstone
//     mark 't') to marshalled mvccpb.KeyValue records; the in-memory treeIndex
//     (google/btree, degree 32) maps each key to its generations of revisions.
//   - Reads (Range, read-only Txn) see a consistent revision: the current one,
//     or an older one not yet compacted (ErrCompacted below the compaction
//     revision, ErrFutureRev above the current one). Range returns at most
//     Limit KVs, Count ignoring the limit, More, and the store's revision.
//   - Txn evaluates all compares on the chosen path against the state before
//     the txn, checks every request on it, and only then runs the ops, so a
//     txn applies whole or not at all.
//   - Requests are validated before anything is written (ValidatePut,
//     ValidateRange, ValidateDeleteRange, ValidateTxn on Config, exported so
//     the replicated layer can reject before proposing): size, MaxTxnOps,
//     duplicate keys, empty keys, lease fields.
//   - The consistent index and term of the applied raft entry reach the
//     backend in the same commit as the entry's data (the backend's
//     pre-commit hook); SetApplyingIndex stages them before an entry is
//     applied and ConsistentIndex reads them back after Open.
//   - Compaction persists and commits the scheduled revision before deleting
//     anything, deletes in batches with a commit each, records the finished
//     revision in the last batch, resumes on Open, and never lets the current
//     revision go backwards after a crash (etcd issue #17780). Config.OnCompacted
//     receives each compaction's figures when its background part ends
//     (CompactionStats: index time, etcd's "took", batches, keys deleted).
//   - Open rebuilds the index by scanning the key bucket in chunks, taking
//     create_revision and version from the stored records; RestoreDuration
//     reports how long it took.
//   - HashByRev is etcd's HashKV: the same history gives the same hash on any
//     engine.
//
// Watch, as etcd's watchableStore (watchable_store.go, watcher.go,
// watcher_group.go, watchable_store_txn.go):
//
//   - A WatchStream (NewWatchStream) holds watchers on a key or a range
//     ([key, end), end "\x00" for everything from key). A watcher from
//     revision 0 or a future one is synced: each write txn, as it ends,
//     sends exactly its events, as one response at its revision, to the
//     synced watchers of their keys, before the revision moves and with the
//     watch lock held, so a watcher registered concurrently either gets the
//     txn or starts after it.
//   - A watcher from an older revision is unsynced: a loop every
//     WatchSyncInterval (100ms) takes up to WatchMaxWatchersPerSync (512)
//     of them, reads the revisions from their lowest one to the current one
//     by scanning the key bucket, and sends each watcher at most
//     WatchBatchMaxRevs (1000) revisions per response; one that reached the
//     current revision becomes synced. The read holds the watch lock, so
//     writers wait for it to end, as in etcd.
//   - A watcher whose channel (WatchChanBufLen, 128) is full when it is
//     sent to becomes a victim holding that response; a loop retries
//     victims every WatchVictimInterval (10ms), then returns them to synced
//     or, if they missed revisions meanwhile, unsynced.
//   - A watcher below the compaction revision gets a response with
//     CompactRevision and is cancelled.
//   - Events of one revision are never split between responses; each event
//     reaches a watcher once, in revision order. Filters NoPut/NoDelete;
//     PrevKV reads the key at ModRevision-1 (nil if compacted), as v3rpc
//     does. Progress: RequestProgress / RequestProgressAll only when the
//     watchers are synced (the latter deferred until they are), and every
//     WatchProgressNotifyInterval (10m) for quiet ProgressNotify watchers.
//   - With no watcher, a write pays one atomic load and one uncontended
//     mutex for watch, and allocates nothing for it.
//   - Restore swaps in a new backend (a snapshot installed) under the same
//     Store, as etcd's watchableStore.Restore: the index is rebuilt and
//     every synced watcher becomes unsynced, so it catches up from the new
//     backend; watch streams stay open.
//   - Not here: fragmenting large responses and the gRPC stream (v3rpc's).
//
// Leases: with Config.Lessor set (package lease), a put naming a lease needs
// it to exist (checked inside the write txn, not by ValidatePut), attaches the key and detaches
// it from its previous lease; a put without one or a delete detaches it;
// Open attaches every live key to the lease in its record; DeleteKeysTxn is
// the one-txn delete a revoke uses. Without a Lessor no lease exists, and a
// put naming one fails with ErrLeaseNotFound, as on an etcd server where that
// lease does not exist.
package mvcc
