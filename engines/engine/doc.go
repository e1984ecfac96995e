// Package engine defines the storage-engine contract that every etcdlab backend
// (bbolt, pebble, memory) implements and that the batching layer and the MVCC
// store are written against.
//
// The contract is shaped by what an etcd-style MVCC store needs and nothing more:
//
//   - Named buckets. A Bucket has a one-byte ID (used as a key prefix by engines
//     without native buckets, like pebble) and a name (used by bbolt). Buckets
//     exist implicitly: writing creates one, reading an absent one finds nothing.
//   - Atomic write batches of Put, Delete and DeleteRange, committed with or
//     without fsync. A batch copies the slices it is given; callers may reuse them
//     as soon as the call returns.
//   - Consistent read views: a View sees exactly the batches committed before it
//     was opened, never a later one, and never blocks a writer.
//   - Ordered forward scans over [start, end) with a limit.
//   - Three sizes: the backend size etcd's quota compares (Size), the part
//     of it in use (SizeInUse), both from in-memory state, and what the files
//     take on disk (DiskSize, which may list the directory); space
//     reclamation, a consistent image of the whole store streamed to an
//     io.Writer (and, per engine, a constructor that opens an engine from
//     such an image), statistics, and Close.
//
// Value lifetime: a value returned by View.Get is valid until the View is closed
// and must not be modified; keys and values passed to a Scan callback are valid
// only during that call. Callers that keep them copy them.
//
// Errors are the sentinels below, wrapped with %w and more context; test them
// with errors.Is.
//
// Besides the contract, the package holds what every engine shares and no
// engine owns: Table, the table-driven options helper each engine declares
// its knobs with (key, default, doc, what it accepts, the field it sets), so
// that every engine parses, prints, documents and validates its options the
// same way; and Detect, the shape of an engine's recognition of its own data
// dir. It names no engine: the registry, etcdlab/engines, is the one place
// that lists them.
package engine
