package bench

import (
	"context"
	"fmt"
)

// openClusterTarget opens the cluster layer: cfg.Nodes in-process nodes, or
// clients of cfg.Endpoints. It is the one place the cluster plugs into the
// runner: a Target whose Do maps ops onto the cluster client (as mvccTarget
// maps them onto the store), implementing StatsSource with WAL and engine
// figures summed over nodes, and emitting the cluster's events through
// env.Emit.
//
// Until package cluster lands, the layer reports that it is not built.
func openClusterTarget(ctx context.Context, cfg Config, env LayerEnv) (Target, error) {
	return nil, fmt.Errorf("%w: the cluster layer (raft, WAL, snapshots) is not wired into bench yet; use --layer mvcc or --layer engine", ErrLayerNotBuilt)
}
