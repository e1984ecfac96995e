package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"etcdlab/cluster"
	"etcdlab/internal/clock"
	"etcdlab/internal/threadcpu"
	"etcdlab/results"
	"etcdlab/workloads"
)

var seedFlag = flag.Int64("seed", 1, "master seed for the workloads of these tests")

func seed(t testing.TB) int64 {
	t.Logf("seed %d (rerun with -seed=%d)", *seedFlag, *seedFlag)
	return *seedFlag
}

// smallSpec is a preset shrunk to keys keys.
func smallSpec(t testing.TB, preset string, keys int64) workloads.Spec {
	t.Helper()
	s, err := workloads.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	s.Keys.Count = keys
	if s.Preload != nil && *s.Preload > keys {
		s.Preload = &keys
	}
	if s.Keys.ExpectedInserts > 0 {
		s.Keys.ExpectedInserts = keys
	}
	return s
}

func noPreload(s workloads.Spec) workloads.Spec {
	var z int64
	s.Preload = &z
	return s
}

// fakeTarget takes a fixed time per op on a fake clock (it advances the
// clock itself), fails every failEvery-th op, and counts calls per kind.
type fakeTarget struct {
	clk       *clock.Fake
	took      time.Duration
	failEvery int64
	calls     atomic.Int64
	mu        sync.Mutex
	kinds     map[workloads.OpKind]int
}

func (f *fakeTarget) Do(_ context.Context, op *workloads.Op) error {
	n := f.calls.Add(1)
	f.mu.Lock()
	if f.kinds == nil {
		f.kinds = map[workloads.OpKind]int{}
	}
	f.kinds[op.Kind]++
	f.mu.Unlock()
	if f.clk != nil {
		f.clk.Advance(f.took)
	}
	if f.failEvery > 0 && n%f.failEvery == 0 {
		return errors.New("fake: injected failure")
	}
	return nil
}

func (f *fakeTarget) Close() error { return nil }

func TestClosedLoopDeterministicLatency(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	ft := &fakeTarget{clk: clk, took: time.Millisecond}
	cfg := Config{Workload: noPreload(smallSpec(t, "ycsb-a", 1000)), Seed: seed(t), Clients: 1, Ops: 1000, Clock: clk}
	o, err := RunTarget(context.Background(), cfg, ft)
	if err != nil {
		t.Fatal(err)
	}
	r := o.Result
	if r.Summary.Ops != 1000 || r.Summary.Errors != 0 {
		t.Fatalf("ops %d errors %d, want 1000 and 0", r.Summary.Ops, r.Summary.Errors)
	}
	var n int64
	for kind, st := range r.Ops {
		n += st.Count
		for name, v := range map[string]float64{"p50": st.P50Us, "p99": st.P99Us, "p999": st.P999Us, "max": st.MaxUs, "mean": st.MeanUs} {
			if math.Abs(v-1000) > 1 { // 3 significant digits
				t.Errorf("%s %s = %vµs, want 1000µs", kind, name, v)
			}
		}
	}
	if n != 1000 || len(r.Ops) != 2 {
		t.Fatalf("per-op counts sum to %d over %d kinds, want 1000 over get and put", n, len(r.Ops))
	}
	if math.Abs(r.Summary.DurationS-1) > 1e-9 || math.Abs(r.Summary.ThroughputOpsS-1000) > 1e-6 {
		t.Fatalf("duration %vs throughput %v, want 1s and 1000 ops/s on the fake clock", r.Summary.DurationS, r.Summary.ThroughputOpsS)
	}
	// The interval log covers every op once.
	var logged int
	for _, s := range o.Timeline {
		if s.Type == "interval" {
			logged += int(s.Ops)
		}
	}
	if logged != 1000 {
		t.Fatalf("timeline intervals hold %d ops, want 1000", logged)
	}
	if len(o.Latency) == 0 || o.Service != nil {
		t.Fatalf("closed loop: %d latency intervals, %d service intervals", len(o.Latency), len(o.Service))
	}
	if r.Summary.LogicalBytes == 0 {
		t.Fatal("no logical bytes counted for puts")
	}
}

// TestOpenLoopCoordinatedOmission: ops due every 1 ms that take 2 ms each
// fall further and further behind. Their latency from the intended start
// must grow (op j waits j ms), while the service time stays 2 ms.
func TestOpenLoopCoordinatedOmission(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	ft := &fakeTarget{clk: clk, took: 2 * time.Millisecond}
	cfg := Config{Workload: noPreload(smallSpec(t, "ycsb-c", 1000)), Seed: seed(t), Clients: 1, Ops: 500, Rate: 1000, Clock: clk}
	o, err := RunTarget(context.Background(), cfg, ft)
	if err != nil {
		t.Fatal(err)
	}
	g := o.Result.Ops["get"]
	if g.Count != 500 || g.Service == nil {
		t.Fatalf("get count %d service %v", g.Count, g.Service)
	}
	// op j (0-based) is due at j ms and completes at 2(j+1) ms: latency j+2 ms.
	if math.Abs(g.MaxUs-501_000) > 501 || math.Abs(g.P50Us-251_000) > 1_000 {
		t.Fatalf("latency p50 %vµs max %vµs, want ~251ms and 501ms", g.P50Us, g.MaxUs)
	}
	if math.Abs(g.Service.P50Us-2000) > 2 || math.Abs(g.Service.MaxUs-2000) > 2 {
		t.Fatalf("service p50 %vµs max %vµs, want 2ms", g.Service.P50Us, g.Service.MaxUs)
	}
	if len(o.Service) == 0 {
		t.Fatal("no service-time interval log in open loop")
	}
}

// TestOpenLoopPaces: an op faster than the schedule waits for its start, so
// the run takes ops/rate and latency equals service time.
func TestOpenLoopPaces(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	ft := &fakeTarget{took: 0} // never advances the clock: the pacer must
	cfg := Config{Workload: noPreload(smallSpec(t, "ycsb-c", 1000)), Seed: seed(t), Clients: 2, Ops: 100, Rate: 100, Clock: clk}
	done := make(chan struct{})
	var o *Outcome
	var err error
	go func() { o, err = RunTarget(context.Background(), cfg, ft); close(done) }()
	for i := 0; ; i++ {
		select {
		case <-done:
			if err != nil {
				t.Fatal(err)
			}
			if o.Result.Summary.Ops != 100 {
				t.Fatalf("ops %d, want 100", o.Result.Summary.Ops)
			}
			// 100 ops at 100/s: the last is due at 0.99 s.
			if d := o.Result.Summary.DurationS; d < 0.99 || d > 1.2 {
				t.Fatalf("duration %vs, want about 1s", d)
			}
			return
		default:
		}
		if i > 100_000 {
			t.Fatal("open loop did not finish")
		}
		clk.Advance(time.Millisecond)
		time.Sleep(10 * time.Microsecond)
	}
}

func TestWarmupNotRecordedAndErrorsCounted(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	ft := &fakeTarget{clk: clk, took: time.Millisecond, failEvery: 10}
	cfg := Config{Workload: noPreload(smallSpec(t, "ycsb-b", 1000)), Seed: seed(t), Clients: 1, Ops: 1000,
		Warmup: 100 * time.Millisecond, Clock: clk}
	o, err := RunTarget(context.Background(), cfg, ft)
	if err != nil {
		t.Fatal(err)
	}
	s := o.Result.Summary
	if s.WarmupOps != 100 {
		t.Fatalf("warm-up ops %d, want 100 (100 ms at 1 ms/op)", s.WarmupOps)
	}
	if got := ft.calls.Load(); got != 1100 {
		t.Fatalf("target saw %d ops, want 1100", got)
	}
	if s.Ops+s.Errors != 1000 || s.Errors != 100 {
		t.Fatalf("ops %d errors %d, want 900 and 100", s.Ops, s.Errors)
	}
	if s.ErrorsByMessage["fake: injected failure"] != 100 {
		t.Fatalf("errors by message: %v", s.ErrorsByMessage)
	}
}

func TestDurationOnFakeClock(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	ft := &fakeTarget{clk: clk, took: time.Millisecond}
	cfg := Config{Workload: noPreload(smallSpec(t, "ycsb-a", 1000)), Seed: seed(t), Clients: 1, Duration: time.Second, Clock: clk}
	o, err := RunTarget(context.Background(), cfg, ft)
	if err != nil {
		t.Fatal(err)
	}
	s := o.Result.Summary
	// The runner notices the deadline asynchronously, so a few more ops may
	// run; the throughput on the fake clock is exact whatever their number.
	if s.Ops < 1000 || math.Abs(s.ThroughputOpsS-1000) > 1 {
		t.Fatalf("ops %d throughput %v, want >= 1000 and 1000 ops/s", s.Ops, s.ThroughputOpsS)
	}
}

func TestConfigValidateReportsAll(t *testing.T) {
	cfg := Config{Layer: "raft", Node: cluster.NodeOptions{Engine: "leveldb"}, Nodes: 9, Clients: -1, Duration: time.Second, Ops: 5, Rate: -1}
	cfg.EnsureDefaults()
	err := cfg.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"unknown layer", "engine, mvcc, cluster", "leveldb", "nodes 9", "clients -1", "rate -1", "not both"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if !errors.Is(err, ErrUnknownLayer) || !errors.Is(err, ErrBadConfig) {
		t.Fatalf("error does not wrap the sentinels: %v", err)
	}
	ok := Config{Layer: LayerMVCC, Node: cluster.NodeOptions{Engine: "memory"}}
	ok.EnsureDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("default config rejected: %v", err)
	}
	mvccNodes := Config{Layer: LayerMVCC, Nodes: 3}
	mvccNodes.EnsureDefaults()
	if err := mvccNodes.Validate(); err == nil || !strings.Contains(err.Error(), "only the cluster layer") {
		t.Fatalf("mvcc with 3 nodes: %v", err)
	}
}

// TestLayers runs every op kind through the engine and mvcc layers on the
// memory engine: nothing may fail.
func TestLayers(t *testing.T) {
	for _, layer := range []string{LayerEngine, LayerMVCC} {
		for _, preset := range []string{"ycsb-a", "ycsb-e", "ycsb-f", "k8s"} {
			t.Run(layer+"/"+preset, func(t *testing.T) {
				spec := smallSpec(t, preset, 500)
				if preset == "k8s" {
					spec.ValueSize = workloads.Between(10, 100)
					spec.K8s.ValueSizes = nil
					if layer == LayerEngine {
						spec.K8s = nil // no revisions: plain requests on k8s-shaped keys
					} else {
						// The mvcc layer serves no leases or watches.
						spec.K8s.EventLeases, spec.K8s.ListAndWatch = new(bool), new(bool)
					}
				}
				cfg := Config{Layer: layer, Node: cluster.NodeOptions{Engine: "memory"}, Workload: spec, Seed: seed(t), Clients: 3, Ops: 600, DataDir: t.TempDir()}
				o, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				s := o.Result.Summary
				if s.Errors != 0 || s.Ops != 600 {
					t.Fatalf("ops %d errors %d (%v)", s.Ops, s.Errors, s.ErrorsByMessage)
				}
				if s.PreloadKeys != 500 {
					t.Fatalf("preloaded %d keys, want 500", s.PreloadKeys)
				}
				if o.Result.Config.EngineOptions == "" {
					t.Fatal("engine options not recorded")
				}
			})
		}
	}
}

// TestClusterLayer runs the full pipeline (raft, WAL, apply, reads) on three
// in-process nodes and checks what only the cluster layer reports: WAL
// fsyncs and bytes, and cluster events on the timeline.
func TestClusterLayer(t *testing.T) {
	for _, nodes := range []int{1, 3} {
		t.Run(fmt.Sprintf("nodes=%d", nodes), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r")
			cfg := Config{Layer: LayerCluster, Nodes: nodes, Workload: smallSpec(t, "ycsb-a", 200),
				Seed: seed(t), Clients: 4, Ops: 400, Node: cluster.NodeOptions{Engine: "bbolt", SnapshotCount: 100}, FsyncProbe: 5}
			o, err := RunToDir(context.Background(), cfg, out)
			if err != nil {
				t.Fatal(err)
			}
			r := o.Result
			if r.Summary.Errors != 0 || r.Summary.Ops != 400 {
				t.Fatalf("ops %d errors %d (%v)", r.Summary.Ops, r.Summary.Errors, r.Summary.ErrorsByMessage)
			}
			if r.Fsyncs.WAL == 0 || r.Disk.WALBytes == 0 {
				t.Fatalf("no WAL activity recorded: fsyncs %d, bytes %d", r.Fsyncs.WAL, r.Disk.WALBytes)
			}
			if threadcpu.Supported && r.Fsyncs.WALSyncCPUS <= 0 {
				t.Fatalf("%d WAL fsyncs recorded no CPU time (wal_sync_cpu_s %v)", r.Fsyncs.WAL, r.Fsyncs.WALSyncCPUS)
			}
			if r.Config.Nodes != nodes || r.Config.SnapshotCount != 100 || r.Config.RaftLogCompaction != "3.6" {
				t.Fatalf("config recorded as nodes=%d snapshot-count=%d raft-log-compaction=%q", r.Config.Nodes, r.Config.SnapshotCount, r.Config.RaftLogCompaction)
			}
			if len(r.Events) == 0 {
				t.Fatal("no cluster events recorded")
			}
			// The nodes' own registries, under etcd's names: the same
			// figures an --endpoints run scrapes.
			if s := r.Server; s == nil || s.Source != MetricsSourceRegistry || s.Members != nodes || s.WALFsyncs == 0 || s.Puts == 0 || s.DBSizeBytes == 0 {
				t.Fatalf("server metrics: %+v", r.Server)
			}
			if r.Fsyncs.Source != "layer" || r.Disk.DBSizeSource != "layer" {
				t.Fatalf("sources: fsyncs %q, db size %q", r.Fsyncs.Source, r.Disk.DBSizeSource)
			}
			withMetrics := 0
			for _, s := range o.Timeline {
				if s.Type == "interval" && s.Metrics[mWALFsync+"_count"] > 0 {
					withMetrics++
				}
			}
			if withMetrics == 0 {
				t.Fatal("no timeline interval carries the servers' metrics")
			}
		})
	}
}

// TestInterruptWritesPartialResults cancels a long run in its measured phase:
// the run directory must still appear, marked interrupted, with the ops done.
func TestInterruptWritesPartialResults(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{Layer: LayerMVCC, Node: cluster.NodeOptions{Engine: "memory"}, Workload: smallSpec(t, "ycsb-a", 1000), Seed: seed(t),
		Clients: 2, Duration: time.Hour, FsyncProbe: 5}
	type ret struct {
		o   *Outcome
		err error
	}
	done := make(chan ret, 1)
	go func() { o, err := RunToDir(ctx, cfg, out); done <- ret{o, err} }()
	time.Sleep(1500 * time.Millisecond)
	cancel()
	var r ret
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("run did not stop after cancel")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	res, err := results.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Summary.Ops == 0 || res.Summary.DurationS <= 0 || res.Summary.DurationS > 60 {
		t.Fatalf("interrupted %v ops %d duration %v", res.Interrupted, res.Summary.Ops, res.Summary.DurationS)
	}
	for _, f := range res.Files {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("listed file missing: %v", err)
		}
	}
}

func TestRunToDirComplete(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r")
	cfg := Config{Layer: LayerEngine, Node: cluster.NodeOptions{Engine: "bbolt"}, Workload: smallSpec(t, "ycsb-a", 2000), Seed: seed(t),
		Clients: 2, Duration: 1500 * time.Millisecond, FsyncProbe: 10}
	o, err := RunToDir(context.Background(), cfg, out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := results.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Ops != o.Result.Summary.Ops || res.Summary.Ops == 0 {
		t.Fatalf("ops on disk %d in memory %d", res.Summary.Ops, o.Result.Summary.Ops)
	}
	for k, st := range res.Ops {
		if !(st.P50Us <= st.P99Us && st.P99Us <= st.MaxUs) || st.Count == 0 {
			t.Errorf("%s: count %d p50 %v p99 %v max %v", k, st.Count, st.P50Us, st.P99Us, st.MaxUs)
		}
	}
	if res.Env.FsyncP50Us <= 0 || res.Env.Kernel == "" || res.Env.CPU == "" || res.Env.Filesystem == "" {
		t.Fatalf("env incomplete: %+v", res.Env)
	}
	if res.Fsyncs.Engine == 0 || res.Disk.DBSizeBytes == 0 || res.Disk.BytesWritten == 0 || res.Disk.WriteAmplification <= 0 {
		t.Fatalf("disk %+v fsyncs %+v", res.Disk, res.Fsyncs)
	}
	if res.Memory.PeakRSSBytes == 0 || res.Memory.PeakHeapBytes == 0 {
		t.Fatalf("memory %+v", res.Memory)
	}
	if res.Events["backend-commit"] == 0 {
		t.Fatalf("no backend commits among events %v", res.Events)
	}
	for _, f := range append(res.Files, results.ResultFile) {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Fatalf("staging or data directories left next to the output: %v", ents)
	}
}
