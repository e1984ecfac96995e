// Package bbolt is the etcdlab storage engine over go.etcd.io/bbolt, set up
// and driven the way etcd 3.6's backend (server/storage/backend) drives it, so
// that measurements of it stand for etcd's.
//
// Layout: one file, dir/db (DataFile, as etcd's member/snap/db). Each
// engine.Bucket is a native bbolt bucket named Bucket.Name, created by the
// first commit that writes to it; reading or deleting in an absent bucket
// finds nothing. Buckets marked Sequential are filled to seq-fill-percent
// (etcd fills its revision-keyed bucket to 0.9 instead of bbolt's 0.5).
//
// Contract, beyond the engine package's:
//
//   - A Batch writes each operation as it is made into the engine's one open
//     bbolt read-write transaction (the live transaction, opened by the
//     first batch to write after a commit and held until its Commit), as
//     etcd's batchTx.UnsafePut writes into its open bolt.Tx: the B+tree work
//     happens at write time and Commit only spills and writes pages. Every
//     operation is also recorded (copies of the slices). A batch that finds
//     the live transaction held by another batch only records; so does one
//     whose live transaction was taken away before its Commit (by Reclaim,
//     Close or another batch's commit, which need bbolt's one writer): its
//     Commit replays the record in order in a fresh transaction. Either way
//     Commit applies the batch atomically. Stats count both kinds
//     (bbolt.live_tx_commits, bbolt.live_tx_taken). Commit(true) fdatasyncs
//     twice (data pages, then the meta page); Commit(false) skips both; with
//     no-sync every commit skips them, and the fsync bbolt does when it grows
//     the file too. An empty batch commits nothing, but Commit(true) on it
//     fsyncs the file if earlier commits were not synced.
//   - A View is a bbolt read transaction held until Close; values from Get
//     point into the mmap and are valid until then. Views never block
//     commits, except that a commit which must grow the mmap past
//     initial-mmap-size (10 GiB by default, as in etcd) waits for them.
//   - Size is the file size; SizeInUse subtracts free and pending pages and
//     the unused tail from it (see SizeInUse).
//   - Reclaim is etcd's defrag: it waits for open views, blocks views and
//     commits, copies every bucket into a new file and renames it over db.
//   - WriteImage streams tx.WriteTo, the same file image etcd's snapshot
//     sends; OpenImage installs such an image as dir/db and opens it.
//   - Stats derive Fsyncs and BytesWritten from what bbolt actually does
//     (see Engine.Stats); Native carries bbolt's own counters under
//     "bbolt.*".
//   - Damaged or foreign data is refused with an error, never a panic: the
//     registry (engines.Open) refuses a dir holding another engine's data
//     before opening it, and the meta pages, length and root page of dir/db
//     are checked before bbolt maps the file (a file with no bbolt magic is
//     ErrWrongEngine, any other damage ErrCorrupt).
//     Damage deeper in the page tree is beyond these checks: bbolt may
//     panic on it in goroutines of its own.
//   - Close closes any views still open (their values become invalid);
//     every later call returns an error wrapping engine.ErrClosed.
//
// Options are set with key=value knobs (Knobs, ParseOptions) whose defaults
// are etcd's: initial-mmap-size=10GiB, freelist-type=map,
// no-freelist-sync=true, MAP_POPULATE on Linux.
package bbolt
