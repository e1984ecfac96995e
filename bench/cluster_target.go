package bench

import (
	"context"
	"fmt"
)

// openClusterTarget opens the cluster layer: cfg.Nodes in-process nodes in
// env.Dir, or clients of cfg.Endpoints. It is the one place the cluster
// plugs into the runner: a Target whose Do is DoKV over the cluster's
// client (a KV, as the mvcc layer's store is), implementing StatsSource
// with WAL and engine figures summed over nodes (sizes: the largest node),
// Flusher if acknowledged writes can sit in a backend batch, and passing
// the cluster's events to env.Emit. cfg carries the cluster's knobs:
// Nodes, Endpoints, SnapshotCount, SnapshotCatchupEntries, QuotaBytes,
// LinkDelay, Backend, Engine/EngineOptions and Clock.
//
// Until package cluster lands, the layer reports that it is not built.
func openClusterTarget(ctx context.Context, cfg Config, env LayerEnv) (Target, error) {
	return nil, fmt.Errorf("%w: the cluster layer (raft, WAL, snapshots) is not wired into bench yet; use --layer mvcc or --layer engine", ErrLayerNotBuilt)
}
