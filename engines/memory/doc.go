// Package memory is the in-memory storage engine: a google/btree ordered map
// that implements the engine contract. It is the oracle that the disk engines
// (bbolt, pebble) are checked against in tests, and the no-disk ceiling in
// benchmarks: what the MVCC layer and the cluster cost when storage costs
// nothing.
//
// Contract, beyond engine.Engine:
//
//   - One copy-on-write B-tree holds every bucket; an entry is ordered by
//     (bucket ID, key). Buckets are identified by their ID only; the name is not
//     stored (the contract requires IDs to be unique among a store's buckets).
//   - A View is a btree Clone taken under the commit lock: O(1), it shares nodes
//     with the live tree and the writer copies a node before changing it, so a
//     view never blocks a commit and never sees a later one.
//   - Commit(sync) applies the batch to the tree; sync has no effect because
//     nothing is written to disk on commit. This is the no-disk ceiling: a
//     crash of the process loses every commit since the last Close.
//   - Durability across Close: when the engine has a directory, Close writes
//     the image (see WriteImage) to dir/ImageFile atomically (temporary
//     file, fsync, rename, fsync of the directory) and Open loads it, so data
//     committed before a clean Close survives reopen; uncommitted batches do not.
//     With dir == "" the engine keeps nothing. Sync writes the same image
//     without closing (the durability barrier the cluster takes at a disk
//     snapshot), so a crash loses only the commits since the last Sync or
//     Close.
//   - Image format (WriteImage, OpenImage): the magic line
//     "etcdlab-memory-image v1\n", an 8-byte big-endian record count, then per
//     record the bucket ID (1 byte), key length (4 bytes BE), key, value length
//     (4 bytes BE), value, in ascending (bucket, key) order, and last the
//     CRC32C (Castagnoli, 4 bytes BE) of every preceding byte. OpenImage rejects
//     a missing or foreign magic with engine.ErrWrongEngine and a bad checksum,
//     truncation, trailing bytes, a wrong count or unordered records with
//     engine.ErrCorrupt.
//   - Stats: Commits and SyncedCommits count Commit calls (SyncedCommits those
//     that asked for sync, although nothing is synced); LogicalBytes counts key
//     and value bytes of committed Puts; BytesWritten and Fsyncs count the image
//     file written on Close (and by OpenImage, which persists the image it was
//     given). Size and SizeInUse are the key and value bytes currently stored.
//     Reclaim has nothing to give back: it only counts.
package memory
