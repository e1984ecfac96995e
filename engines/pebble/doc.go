// Package pebble implements the etcdlab storage-engine contract
// (etcdlab/engines/engine) on github.com/cockroachdb/pebble/v2 (v2.1.7), the
// LSM engine that etcdlab measures against bbolt under etcd's pipeline.
//
// Layout. Pebble has no buckets: a key of bucket b is stored as the one byte
// b.ID followed by the key bytes, so a bucket's keys are contiguous and ordered
// and a scan is an iterator bounded by [ID+start, ID+end) (ID+1 when end is
// nil, unbounded for ID 0xFF). Keys are limited to MaxKeySize (32 KiB, bbolt's
// limit); that bound also gives bucket 0xFF a finite end for DeleteRange and
// Reclaim. A longer key, or a batch nearing pebble's 4 GiB limit, makes Commit
// fail with ErrKeyTooLarge or ErrBatchTooLarge and apply nothing.
// Writes. A Batch is a plain pebble batch: each write is encoded into it as
// it is made (the backend's apply time, as etcd's batchTx takes writes) and
// Commit inserts the batch into the memtable and the WAL. An indexed batch
// would also insert every write into the batch's own skiplist so that the
// batch could be read; the backend's read buffer serves those reads
// already, and BenchmarkBatchKind measured the indexed batch at 619–737
// ns/put against 590–703 for the plain one (1,000-put batches, 256-byte
// values, 3 runs each, this 2-core machine): no gain to pay for.
// Pebble's files (sstables, WAL, MANIFEST, OPTIONS, markers) live directly in
// the data dir, which Detect recognises by CURRENT or MANIFEST-*.
//
// Durability is the "wal" knob (see WALMode): synced (Commit(true) waits for a
// WAL fdatasync), unsynced (never waits), disabled (no pebble WAL; a commit is
// durable only once a flush writes its memtable to an sstable, so anything
// committed since the last flush is lost on any crash, and the raft WAL above
// must be replayed to recover it; Close and WriteImage flush, so a clean
// shutdown and an image lose nothing). Sync is the barrier in every mode: a
// WAL fdatasync (synced, unsynced) or a memtable flush (disabled), after
// which no crash loses a commit; the cluster takes it before a disk snapshot
// lets the raft WAL go, so the raft WAL always holds what the engine may
// lose.
//
// Reads. A View is a pebble Snapshot: it sees exactly the batches committed
// before it, never blocks writers, and Get returns a copy of the value (valid
// beyond the view). Scan passes pebble's iterator slices, valid only during the
// callback; fn must not Close its own view.
//
// Space. Size is the summed length of the files in the dir; SizeInUse is live
// sstables plus live WAL bytes (memtables are in memory, and in the WAL).
// Reclaim (etcd's defrag) waits for open views to close, blocks new views and
// commits, flushes, runs a manual compaction of the whole key space, and waits
// until pebble has deleted the obsolete files, so Size has shrunk when it
// returns.
//
// Images. WriteImage streams a tar archive of a pebble checkpoint (hard links
// staged in a temporary directory inside the data dir); OpenImage extracts one
// into an empty dir, fsyncs, renames into place and opens it, rejecting any
// other input with engine.ErrWrongEngine or engine.ErrCorrupt.
//
// Statistics. Fsyncs and BytesWritten are exact: pebble's vfs.FS is wrapped by
// a counting FS that sees every Sync/SyncData (and SyncTo that did a full
// fdatasync; writeback-only SyncTo calls are in Native "pebble.fs.sync_ranges")
// and every byte written to WAL, sstables, MANIFEST and OPTIONS. Image staging
// I/O is not counted. SyncedCommits counts Commit(true) calls in every WAL
// mode (only under wal=synced do they fsync; compare Fsyncs). Native holds
// pebble's metrics as "pebble.*": w_amp (pebble's own write amplification, Metrics.Total().WriteAmp),
// read_amp, per-level files/bytes/score ("pebble.l0.files", "pebble.l0.sublevels"),
// compactions, flushes, memtable size, block cache hits/misses, WAL bytes,
// disk_space_usage, fs.allocated_bytes, write_stalls; after Close, the values
// at Close.
//
// Failure. A fatal pebble error on the commit path (a WAL write or sync
// failed) is returned as ErrFailed, and the engine refuses later commits.
//
// Pebble's informational log lines are dropped; errors go to stderr.
package pebble
