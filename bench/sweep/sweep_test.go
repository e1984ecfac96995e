package sweep

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"etcdlab/bench"
	"etcdlab/bench/runflags"
	"etcdlab/results"
	"etcdlab/results/report"
)

var seedFlag = flag.Int64("seed", 0, "order seed for the schedule test (0: time-based)")

func testSpec() Spec {
	return Spec{
		Name:    "t",
		Engines: []string{"bbolt", "pebble"},
		Params:  []Param{{Name: "snapshot-count", Values: []string{"100", "1000"}}},
		Fixed:   []runflags.Setting{{Name: "duration", Value: "1s"}},
		Repeat:  3,
	}
}

func TestScheduleInterleavedAndSeeded(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	s := testSpec()
	s.Seed = seed
	s.EnsureDefaults()
	plan := s.Schedule()
	if len(plan) != 4*3 {
		t.Fatalf("%d runs, want 12", len(plan))
	}
	seen := map[string]bool{}
	for i, p := range plan {
		if want := i / 4; p.Repeat != want {
			t.Errorf("run %d is repeat %d, want %d (every point's repeat k before any repeat k+1)", i, p.Repeat, want)
		}
		if seen[p.Dir] {
			t.Errorf("run %s scheduled twice", p.Dir)
		}
		seen[p.Dir] = true
	}
	again := s.Schedule()
	for i := range plan {
		if plan[i].Dir != again[i].Dir {
			t.Fatalf("same seed, different order at %d: %s vs %s", i, plan[i].Dir, again[i].Dir)
		}
	}
	// Across many seeds the first run of a round is not always the same point.
	first := map[string]bool{}
	for sd := int64(1); sd <= 20; sd++ {
		s.Seed = sd
		first[s.Schedule()[0].Point.ID] = true
	}
	if len(first) < 2 {
		t.Errorf("20 seeds all start with the same point: the order is not shuffled")
	}
	if got := plan[0].Point.ID; !strings.HasPrefix(got, "engine-") || !strings.Contains(got, "_snapshot-count-") {
		t.Errorf("point id %q: want engine-<e>_snapshot-count-<n>", got)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	s := Spec{
		Params: []Param{{Name: "snapshot-count", Values: []string{"100", "lots"}}, {Name: "bogus", Values: []string{"1"}}, {Name: "seed", Values: []string{"1"}}},
		Fixed:  []runflags.Setting{{Name: "snapshot-count", Value: "5"}},
	}
	s.EnsureDefaults()
	err := s.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"seed" cannot be swept`, `"snapshot-count" is both swept and fixed`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	s = Spec{Params: []Param{{Name: "snapshot-count", Values: []string{"100", "lots"}}, {Name: "bogus", Values: []string{"1"}}}}
	s.EnsureDefaults()
	err = s.Validate()
	for _, want := range []string{`"lots"`, `unknown parameter "bogus"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if s := (Spec{}); s.Validate() == nil {
		t.Error("empty spec accepted")
	}
}

// fakeRun writes a synthetic run directory: throughput = snapshot count, so
// the test can check that the parameter reached the config.
func fakeRun(calls *atomic.Int64, cancelAt int64, cancel func()) func(ctx context.Context, cfg bench.Config, out string) (*bench.Outcome, error) {
	return func(ctx context.Context, cfg bench.Config, out string) (*bench.Outcome, error) {
		n := calls.Add(1)
		r := results.New()
		r.Config = results.Config{Layer: cfg.Layer, Engine: cfg.Node.Engine, Nodes: cfg.Nodes, Seed: cfg.Seed, SnapshotCount: cfg.Node.SnapshotCount, Loop: cfg.Loop(), DurationS: cfg.Duration.Seconds()}
		r.Summary.ThroughputOpsS = float64(cfg.Node.SnapshotCount)
		r.Summary.Ops = 10
		r.Summary.DurationS = 1 // a finished run measured something (results.Result.Complete)
		r.Summary.Latency = results.Latency{P50Us: 1, P90Us: 2, P99Us: 3, P999Us: 4}
		r.Ops["put"] = results.OpStats{Count: 10, P50Us: 1, P90Us: 2, P99Us: 3, P999Us: 4}
		if n == cancelAt {
			cancel()
			r.Interrupted = true
		}
		st, err := results.Stage(out)
		if err != nil {
			return nil, err
		}
		b, _ := r.Marshal()
		if err := st.WriteFile(results.ResultFile, b); err != nil {
			return nil, err
		}
		if err := st.Commit(); err != nil {
			return nil, err
		}
		return &bench.Outcome{Result: r}, nil
	}
}

func TestRunInterruptResumeAndReport(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sw")
	var calls atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o, err := Run(ctx, Config{Spec: testSpec(), Out: out, RunFunc: fakeRun(&calls, 5, cancel)})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v, want ErrInterrupted", err)
	}
	if o.Ran != 4 || calls.Load() != 5 {
		t.Fatalf("ran %d (calls %d), want 4 finished and the 5th interrupted", o.Ran, calls.Load())
	}
	// Resume: the 4 finished runs are skipped, the interrupted one redone.
	calls.Store(0)
	o, err = Run(context.Background(), Config{Spec: testSpec(), Out: out, RunFunc: fakeRun(&calls, -1, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if o.Skipped != 4 || o.Ran != 8 || calls.Load() != 8 {
		t.Fatalf("resume: skipped %d ran %d calls %d, want 4, 8, 8", o.Skipped, o.Ran, calls.Load())
	}
	s, err := report.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 12 || len(s.Skipped) != 0 {
		t.Fatalf("%d runs, skipped %v", len(s.Runs), s.Skipped)
	}
	seeds := map[int]map[int64]bool{}
	for _, r := range s.Runs {
		v, _ := report.Point{Params: r.Params}.Param("snapshot-count")
		if got := fmt.Sprint(r.Result.Config.SnapshotCount); got != v {
			t.Errorf("%s: config snapshot count %s, param %s", r.Dir, got, v)
		}
		if seeds[r.Repeat] == nil {
			seeds[r.Repeat] = map[int64]bool{}
		}
		seeds[r.Repeat][r.Result.Config.Seed] = true
	}
	for k, ss := range seeds {
		if len(ss) != 1 || !ss[int64(1+k)] {
			t.Errorf("repeat %d seeds %v, want only %d", k, ss, 1+k)
		}
	}
	for _, f := range []string{report.SummaryFile, report.ReportFile, report.ManifestFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// A different sweep in the same directory is refused.
	other := testSpec()
	other.Repeat = 2
	if _, err := Run(context.Background(), Config{Spec: other, Out: out, RunFunc: fakeRun(&calls, -1, nil)}); !errors.Is(err, ErrOtherSweep) {
		t.Errorf("other sweep: %v, want ErrOtherSweep", err)
	}
	// So is the same product with other points left out.
	other = testSpec()
	other.Exclude = []string{"engine=pebble snapshot-count=100"}
	if _, err := Run(context.Background(), Config{Spec: other, Out: out, RunFunc: fakeRun(&calls, -1, nil)}); !errors.Is(err, ErrOtherSweep) {
		t.Errorf("other exclusions: %v, want ErrOtherSweep", err)
	}
}

func TestParseSpecAndOverride(t *testing.T) {
	s, err := ParseSpec([]byte("name: x\nparams: [\"read-ratio=0.5, 0.9\"]\nengines: [bbolt]\nfixed: [duration=2s]\nrepeat: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "x" || len(s.Params) != 1 || s.Params[0].Values[1] != "0.9" || s.Fixed[0].Value != "2s" || s.Repeat != 2 {
		t.Errorf("parsed %+v", s)
	}
	if _, err := ParseSpec([]byte("parms: []\n")); err == nil {
		t.Error("unknown field accepted")
	}
	if _, err := ParseParam("snapshot-count"); err == nil {
		t.Error("param without values accepted")
	}
	s.Override([]Param{{Name: "duration", Values: []string{"1s", "2s"}}}, []runflags.Setting{{Name: "read-ratio", Value: "0.7"}}, []string{"pebble"})
	s.EnsureDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(s.Params) != 1 || s.Params[0].Name != "duration" || len(s.Fixed) != 1 || s.Fixed[0].Name != "read-ratio" || s.Engines[0] != "pebble" {
		t.Errorf("override: %+v", s)
	}
}

func TestExperimentsValidate(t *testing.T) {
	for _, name := range Experiments() {
		s, err := Experiment(name)
		if err != nil {
			t.Fatal(err)
		}
		s.EnsureDefaults()
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Experiment("nope"); !errors.Is(err, ErrUnknownExperiment) {
		t.Errorf("unknown experiment: %v", err)
	}
}

// TestShortSweepEndToEnd runs a real sweep: two values × two engines × one
// repeat, on the mvcc layer, and checks its summary, figures and report.
func TestShortSweepEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 4 real benchmarks of about 2 s each")
	}
	out := filepath.Join(t.TempDir(), "sw")
	spec := Spec{Name: "e2e", Engines: []string{"bbolt", "pebble"}, Repeat: 1,
		Params: []Param{{Name: "read-ratio", Values: []string{"0.5", "0.9"}}},
		Fixed:  runflagsList("duration=2s", "warmup=0s", "keys=2000", "clients=4", "fsync-probe=-1")}
	o, err := Run(context.Background(), Config{Spec: spec, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if o.Ran != 4 {
		t.Fatalf("ran %d, want 4", o.Ran)
	}
	s, err := report.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Runs {
		if r.Result.Summary.Ops == 0 {
			t.Errorf("%s: no ops", r.Dir)
		}
	}
	figs, _ := filepath.Glob(filepath.Join(out, report.PlotsDir, "*.png"))
	if len(figs) < 3 {
		t.Errorf("%d figures", len(figs))
	}
	md, err := os.ReadFile(filepath.Join(out, report.ReportFile))
	if err != nil || !strings.Contains(string(md), "read-ratio=0.9 vs read-ratio=0.5") {
		t.Errorf("report: %v\n%s", err, md)
	}
}

func runflagsList(kv ...string) []runflags.Setting {
	var out []runflags.Setting
	for _, s := range kv {
		st, _ := ParseSetting(s)
		out = append(out, st)
	}
	return out
}

// TestParityPreset: the parity experiment sweeps every engine over the mvcc
// layer and 1- and 3-node clusters under puts and linearizable gets, with
// the quota check left on (it is one of the paths the experiment guards).
func TestParityPreset(t *testing.T) {
	s, err := Experiment("parity")
	if err != nil {
		t.Fatal(err)
	}
	s.EnsureDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Repeat < 2 {
		t.Errorf("repeat %d: a confidence interval needs 2+", s.Repeat)
	}
	got := map[string]bool{}
	for _, pt := range s.Points() {
		cfg, err := s.RunConfig(pt, 0)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Node.QuotaBytes <= 0 {
			t.Errorf("%s: quota %d: the quota check must stay in the measured path", pt.ID, cfg.Node.QuotaBytes)
		}
		if cfg.Layer == bench.LayerCluster && cfg.Workload.Ops.Get > 0 && cfg.Workload.ReadConsistency != "linearizable" {
			t.Errorf("%s: reads are %q, want linearizable (ReadIndex is part of the overhead)", pt.ID, cfg.Workload.ReadConsistency)
		}
		got[fmt.Sprintf("%s/%s/%d/%s", cfg.Node.Engine, cfg.Layer, cfg.Nodes, cfg.Workload.Name)] = true
	}
	for _, e := range []string{"bbolt", "pebble"} {
		for _, w := range []string{"etcd-put", "etcd-range"} {
			for _, l := range []string{"mvcc/1", "cluster/1", "cluster/3"} {
				if k := e + "/" + l + "/" + w; !got[k] {
					t.Errorf("no point %s", k)
				}
			}
		}
	}
	if len(got) != 12 {
		t.Errorf("%d points, want 12 (2 engines × mvcc, cluster/1, cluster/3 × put, get): %v", len(got), got)
	}
}

// TestExclude: rules drop the points all their terms match (swept values,
// else fixed ones); bad rules and a sweep with nothing left are refused.
func TestExclude(t *testing.T) {
	base := Spec{Params: []Param{
		{Name: "layer", Values: []string{"mvcc", "cluster"}},
		{Name: "nodes", Values: []string{"1", "3"}},
	}, Fixed: runflagsList("duration=1s")}
	for _, tc := range []struct {
		name    string
		exclude []string
		fixed   []string
		want    []string // point ids kept
		errs    []string // substrings of Validate's error
	}{
		{name: "none", want: []string{"layer-mvcc_nodes-1", "layer-mvcc_nodes-3", "layer-cluster_nodes-1", "layer-cluster_nodes-3"},
			errs: []string{"point layer-mvcc_nodes-3"}},
		{name: "not equal", exclude: []string{"layer=mvcc nodes!=1"}, want: []string{"layer-mvcc_nodes-1", "layer-cluster_nodes-1", "layer-cluster_nodes-3"}},
		{name: "two rules", exclude: []string{"layer=mvcc nodes=3", "--layer=cluster --nodes=1"}, want: []string{"layer-mvcc_nodes-1", "layer-cluster_nodes-3"}},
		{name: "fixed value", exclude: []string{"duration=1s layer=cluster"}, want: []string{"layer-mvcc_nodes-1", "layer-mvcc_nodes-3"},
			errs: []string{"point layer-mvcc_nodes-3"}},
		{name: "unset name never holds", exclude: []string{"layer=mvcc nodes!=1", "link-delay=1ms"}, want: []string{"layer-mvcc_nodes-1", "layer-cluster_nodes-1", "layer-cluster_nodes-3"}},
		{name: "bad rules", exclude: []string{"", "layer", "bogus=1"}, errs: []string{"empty exclude rule", `term "layer"`, `unknown parameter "bogus"`}},
		{name: "all excluded", exclude: []string{"nodes!=2"}, errs: []string{"every point is excluded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			s.Exclude = tc.exclude
			s.EnsureDefaults()
			err := s.Validate()
			for _, e := range tc.errs {
				if err == nil || !strings.Contains(err.Error(), e) {
					t.Errorf("Validate: %v, want an error with %q", err, e)
				}
			}
			if len(tc.errs) == 0 && err != nil {
				t.Errorf("Validate: %v", err)
			}
			if tc.want == nil {
				return
			}
			var ids []string
			for _, p := range s.Points() {
				ids = append(ids, p.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
				t.Errorf("points %v, want %v", ids, tc.want)
			}
		})
	}
}

// TestEnginesPreset: YCSB A–F on three systems, bbolt, pebble (its WAL
// synced) and pebble wal=disabled, each with the engine options it names.
func TestEnginesPreset(t *testing.T) {
	s, err := Experiment("engines")
	if err != nil {
		t.Fatal(err)
	}
	s.EnsureDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	systems := map[string]int{}
	for _, pt := range s.Points() {
		cfg, err := s.RunConfig(pt, 0)
		if err != nil {
			t.Fatal(err)
		}
		systems[cfg.Node.Engine+" "+strings.Join(cfg.Node.EngineOptions, " ")]++
	}
	want := map[string]int{"bbolt no-sync=false": 6, "pebble wal=synced": 6, "pebble wal=disabled": 6}
	if fmt.Sprint(systems) != fmt.Sprint(want) {
		t.Fatalf("systems %v, want %v", systems, want)
	}
}

// TestResumeRefusedAcrossBuilds: a sweep directory is resumed only by the
// build that started it; another build (other code, other defaults) is
// refused with a message saying so, rather than mixing its runs with the
// old ones. A manifest written before builds were recorded still resumes.
func TestResumeRefusedAcrossBuilds(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sw")
	var calls atomic.Int64
	if _, err := Run(context.Background(), Config{Spec: testSpec(), Out: out, RunFunc: fakeRun(&calls, -1, nil), Build: "build-a"}); err != nil {
		t.Fatal(err)
	}
	o, err := Run(context.Background(), Config{Spec: testSpec(), Out: out, RunFunc: fakeRun(&calls, -1, nil), Build: "build-a"})
	if err != nil || o.Ran != 0 || o.Skipped != 12 {
		t.Fatalf("same build: %+v, %v; want every run kept", o, err)
	}
	_, err = Run(context.Background(), Config{Spec: testSpec(), Out: out, RunFunc: fakeRun(&calls, -1, nil), Build: "build-b"})
	if !errors.Is(err, ErrOtherSweep) || !strings.Contains(err.Error(), "another etcdlab build") {
		t.Fatalf("other build: %v, want ErrOtherSweep naming the build", err)
	}
	m, err := report.ReadManifest(out)
	if err != nil || m.Build != "build-a" {
		t.Fatalf("manifest build %q, %v", m.Build, err)
	}
	m.Build = ""
	if err := report.WriteManifest(out, m); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Config{Spec: testSpec(), Out: out, RunFunc: fakeRun(&calls, -1, nil), Build: "build-b"}); err != nil {
		t.Fatalf("manifest without a build: %v", err)
	}
	if id := BuildID(); len(id) != 16 {
		t.Errorf("BuildID() = %q, want 16 hex digits of the test binary's hash", id)
	}
}

// TestOldSettingNames: a knob's old run name in --param, a spec file's
// fixed settings or an exclude rule means its etcd name, so it overrides a
// preset that sweeps the etcd name instead of sweeping the knob twice.
func TestOldSettingNames(t *testing.T) {
	s, err := Experiment("batch")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseParam("batch-limit=10000")
	if err != nil {
		t.Fatal(err)
	}
	s.Override([]Param{p}, nil, nil)
	s.Exclude = []string{"batch-interval=1s"}
	s.EnsureDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, q := range s.Params {
		names = append(names, q.Name)
	}
	if got := strings.Join(names, ","); got != "backend-batch-interval,backend-batch-limit" {
		t.Errorf("params %s, want backend-batch-interval,backend-batch-limit", got)
	}
	if n := len(s.Points()); n != 2*2 {
		t.Errorf("%d points, want 4 (2 engines × 2 intervals left, 1 limit)", n)
	}
	spec, err := ParseSpec([]byte("params: [\"snapshot-count=100,1000\"]\nfixed: [\"quota-bytes=1048576\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Fixed[0].Name != "quota-backend-bytes" {
		t.Errorf("fixed %v: want quota-backend-bytes", spec.Fixed)
	}
	// sweep.json says which swept knobs only the cluster layer reads.
	spec.Engines = []string{"bbolt"}
	spec.EnsureDefaults()
	m := spec.Manifest()
	if len(m.Params) != 2 || m.Params[0].Layers != nil || !slices.Equal(m.Params[1].Layers, []string{"cluster"}) {
		t.Errorf("manifest params %+v: want engine for every layer, snapshot-count for the cluster layer", m.Params)
	}
}

// TestK8sStorageTiny runs the k8s-storage experiment at a tiny size (2 MB,
// compaction every second, 4 s measured) end to end: every configuration
// runs, compacts and reports #22332's table with the over-time figures.
func TestK8sStorageTiny(t *testing.T) {
	spec, err := Experiment("k8s-storage")
	if err != nil {
		t.Fatal(err)
	}
	spec.Repeat = 1
	spec.Override(nil, runflagsList("scale=2MB", "duration=4s", "warmup=0s", "capacity-probe=1s", "time-scale=300",
		"clients=8", "fsync-probe=-1", "quota-backend-bytes=0"), nil)
	out := filepath.Join(t.TempDir(), "k8s")
	o, err := Run(context.Background(), Config{Spec: spec, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if o.Ran != 3 {
		t.Fatalf("ran %d runs, want 3 (bbolt, pebble, pebble wal=disabled)", o.Ran)
	}
	s, err := report.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	k := report.ComputeK8sStorage(s)
	if k == nil || len(k.Rows) != 3 {
		t.Fatalf("k8s-storage section: %+v", k)
	}
	for _, r := range k.Rows {
		if r.LogicalGB.Mean <= 0 || r.DiskGB.Mean <= 0 || r.CapacityWriteQPS.Mean <= 0 || r.WriteQPSOutside.Mean <= 0 {
			t.Errorf("%s: empty figures %+v", r.Engine, r)
		}
		if r.Compactions.Mean < 1 {
			t.Errorf("%s: no compaction in 4 s at one per second", r.Engine)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#22332", "pebble wal=disabled", "MVCC compaction time", "plots/k8s-bbolt"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}
