// Package enginetest is the conformance suite and the benchmark suite that
// every storage engine (and every layer that implements engine.Engine, like
// the batching backend) runs, so that the engines are held to one meaning of
// the contract and measured the same way.
//
// Conformance: Run(t, open) or Harness{...}.Run(t). The suite opens engines
// only through the given function, in directories it creates with t.TempDir,
// and closes every engine it opens (the open function must not register its
// own Close). Subtests cover scan order and limits, bucket isolation, view
// isolation from later commits, durability across Close and reopen, loss of
// uncommitted batches, delete-range boundaries, image round trips, space
// reclamation, concurrent readers with one writer, use after Close, and the
// Stats counters.
//
// ContentHash is exported for other tests (the cross-engine oracle, the MVCC
// store): it hashes every entry of the given buckets through a view, so two
// stores with equal hashes hold the same keys and values.
//
// Benchmarks: Bench(b, open) runs op=put-batch|get|scan100 over keys=seq|rand
// with 256-byte values, reports fsyncs/op and bytes-written/op from Stats
// deltas and sets bytes per op, with all setup outside the timer.
package enginetest
