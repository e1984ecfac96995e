package engine

import "context"

// Settler is the optional capability of an engine that keeps working after
// a commit returns: pebble flushes memtables and compacts sstables in the
// background, at a pace that depends on how busy the machine is. Settle
// makes that deferred work happen now (pebble: it flushes the memtable) and
// returns once it is done (no flush or compaction in progress or newly
// started), or when ctx ends.
//
// A measurement calls it where it starts and where it ends, so the CPU it
// counts is the engine work its own writes caused: a saturated run would
// otherwise leave its compaction debt to whoever runs next, and look
// cheaper per op than the same engine under a lighter load. It is never on
// a request path. Engines whose commits do all their work before returning
// (bbolt, memory) do not implement it.
type Settler interface {
	Settle(ctx context.Context) error
}
