// Package backend is the batching layer between the MVCC store and a storage
// engine. It reproduces etcd's batchTx (server/storage/backend) once, above
// every engine, so that bbolt and pebble are compared under one batching
// policy rather than two:
//
//   - One writer at a time (BatchTx.Lock/Unlock). Writes accumulate in one
//     pending engine batch that is committed every BatchInterval (default
//     100ms), as soon as BatchLimit operations (default 10000) are pending, and
//     at once when a write txn that deleted anything ends (a reader's buffer
//     cannot represent deletes).
//   - Readers (ReadTx) see every write txn that has ended, committed or not:
//     puts that are applied but not yet committed are merged in key order from
//     a copy-on-write read buffer. A ReadTx is a consistent snapshot: later
//     writes and commits never show through it, and it never blocks them.
//   - A pre-commit hook runs under the write lock before every commit, so the
//     caller can put records (etcd's consistent index and term) into the same
//     engine commit as the data they describe.
//   - ForceCommit, Snapshot (commit, then stream the engine image) and Defrag
//     (commit, wait for readers, reclaim space) as etcd has them, and Sync
//     (commit, then engine.Sync): etcd's bbolt commit is durable by itself,
//     an engine whose knobs skip fsyncs (pebble wal=unsynced or disabled,
//     bbolt no-sync, memory) is durable only after Sync.
//
// A failed engine commit is fatal for the backend, as it is for etcd: the
// error is kept, returned by every later commit and by Err, and reported to
// OnCommit. The pending writes stay visible to readers (they are in the raft
// log; a restart replays them), but nothing more is committed.
package backend
