package bench_test

import (
	"flag"
	"fmt"
	"testing"

	"etcdlab/bench"
	"etcdlab/bench/sweep"
	"etcdlab/workloads"
)

// BenchmarkParity runs the points of the parity experiment (`etcdlab
// experiment parity`): puts and linearizable gets on the mvcc layer and on
// 1- and 3-node clusters for each engine, named
// engine=E/layer=L/nodes=N/op=O/clients=C. Besides BenchmarkPipeline's metrics it
// reports wall-ns/op, the op's mean latency at the preset's client count.
// The preset's configuration is used as is except that b.N ops are
// measured with no warm-up, so -benchtime 1x only checks that every point
// runs; give -benchtime 20000x -count 6 for figures. The derived check —
// cluster minus mvcc cost per engine, agreeing within 10% — is the
// experiment's report (results/report.ComputeParity); benchstat shows the
// cpu-ns/op each side of that subtraction, and outside-engine-cpu-ns/op,
// the CPU per op outside the engine's code by the preset's CPU profile
// attribution (left out when -cpuprofile holds the profiler).
func BenchmarkParity(b *testing.B) {
	spec, err := sweep.Experiment("parity")
	if err != nil {
		b.Fatal(err)
	}
	spec.EnsureDefaults()
	for _, pt := range spec.Points() {
		cfg, err := spec.RunConfig(pt, 0)
		if err != nil {
			b.Fatal(err)
		}
		if f := flag.Lookup("test.cpuprofile"); f != nil && f.Value.String() != "" {
			cfg.AttributeCPU = false // one CPU profile at a time
		}
		name := fmt.Sprintf("engine=%s/layer=%s/nodes=%d/op=%s/clients=%d", cfg.Node.Engine, cfg.Layer, cfg.Nodes, opName(cfg.Workload), cfg.Clients)
		b.Run(name, func(b *testing.B) {
			o := bench.RunForBenchmark(b, cfg)
			b.ReportMetric(o.Result.Summary.Latency.MeanUs*1e3, "wall-ns/op")
			if v := o.Result.Summary.CPUOutsideEnginePerOpUs; v > 0 {
				b.ReportMetric(v*1e3, "outside-engine-cpu-ns/op")
			}
		})
	}
}

// opName is the single op kind of a workload (the parity workloads are
// 100% puts or 100% gets), else its name.
func opName(w workloads.Spec) string {
	switch w.Ops {
	case workloads.OpMix{Put: 1}:
		return "put"
	case workloads.OpMix{Get: 1}:
		return "get"
	}
	return w.Name
}
