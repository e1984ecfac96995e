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
//     revision go backwards after a crash (etcd issue #17780).
//   - Open rebuilds the index by scanning the key bucket in chunks, taking
//     create_revision and version from the stored records; RestoreDuration
//     reports how long it took.
//   - HashByRev is etcd's HashKV: the same history gives the same hash on any
//     engine.
//
// etcdlab grants no leases: a put naming a lease fails with ErrLeaseNotFound,
// as it would on an etcd server where that lease does not exist.
package mvcc
