package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"etcdlab/cluster"
	"etcdlab/workloads"
)

// TestMeasureRecovery runs a short write workload on three in-process nodes
// with frequent snapshots, then kills and restarts a follower: the result
// must carry the restart and catch-up times, in order, for a follower.
func TestMeasureRecovery(t *testing.T) {
	for _, engine := range []string{"memory", "bbolt"} {
		t.Run("engine="+engine, func(t *testing.T) {
			spec := smallSpec(t, "etcd-put", 500)
			cfg := Config{Layer: LayerCluster, Nodes: 3, Workload: spec, Seed: seed(t), Clients: 4,
				Ops: 600, Node: cluster.NodeOptions{Engine: engine, SnapshotCount: 100, SnapshotCatchUpEntries: 50}, FsyncProbe: -1, MeasureRecovery: true}
			o, err := RunToDir(context.Background(), cfg, filepath.Join(t.TempDir(), "r"))
			if err != nil {
				t.Fatal(err)
			}
			rc := o.Result.Recovery
			if rc == nil {
				t.Fatal("no recovery recorded")
			}
			if rc.Error != "" {
				t.Fatalf("recovery failed: %s", rc.Error)
			}
			if rc.Method != "kill" || rc.Node == 0 {
				t.Fatalf("recovery of node %d by %q", rc.Node, rc.Method)
			}
			if rc.RestartS <= 0 || rc.CatchUpS < rc.RestartS || rc.RestoreS < 0 || rc.RestoreS > rc.RestartS {
				t.Fatalf("times out of order: restart %v catch-up %v restore %v", rc.RestartS, rc.CatchUpS, rc.RestoreS)
			}
			if rc.LeaderCommit < 600 || rc.AppliedAtStart > rc.LeaderCommit {
				t.Fatalf("leader commit %d, applied at start %d", rc.LeaderCommit, rc.AppliedAtStart)
			}
			// The events counted stay the measured phase's: the restart adds none.
			if o.Result.Events["snapshot-taken"] == 0 {
				t.Fatalf("no snapshots with snapshot-count 100: %v", o.Result.Events)
			}
		})
	}
}

// TestQuotaRecovery fills a 4 MiB quota until NOSPACE by overwriting 200
// keys of 8 KiB, then runs compact + defrag + disarm: the compaction frees
// the old revisions, writes must be accepted again, the db must shrink
// below the quota, and reads during the defrag must have been timed. The
// memory engine is used because its size is its data: bbolt's file starts
// at 16 MiB (its allocation step), above a 4 MiB quota before any write.
func TestQuotaRecovery(t *testing.T) {
	spec := noPreload(smallSpec(t, "etcd-put", 200))
	spec.ValueSize = workloads.Fixed(8 << 10)
	cfg := Config{Layer: LayerCluster, Nodes: 3, Workload: spec, Seed: seed(t), Clients: 8,
		Duration: 3 * time.Second, Node: cluster.NodeOptions{Engine: "memory", QuotaBytes: 4 << 20}, FsyncProbe: -1, QuotaRecovery: true}
	o, err := RunToDir(context.Background(), cfg, filepath.Join(t.TempDir(), "r"))
	if err != nil {
		t.Fatal(err)
	}
	q := o.Result.QuotaRecovery
	if q == nil {
		t.Fatalf("no quota recovery: alarms raised %d, errors %v", o.Result.Events["alarm-raised"], o.Result.Summary.ErrorsByMessage)
	}
	if q.Rearmed {
		// A NOSPACE raise proposed before the disarm can land after it; the
		// result says so rather than hiding it.
		t.Logf("the alarm was raised again after the disarm")
	}
	if q.Error != "" || !q.WritesOKAfter {
		t.Fatalf("recovery: error %q, writes ok %v, rearmed %v", q.Error, q.WritesOKAfter, q.Rearmed)
	}
	if o.Result.Summary.Ops == 0 { // Ops counts the acknowledged ops only
		t.Fatalf("no put was accepted before the alarm: %v", o.Result.Summary.ErrorsByMessage)
	}
	if q.DBSizeAfter >= q.DBSizeBefore || q.DBSizeAfter >= cfg.Node.QuotaBytes {
		t.Fatalf("db size %d -> %d (quota %d): compact + defrag did not free the old revisions", q.DBSizeBefore, q.DBSizeAfter, cfg.Node.QuotaBytes)
	}
	if len(q.DefragNodeS) != cfg.Nodes || q.TotalS < q.CompactS+q.DefragS+q.DisarmS {
		t.Fatalf("steps: %+v", q)
	}
	var reads int64
	for _, st := range q.DuringDefrag {
		reads += st.Count
	}
	t.Logf("quota recovery: %+v", q)
	if reads == 0 && q.DuringDefragErrors == 0 {
		t.Fatal("no reads were issued during the defrags")
	}
}

// TestRecoveryConfig: the recovery flags are refused where they cannot run.
func TestRecoveryConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want bool
	}{
		{Config{Layer: LayerCluster, Nodes: 3, MeasureRecovery: true}, true},
		{Config{Layer: LayerCluster, Nodes: 1, MeasureRecovery: true}, false},
		{Config{Layer: LayerMVCC, MeasureRecovery: true}, false},
		{Config{Layer: LayerCluster, Nodes: 3, Endpoints: []string{"127.0.0.1:1"}, MeasureRecovery: true}, false},
		{Config{Layer: LayerCluster, Nodes: 1, QuotaRecovery: true}, true},
		{Config{Layer: LayerEngine, QuotaRecovery: true}, false},
	} {
		t.Run(fmt.Sprintf("%s/%d/%v/%v", tc.cfg.Layer, tc.cfg.Nodes, tc.cfg.MeasureRecovery, tc.cfg.QuotaRecovery), func(t *testing.T) {
			tc.cfg.EnsureDefaults()
			err := tc.cfg.Validate()
			if (err == nil) != tc.want || (err != nil && !errors.Is(err, ErrBadConfig)) {
				t.Fatalf("Validate: %v (want ok=%v)", err, tc.want)
			}
		})
	}
}
