package bench

import (
	"context"
	"path/filepath"
	"testing"

	"etcdlab/cluster"
	"etcdlab/internal/clock"
	"etcdlab/workloads"
)

// TestMVCCTargetStagesConsistentIndex checks that the mvcc layer writes as
// the cluster's apply loop does: every write advances the consistent index,
// which the store persists with the data at each commit, so every engine
// sees the meta bucket written with each commit in both layers. Reads do
// not advance it (a cluster serves them without a raft entry).
func TestMVCCTargetStagesConsistentIndex(t *testing.T) {
	for _, eng := range []string{"bbolt", "pebble", "memory"} {
		t.Run("engine="+eng, func(t *testing.T) {
			cfg := Config{Layer: LayerMVCC, Node: cluster.NodeOptions{Engine: eng}, Clock: clock.Real()}
			cfg.EnsureDefaults()
			tg, err := openMVCCTarget(context.Background(), cfg, LayerEnv{Dir: filepath.Join(t.TempDir(), "data")})
			if err != nil {
				t.Fatal(err)
			}
			mt := tg.(*mvccTarget)
			defer mt.Close()
			ctx := context.Background()
			for i, kind := range []workloads.OpKind{workloads.OpPut, workloads.OpPut, workloads.OpGet, workloads.OpPut} {
				op := workloads.Op{Kind: kind, Key: []byte{'k', byte(i)}, Value: []byte("v")}
				if err := mt.Do(ctx, &op); err != nil {
					t.Fatalf("op %d (%v): %v", i, kind, err)
				}
			}
			if err := mt.Flush(); err != nil {
				t.Fatal(err)
			}
			if idx, term := mt.kv.s.ConsistentIndex(); idx != 3 || term != 1 {
				t.Fatalf("consistent index after 3 writes and 1 read: %d (term %d), want 3 (term 1)", idx, term)
			}
		})
	}
}
