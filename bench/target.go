package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"etcdlab/engines/engine"
	"etcdlab/workloads"
)

// Target is what the runner drives: one layer of the pipeline. Do runs one
// op and is called concurrently by every client; op's buffers are valid only
// during the call (see workloads.Op), so a Target copies what it keeps.
// A returned error counts the op as failed; it is not fatal to the run.
type Target interface {
	Do(ctx context.Context, op *workloads.Op) error
	Close() error
}

// Stats are a layer's cumulative figures since it was opened. Zero means
// "none" (a layer without a WAL has no WAL fsyncs).
type Stats struct {
	// EngineBytesWritten and WALBytesWritten are bytes the engine(s) and the
	// WAL(s) say they wrote, summed over nodes.
	EngineBytesWritten int64
	WALBytesWritten    int64
	EngineFsyncs       int64
	WALFsyncs          int64
	// WALSyncCPU is the CPU time the WALs' fdatasyncs took on their threads
	// (kernel work that grows with the engine's writes to the same disk).
	WALSyncCPU time.Duration
	// DBSize, DBSizeInUse and DBQuotaSize are the engine's size on disk, the
	// part of it holding live data, and the backend size its quota compares
	// (engine.Engine's DiskSize, SizeInUse and Size; the largest over nodes);
	// WALSize is the WAL's size on disk (the largest over nodes).
	DBSize      int64
	DBSizeInUse int64
	DBQuotaSize int64
	WALSize     int64
	// ReadIndexRounds counts the ReadIndex rounds of the nodes' read loops
	// (in-process cluster): linearizable reads per round is how well the
	// loop batches them, and a round's fixed cost is shared by its reads.
	ReadIndexRounds int64
	// Extra holds layer-specific figures by flat name
	// ("backend.commits", "pebble.l0.files", ...).
	Extra map[string]float64
}

// StatsSource is the optional capability of a Target that reports its
// disk, fsync and size figures. The runner samples it once a second.
type StatsSource interface {
	Stats() Stats
}

// Flusher is the optional capability of a Target that holds acknowledged
// writes in memory for a while (the batching layer's pending batch): Flush
// makes them durable. The runner calls it after the measured phase, outside
// the measured time, so the disk bytes and fsyncs those writes cost are
// counted with them.
type Flusher interface {
	Flush() error
}

// Settler is the optional capability of a Target whose engines keep working
// after their commits return (engine.Settler: pebble's memtable flushes and
// compactions). Settle waits until that work is done. The runner calls it
// after the preload and after the flush, outside the measured time but
// inside the CPU accounting, so a run is charged for the background work its
// own writes caused and for none left over from the preload.
type Settler interface {
	Settle(ctx context.Context) error
}

// settleEngine settles e if it has background work to settle.
func settleEngine(ctx context.Context, e engine.Engine) error {
	if s, ok := e.(engine.Settler); ok {
		return s.Settle(ctx)
	}
	return nil
}

// Event is something the layer did that a timeline should show: a leader
// change, a snapshot, a WAL segment cut, a backend commit, a compaction, an
// alarm. Kind is one of package event's names (event.LeaderChanged,
// event.SnapshotTaken, event.BackendCommit, ...); Node is the node it
// happened on (0 if not applicable).
//
// A timed event (event.Timed: a compaction, a defrag) is emitted when it
// ends: At is its end and Dur its length; the timeline shows it as a band.
// Values are its figures by name (a compaction's keys deleted, a defrag's
// sizes before and after), kept in the timeline sample.
type Event struct {
	At     time.Time
	Kind   string
	Node   int
	Detail string
	Dur    time.Duration
	Values map[string]float64
}

// LayerEnv is what the runner gives a layer constructor.
type LayerEnv struct {
	// Dir is the directory the layer keeps its data in (created, empty).
	Dir string
	// Emit records an event. Safe for concurrent use; keep calls cheap.
	Emit func(Event)
}

// OpenFunc opens one layer for cfg.
type OpenFunc func(ctx context.Context, cfg Config, env LayerEnv) (Target, error)

// lookupLayer is the layer table: a switch, no registration. The cluster
// layer's constructor lives alone in cluster_target.go.
func lookupLayer(name string) (OpenFunc, error) {
	switch name {
	case LayerEngine:
		return openEngineTarget, nil
	case LayerMVCC:
		return openMVCCTarget, nil
	case LayerCluster:
		return openClusterTarget, nil
	}
	return nil, fmt.Errorf("%w: %q (accepted: %s)", ErrUnknownLayer, name, strings.Join(Layers(), ", "))
}

// OpenTarget opens the layer cfg names (cfg after EnsureDefaults).
func OpenTarget(ctx context.Context, cfg Config, env LayerEnv) (Target, error) {
	open, err := lookupLayer(cfg.Layer)
	if err != nil {
		return nil, err
	}
	if env.Emit == nil {
		env.Emit = func(Event) {}
	}
	return open(ctx, cfg, env)
}
