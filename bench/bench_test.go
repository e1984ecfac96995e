package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"etcdlab/cluster"
	"etcdlab/workloads"
)

// noopTarget does nothing: running against it measures the harness alone.
type noopTarget struct{}

func (noopTarget) Do(context.Context, *workloads.Op) error { return nil }
func (noopTarget) Close() error                            { return nil }

// BenchmarkHarness measures the runner and recorder against a no-op target:
// ns/op is the harness's cost per op (generation, two clock reads, Do
// through an interface, recording) and ops/s its ceiling. The goal is >= 5M
// ops/s with 2 clients on 2 cores.
func BenchmarkHarness(b *testing.B) {
	for _, loop := range []string{"closed", "open"} {
		for _, clients := range []int{1, 2} {
			b.Run(fmt.Sprintf("loop=%s/clients=%d", loop, clients), func(b *testing.B) {
				cfg := Config{Layer: LayerEngine, Node: cluster.NodeOptions{Engine: "memory"}, Workload: noPreload(smallSpec(b, "ycsb-a", 100_000)),
					Seed: 1, Clients: clients, Ops: int64(max(b.N, clients))}
				if loop == "open" {
					cfg.Rate = 1e9 // far above what is reachable: the pacer never waits
				}
				b.ResetTimer()
				o, err := RunTarget(context.Background(), cfg, noopTarget{})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				s := o.Result.Summary
				if s.Ops != cfg.Ops {
					b.Fatalf("ran %d ops, want %d", s.Ops, cfg.Ops)
				}
				b.ReportMetric(s.ThroughputOpsS, "ops/s")
			})
		}
	}
}

// BenchmarkRecord measures recording one op (lock, one histogram
// increment, unlock) on a client's recorder: the goal is <= 100 ns.
func BenchmarkRecord(b *testing.B) {
	for _, open := range []bool{false, true} {
		b.Run(fmt.Sprintf("open=%t", open), func(b *testing.B) {
			c := newClientRec([]workloads.OpKind{workloads.OpGet, workloads.OpPut}, open)
			kinds := [2]workloads.OpKind{workloads.OpGet, workloads.OpPut}
			b.ResetTimer()
			for i := range b.N {
				d := time.Duration(1000 + i&0xffff)
				c.record(kinds[i&1], d, d/2, d, false, 24)
			}
		})
	}
}

// BenchmarkRecordOp measures what both loops do with a finished op
// (runner.finishOp: the warm-up check, the record above, the quota count):
// the loops' share of BenchmarkHarness's per-op cost beyond generation,
// the clock reads and Do. The goal is <= 100 ns.
func BenchmarkRecordOp(b *testing.B) {
	for _, open := range []bool{false, true} {
		b.Run(fmt.Sprintf("open=%t", open), func(b *testing.B) {
			r := &runner{opCtx: context.Background()}
			c := &client{rec: newClientRec([]workloads.OpKind{workloads.OpGet, workloads.OpPut}, open)}
			ops := [2]workloads.Op{{Kind: workloads.OpGet, Key: make([]byte, 16)}, {Kind: workloads.OpPut, Key: make([]byte, 16), Value: make([]byte, 8)}}
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Duration(i)
				t1 := t0 + time.Duration(1000+i&0xffff)
				if !r.finishOp(c, &ops[i&1], t0, t0, t1, nil) {
					b.Fatal("finishOp stopped the client")
				}
			}
		})
	}
}

// BenchmarkPipeline runs workloads against every layer and engine with the
// same runner as `etcdlab run` (see runForBenchmark for the metrics).
func BenchmarkPipeline(b *testing.B) {
	type point struct {
		layer string
		nodes int
	}
	points := []point{{LayerEngine, 1}, {LayerMVCC, 1}, {LayerCluster, 1}, {LayerCluster, 3}}
	for _, p := range points {
		for _, eng := range []string{"memory", "bbolt", "pebble"} {
			for _, wl := range []string{"ycsb-a", "etcd-put"} {
				name := fmt.Sprintf("layer=%s/engine=%s/nodes=%d/workload=%s", p.layer, eng, p.nodes, wl)
				b.Run(name, func(b *testing.B) {
					cfg := Config{Layer: p.layer, Node: cluster.NodeOptions{Engine: eng}, Nodes: p.nodes, Workload: smallSpec(b, wl, 10_000), Seed: 1, Clients: 4}
					runForBenchmark(b, cfg)
				})
			}
		}
	}
}

// runForBenchmark runs cfg as a benchmark: b.N is the op count (at least
// one per client), measured from the first op (no warm-up), in a fresh
// directory under b.TempDir. It reports ns/op as wall time per op of the
// measured phase (1/throughput, not counting the preload), ops/s,
// p50/p99/p999 latency in ns, cpu-ns/op (process CPU time per op, every
// in-process node included), fsyncs/op and write amplification (disk bytes
// / logical bytes), and fails the benchmark on any op error.
func runForBenchmark(b *testing.B, cfg Config) *Outcome {
	b.Helper()
	cfg.EnsureDefaults()
	cfg.Ops, cfg.Duration, cfg.Warmup = int64(max(b.N, cfg.Clients)), 0, 0
	cfg.DataDir = b.TempDir()
	o, err := Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	r := o.Result
	s := r.Summary
	if s.Errors > 0 {
		b.Fatalf("%d errors: %v", s.Errors, s.ErrorsByMessage)
	}
	b.ReportMetric(1e9/s.ThroughputOpsS, "ns/op")
	b.ReportMetric(s.ThroughputOpsS, "ops/s")
	b.ReportMetric(s.Latency.P50Us*1e3, "p50-ns")
	b.ReportMetric(s.Latency.P99Us*1e3, "p99-ns")
	b.ReportMetric(s.Latency.P999Us*1e3, "p999-ns")
	b.ReportMetric(s.CPUPerOpUs*1e3, "cpu-ns/op")
	b.ReportMetric(float64(r.Fsyncs.WAL+r.Fsyncs.Engine)/float64(s.Ops), "fsyncs/op")
	b.ReportMetric(r.Disk.WriteAmplification, "w-amp")
	return o
}
