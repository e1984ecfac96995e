// Package snap stores raft snapshots for etcdlab the way etcd's
// server/etcdserver/api/snap does, through a pebble vfs.FS seam.
//
// A snapshot file is named %016x-%016x.snap (term, index) and holds the
// marshalled raftpb.Snapshot (raft metadata and whatever the caller put in
// Data, never the backend database) behind a magic, a length and a
// CRC32-Castagnoli. SaveSnap writes NAME.tmp, fsyncs it, renames it into
// place and fsyncs the directory, so a snapshot file that exists under its
// final name is complete. Old snapshots beyond Options.MaxSnapshots
// (default 5) are deleted after a successful save.
//
// Loading: Load returns the newest readable snapshot; LoadNewestAvailable
// only those the WAL vouches for (its snapshot markers with index at or
// below the committed index, see wal.ValidSnapshotEntries), as etcd does on
// restart. A damaged file (bad crc, truncated, empty, undecodable, or whose
// content disagrees with its name) is renamed NAME.broken and the next
// older one is tried; I/O errors are returned as they are.
//
// Backend images streamed from a leader are received with ReceiveDBImage:
// written to a temporary file, fsynced, renamed to %016x.snap.db and the
// directory fsynced, and only then reported usable.
//
// Ordering with the WAL (etcd's rule, the caller's duty): save the .snap
// before its WAL snapshot marker, and release WAL segments only after the
// marker is synced.
package snap
