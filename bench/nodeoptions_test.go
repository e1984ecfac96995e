package bench

import (
	"testing"
	"time"

	"etcdlab/cluster"
	"etcdlab/results"
)

// TestFillConfigNodeOptions: result.json records the node's knobs as
// config.node_options, which cluster.ParseNodeOptions reads back to the
// same options, and the fields that repeat some of them hold the values
// the runner copied into them one by one before node_options existed.
func TestFillConfigNodeOptions(t *testing.T) {
	node := cluster.NodeOptions{Engine: "pebble", EngineOptions: []string{"wal=disabled"}, SnapshotCount: 1234,
		SnapshotCatchUpEntries: 56, RaftLogCompaction: cluster.RaftLogCompaction35, QuotaBytes: QuotaDisabled,
		AutoCompactionMode: "revision", AutoCompactionRetention: "1000"}
	node.Backend.BatchInterval, node.Backend.BatchLimit = 2500*time.Microsecond, 77
	for _, tt := range []struct {
		name      string
		layer     string
		endpoints []string
	}{{"mvcc", LayerMVCC, nil}, {"cluster", LayerCluster, nil}, {"endpoints", LayerCluster, []string{"127.0.0.1:2379"}}} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Layer: tt.layer, Endpoints: tt.endpoints, Nodes: 1, Node: node, Workload: smallSpec(t, "ycsb-a", 100), Clients: 1, Ops: 10}
			cfg.EnsureDefaults()
			res := results.New()
			if err := fillConfig(res, cfg); err != nil {
				t.Fatal(err)
			}
			c := res.Config
			// The runner's copies before config.node_options existed.
			if c.SnapshotCount != cfg.Node.SnapshotCount || c.SnapshotCatchupEntries != cfg.Node.SnapshotCatchUpEntries ||
				c.RaftLogCompaction != cfg.Node.RaftLogCompaction || c.QuotaBytes != cfg.Node.QuotaBytes ||
				c.BatchIntervalMs != float64(cfg.Node.Backend.BatchInterval)/1e6 || c.BatchLimit != cfg.Node.Backend.BatchLimit ||
				c.Backend != cfg.Node.Backend.String() {
				t.Fatalf("stable fields %+v from %s", c, cfg.Node)
			}
			if c.SnapshotCount != 1234 || c.BatchIntervalMs != 2.5 || c.QuotaBytes != QuotaDisabled {
				t.Fatalf("stable fields %+v", c)
			}
			if len(tt.endpoints) > 0 {
				if c.NodeOptions != "" || c.Engine != EngineRemote {
					t.Fatalf("--endpoints run records node options %q, engine %q", c.NodeOptions, c.Engine)
				}
				return
			}
			if c.NodeOptions != cfg.Node.String() {
				t.Fatalf("node_options %q, want %q", c.NodeOptions, cfg.Node.String())
			}
			back, err := cluster.ParseNodeOptions(c.NodeOptions)
			if err != nil {
				t.Fatal(err)
			}
			if back.String() != c.NodeOptions || back.SnapshotCount != 1234 || back.Engine != "pebble" {
				t.Fatalf("read back %s, want %s", back, c.NodeOptions)
			}
		})
	}
}
