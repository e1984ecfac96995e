package bench

import (
	"context"
	"testing"

	"etcdlab/cluster"
	"etcdlab/results"
	"etcdlab/workloads"
)

// TestTimelineEngineFigures: each timeline interval keeps the engine
// figures the steady-state verdict reads, and the verdict is in the result.
func TestTimelineEngineFigures(t *testing.T) {
	criteria := map[string]string{"pebble": "lsm", "bbolt": "btree-growth"}
	for engine, name := range map[string]string{"pebble": results.ExtraPebbleL0Sublevels, "bbolt": "bbolt.free_pages"} {
		t.Run(engine, func(t *testing.T) {
			cfg := Config{Layer: LayerEngine, Node: cluster.NodeOptions{Engine: engine}, Workload: smallSpec(t, "ycsb-a", 200),
				Seed: seed(t), Clients: 2, Ops: 400, DataDir: t.TempDir(), FsyncProbe: -1}
			o, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, s := range o.Timeline {
				if s.Type != results.SampleInterval {
					continue
				}
				if _, ok := s.Extra[name]; !ok {
					t.Fatalf("interval at %vs lacks %s: %v", s.T, name, s.Extra)
				}
				if len(s.Extra) > maxTimelineExtra {
					t.Fatalf("interval keeps %d figures", len(s.Extra))
				}
				n++
			}
			ss := o.Result.SteadyState
			if n == 0 || ss == nil || ss.Verdict != results.SteadyUnknown || ss.Samples != 1 || ss.Criterion != criteria[engine] {
				t.Fatalf("%d intervals, steady state %+v: want %s, unknown on one sample", n, ss, criteria[engine])
			}
		})
	}
}

// TestScaleWorkload: the preload count follows the scale and the mean
// object size, and applying it twice changes nothing.
func TestScaleWorkload(t *testing.T) {
	spec := smallSpec(t, "ycsb-a", 10)
	spec.ValueSize = workloads.Fixed(1000)
	spec.EnsureDefaults()
	scaleWorkload(&spec, 1e6)
	if want := int64(1e6 / spec.MeanObjectBytes()); spec.Keys.Count < want || spec.Keys.Count > want+1 || spec.Preload != nil {
		t.Fatalf("keys %d (preload %v), want about %d", spec.Keys.Count, spec.Preload, want)
	}
	again := spec
	scaleWorkload(&again, 1e6)
	if again.Keys.Count != spec.Keys.Count {
		t.Fatalf("second application: %d keys, first %d", again.Keys.Count, spec.Keys.Count)
	}
	// An explicit preload count becomes the scaled count; the key space
	// grows to hold it but never shrinks.
	p := int64(5)
	spec.Preload, spec.Keys.Count = &p, 1_000_000
	scaleWorkload(&spec, 1e6)
	if *spec.Preload != again.Keys.Count || spec.Keys.Count != 1_000_000 {
		t.Fatalf("preload %d keys %d", *spec.Preload, spec.Keys.Count)
	}
}
