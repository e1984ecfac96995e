// Package wal is etcdlab's raft write-ahead log, a reproduction of etcd's
// server/storage/wal: the write path acknowledges a write once it is here,
// and recovery after a crash replays it, so it must sync exactly as often as
// etcd does and never lose a synced record.
//
// Format. A WAL is a directory of segments named %016x-%016x.wal (sequence,
// index of the first entry), each preallocated to Options.SegmentSize
// (default 64,000,000 bytes). Records are framed by an 8-byte little-endian
// length word (low 56 bits: length; top byte 0x80|pad when padded) and padded
// to 8-byte alignment; a record is type (1 metadata, 2 raftpb.Entry,
// 3 raftpb.HardState, 4 crc, 5 snapshot marker), a CRC32-Castagnoli that runs
// over all records of the log, and the payload. Every segment starts with a
// crc record carrying the running crc of the previous one, the metadata and
// the last hard state. A zero length word marks the preallocated tail.
//
// Durability contract.
//   - Save fdatasyncs iff raft.MustSync(st, prev, len(ents)) (new entries,
//     term or vote changed); SaveSnapshot always syncs. Save returns only
//     after the sync, so a nil error means the records survive a crash.
//   - A cut truncates and syncs the full segment, writes crc + metadata +
//     hard state into a file the background pipeline has preallocated, syncs
//     it, renames it into place and fsyncs the directory.
//   - A failed write or sync is sticky: the WAL refuses further appends
//     (after a failed fsync the page cache cannot be trusted).
//   - Segments are released (ReleaseLockTo) only up to a synced snapshot
//     marker and then deleted beyond Options.MaxSegments.
//
// Recovery. Open at a snapshot starts from the last segment whose first
// index is at most the snapshot index, checks the sequence has no gap, and
// ReadAll checks the crc chain and metadata, lets later entries replace an
// overwritten uncommitted tail, requires the snapshot marker, and zeroes
// everything after the last valid record before appending. A torn tail —
// the last record of the last segment cut short or holding an all-zero
// sector chunk — is repaired once (copy to NAME.broken, truncate); anything
// else is a *CorruptError (errors.Is ErrCorrupt, and ErrCRCMismatch for
// checksum failures) naming the file and offset, never silently truncated.
//
// Differences from etcd 3.6, each deliberate:
//   - ReadAll drops entries above the snapshot when a later record rewrites
//     the log from an index at or below it (etcd keeps them and can return
//     entries a new leader overwrote; found by the crash test).
//   - ReadAll restores the last hard state, so the first Save after a
//     restart syncs only if raft.MustSync says so (etcd starts from an empty
//     state and always syncs once).
//   - Record framing is our own compact binary (type, crc, payload) rather
//     than the walpb protobuf; the crc also covers the type byte.
//   - Create also fsyncs the new directory before renaming it into place,
//     and a failed write or sync is sticky (etcd exits the process).
//
// All file access goes through a pebble vfs.FS: vfs.Default in production,
// crashable MemFS and errorfs in tests. Sync counts and an HdrHistogram of
// sync latencies are exposed by Stats; slow syncs, cuts, repairs and purges
// are reported through Options.OnEvent.
package wal
