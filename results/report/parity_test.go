package report

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/results"
)

// parityCost is one fabricated configuration: its CPU µs per op and mean
// latency µs.
type parityCost struct {
	engine, layer string
	nodes         int
	workload      string
	cpu, lat      float64
	// walCPU is the WAL fdatasync CPU per op inside cpu (cluster runs).
	walCPU float64
	// attributed runs record engineCPU, the engine's code's part of cpu.
	attributed bool
	engineCPU  float64
	// readsPerRound, when set, gives cluster gets that many reads per
	// ReadIndex round.
	readsPerRound float64
	// syncs, when set, gives repeat k of a cluster run syncs[k] WAL syncs
	// per op, each above 0.4 adding batchCost µs to its CPU per op (the
	// measured fit has a negative intercept: fewer, larger batches save more
	// than their syncs).
	syncs     []float64
	batchCost float64
}

func parityResult(c parityCost, jitter float64, k int) *results.Result {
	op := "put"
	if c.workload == "etcd-range" {
		op = "get"
	}
	r := results.New()
	r.Config = results.Config{Layer: c.layer, Engine: c.engine, Nodes: c.nodes, Loop: "closed", DurationS: 3, Clients: 16,
		Workload: results.Workload{Name: c.workload}}
	lat := c.lat * jitter
	r.Summary = results.Summary{Ops: 1000, DurationS: 3, ThroughputOpsS: 333, CPUPerOpUs: c.cpu * jitter,
		Latency: results.Latency{P50Us: lat, P99Us: 2 * lat, MeanUs: lat}}
	r.Ops[op] = results.OpStats{Count: 1000, P50Us: lat, P99Us: 2 * lat, MeanUs: lat}
	r.Fsyncs.WALSyncCPUS = c.walCPU * jitter * 1000 / 1e6 // µs/op × 1000 ops
	if c.syncs != nil && c.layer == "cluster" {
		x := c.syncs[k%len(c.syncs)]
		r.Fsyncs.WAL = int64(x * 1000)
		r.Summary.CPUPerOpUs += c.batchCost * (x - 0.4)
	}
	if c.readsPerRound > 0 && op == "get" && c.layer == "cluster" {
		r.Summary.ReadIndexRounds = int64(1000 / c.readsPerRound)
	}
	if c.attributed {
		r.Summary.CPUEngineShare = c.engineCPU / c.cpu
		r.Summary.CPUOutsideEnginePerOpUs = (c.cpu - c.engineCPU) * jitter
	}
	return r
}

// writeParitySweep writes a sweep directory like the parity experiment's:
// engine × layer × nodes × workload, one repeat per jitter (a factor on
// every cost of the repeat).
func writeParitySweep(t *testing.T, dir string, costs []parityCost, jitters []float64) {
	t.Helper()
	m := &Manifest{Name: "parity", Repeat: len(jitters), Seed: 1, Params: []Param{
		{Name: "engine", Values: []string{"bbolt", "pebble"}},
		{Name: "layer", Values: []string{"mvcc", "cluster"}},
		{Name: "nodes", Values: []string{"1", "3"}},
		{Name: "workload", Values: []string{"etcd-put", "etcd-range"}},
	}, Exclude: []string{"layer=mvcc nodes!=1"}}
	for _, c := range costs {
		params := []Setting{{"engine", c.engine}, {"layer", c.layer}, {"nodes", fmt.Sprint(c.nodes)}, {"workload", c.workload}}
		point := fmt.Sprintf("engine-%s_layer-%s_nodes-%d_workload-%s", c.engine, c.layer, c.nodes, c.workload)
		for k, jitter := range jitters {
			run := filepath.Join(RunsDir, fmt.Sprintf("%s-r%d", point, k))
			writeRun(t, filepath.Join(dir, run), parityResult(c, jitter, k))
			m.Runs = append(m.Runs, ManifestRun{Dir: run, Point: point, Repeat: k, Params: params})
		}
	}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
}

// paritySet: bbolt's costs, and pebble's with its mvcc costs and the
// overheads given, per (workload, nodes).
func paritySet(pebbleMVCCPut, pebblePut1, pebblePut3, pebbleGet3 float64) []parityCost {
	const bboltMVCCPut, bboltMVCCGet = 10, 5
	return []parityCost{
		{"bbolt", "mvcc", 1, "etcd-put", bboltMVCCPut, 100, 0, false, 0, 0, nil, 0},
		{"bbolt", "cluster", 1, "etcd-put", bboltMVCCPut + 100, 900, 0, false, 0, 0, nil, 0},
		{"bbolt", "cluster", 3, "etcd-put", 3*bboltMVCCPut + 150, 1400, 0, false, 0, 0, nil, 0},
		{"bbolt", "mvcc", 1, "etcd-range", bboltMVCCGet, 50, 0, false, 0, 0, nil, 0},
		{"bbolt", "cluster", 1, "etcd-range", bboltMVCCGet + 20, 70, 0, false, 0, 0, nil, 0},
		{"bbolt", "cluster", 3, "etcd-range", bboltMVCCGet + 40, 200, 0, false, 0, 0, nil, 0},
		{"pebble", "mvcc", 1, "etcd-put", pebbleMVCCPut, 100, 0, false, 0, 0, nil, 0},
		{"pebble", "cluster", 1, "etcd-put", pebbleMVCCPut + pebblePut1, 900, 0, false, 0, 0, nil, 0},
		{"pebble", "cluster", 3, "etcd-put", 3*pebbleMVCCPut + pebblePut3, 1400, 0, false, 0, 0, nil, 0},
		{"pebble", "mvcc", 1, "etcd-range", 6, 55, 0, false, 0, 0, nil, 0},
		{"pebble", "cluster", 1, "etcd-range", 6 + 20, 75, 0, false, 0, 0, nil, 0},
		{"pebble", "cluster", 3, "etcd-range", 6 + pebbleGet3, 205, 0, false, 0, 0, nil, 0},
	}
}

// withWALCPU adds walCPU µs/op of WAL fdatasync CPU to one engine's 1-node
// cluster puts, inside its cluster cost, as pebble's heavier writes make the
// raft WAL's syncs cost more kernel time.
func withWALCPU(costs []parityCost, engine string, walCPU float64) []parityCost {
	out := append([]parityCost(nil), costs...)
	for i, c := range out {
		if c.engine == engine && c.layer == "cluster" && c.nodes == 1 && c.workload == "etcd-put" {
			out[i].cpu += walCPU
			out[i].walCPU = walCPU
		}
	}
	return out
}

// withAttribution marks every run as profiled: the engine's code is half
// of each mvcc cost and, in a cluster, k times that plus extra[engine] on
// 1-node puts (engine work that costs more per op in the cluster than
// alone). The extra is added to the cluster cost too.
func withAttribution(costs []parityCost, extra map[string]float64) []parityCost {
	mvcc := map[string]float64{}
	for _, c := range costs {
		if c.layer == "mvcc" {
			mvcc[c.engine+c.workload] = c.cpu
		}
	}
	out := append([]parityCost(nil), costs...)
	for i, c := range out {
		out[i].attributed = true
		k := 1.0
		if c.workload == "etcd-put" {
			k = float64(c.nodes)
		}
		out[i].engineCPU = k * mvcc[c.engine+c.workload] / 2
		if c.layer == "cluster" && c.nodes == 1 && c.workload == "etcd-put" {
			out[i].cpu += extra[c.engine]
			out[i].engineCPU += extra[c.engine]
		}
	}
	return out
}

// withBatching gives each engine's 3-node puts the WAL syncs per op of its
// repeats, each sync per op above 0.4 costing 1500 µs of CPU per op.
func withBatching(costs []parityCost, syncs map[string][]float64) []parityCost {
	out := append([]parityCost(nil), costs...)
	for i, c := range out {
		if c.nodes == 3 && c.workload == "etcd-put" {
			out[i].syncs, out[i].batchCost = syncs[c.engine], 1500
		}
	}
	return out
}

// withRounds gives each engine's cluster gets its reads per ReadIndex round.
func withRounds(costs []parityCost, rounds map[string]float64) []parityCost {
	out := append([]parityCost(nil), costs...)
	for i, c := range out {
		out[i].readsPerRound = rounds[c.engine]
	}
	return out
}

// withGet1 sets the engines' overheads of 1-node gets.
func withGet1(costs []parityCost, bbolt, pebble float64) []parityCost {
	mvcc := map[string]float64{}
	for _, c := range costs {
		if c.layer == "mvcc" && c.workload == "etcd-range" {
			mvcc[c.engine] = c.cpu
		}
	}
	out := append([]parityCost(nil), costs...)
	for i, c := range out {
		if c.layer == "cluster" && c.nodes == 1 && c.workload == "etcd-range" {
			out[i].cpu = mvcc[c.engine] + map[string]float64{"bbolt": bbolt, "pebble": pebble}[c.engine]
		}
	}
	return out
}

// TestParitySection: the report of a parity-shaped sweep has a Parity
// section whose verdict follows the overheads, naming the engine that
// pays more when it fails. Figures are fabricated; nothing is timed.
func TestParitySection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		costs   []parityCost
		jitters []float64 // default ±1%: narrow intervals
		status  string
		want    []string // substrings of report.md
		absent  []string
	}{
		{name: "pass", costs: paritySet(12, 101, 152, 41), status: ParityPass,
			want:   []string{"**Parity PASS**", "| workload=etcd-put (put) | 3 | **PASS** |", "| workload=etcd-range (get) | 3 | **PASS** |"},
			absent: []string{"FAIL", "engine-specific"}},
		{name: "3-node puts subtract every replica's apply", costs: paritySet(20, 100, 150, 40), status: ParityPass,
			// Subtracting one mvcc put would leave pebble's two extra
			// follower applies (2 × 10 µs) in its overhead: 190 vs 170.
			want:   []string{"| workload=etcd-put (put) | 3 | **PASS** | 0.0% |", "| workload=etcd-put (put) | 3 | pebble | 20.0 ± "},
			absent: []string{"FAIL"}},
		{name: "fail names the engine", costs: paritySet(12, 140, 152, 41), status: ParityFail,
			want: []string{"**Parity FAIL**", "| workload=etcd-put (put) | 1 | **FAIL** | 40.0% |",
				"engine-specific cost: pebble pays 40.0 ± 23.9 µs/op more than bbolt outside the engine (overhead 140.0 vs 100.0 µs/op, +40%)"},
			absent: []string{"bbolt pays"}},
		{name: "the WAL's fdatasync CPU is shown and stays in the overhead", costs: withWALCPU(paritySet(12, 101, 152, 41), "pebble", 30), status: ParityFail,
			want: []string{"| workload=etcd-put (put) | 1 | **FAIL** |", "| workload=etcd-put (put) | 1 | pebble | 12.0 ± 1.52 | 143.0 ± 18.2 | 30.0 ± 3.81 | 1 | 131.0 ± "}},
		{name: "attributed: engine work dearer in the cluster is not overhead", costs: withAttribution(paritySet(12, 101, 152, 41), map[string]float64{"pebble": 40}), status: ParityPass,
			// The subtraction alone would charge pebble 141 vs 100 µs/op.
			want: []string{"| workload=etcd-put (put) | 1 | **PASS** |", "CPU outside the engine's code (profile attribution)",
				"| workload=etcd-put (put) | 1 | pebble | 6 ± 0.762 | 107.0 ± 13.6 | 1 | 101.0 ± 13.6 | 40.0 |", "| workload=etcd-put (put) | 1 | pebble | 12.0 ± 1.52 | 153.0 ± "},
			absent: []string{"FAIL"}},
		{name: "attributed: harness cost outside the engine still fails", costs: withAttribution(paritySet(12, 140, 152, 41), nil), status: ParityFail,
			want: []string{"| workload=etcd-put (put) | 1 | **FAIL** |", "pebble pays 40.0 ± "}},
		{name: "fail on gets at 3 nodes", costs: paritySet(12, 101, 152, 60), status: ParityFail,
			want: []string{"| workload=etcd-range (get) | 3 | **FAIL** | 50.0% |", "pebble pays 20.0 ± 10.2 µs/op more than bbolt"}},
		{name: "no measurable overhead is n/a", costs: withGet1(paritySet(12, 101, 152, 41), 0.1, 0.02), jitters: []float64{0.9, 1, 1.1}, status: ParityPass,
			// A 1-node cluster answers a linearizable get at once: its
			// overheads are noise around 0 and their ratio (5×) means nothing.
			want:   []string{"**Parity PASS**", "| workload=etcd-range (get) | 1 | **n/a** | — | — |", "no measurable overhead to compare (bbolt 0.1 ± "},
			absent: []string{"FAIL", "INCONCLUSIVE"}},
		{name: "reads that shared rounds unlike are not comparable", costs: withRounds(paritySet(12, 101, 152, 41), map[string]float64{"bbolt": 1.45, "pebble": 1.11}), status: ParityNotComparable,
			// Their overheads agree (a pass by spread alone), but a round's
			// cost is split over 1.45 reads on one engine and 1.11 on the other.
			want: []string{"**Parity NOT COMPARABLE**", "| workload=etcd-range (get) | 1 | **NOT COMPARABLE** |",
				"shared ReadIndex rounds unlike (bbolt 1.45 ± ", "vs pebble 1.11 ± ", "compare reads at 1 client"},
			absent: []string{"FAIL", "| workload=etcd-put (put) | 1 | **NOT COMPARABLE**"}},
		{name: "reads that shared rounds alike are judged", costs: withRounds(paritySet(12, 101, 152, 41), map[string]float64{"bbolt": 1, "pebble": 1.05}), status: ParityPass,
			want: []string{"| workload=etcd-range (get) | 1 | **PASS** |"}, absent: []string{"NOT COMPARABLE"}},
		{name: "batching flips are taken out of the comparison", costs: withBatching(paritySet(12, 101, 152, 41), map[string][]float64{
			"bbolt": {0.45, 0.52, 0.45, 0.52, 0.45, 0.52}, "pebble": {0.52, 0.52, 0.45, 0.52, 0.52, 0.52}}),
			jitters: []float64{0.99, 1.01, 1, 0.995, 1.005, 1}, status: ParityPass,
			// As measured pebble pays 37 µs/op more (two more of its runs
			// batched small, 105 µs/op dearer each): 314.5 vs 277.5, +13%.
			want:   []string{"| workload=etcd-put (put) | 3 | **PASS** | 0.6% |", "| workload=etcd-put (put) | 3 | pebble | 296.9 ± 1.33 | 314.5 ± 45.0 | 0.508 ± 0.03 | 1505.5 | — |"},
			absent: []string{"FAIL", "NOT COMPARABLE"}},
		{name: "an engine-specific cost still fails at common batching", costs: withBatching(paritySet(12, 101, 192, 41), map[string][]float64{
			"bbolt": {0.45, 0.52, 0.45, 0.52, 0.45, 0.52}, "pebble": {0.45, 0.52, 0.52, 0.45, 0.52, 0.45}}),
			jitters: []float64{0.99, 1.01, 1, 0.995, 1.005, 1}, status: ParityFail,
			want: []string{"| workload=etcd-put (put) | 3 | **FAIL** |", "pebble pays 42.0 ± "}},
		{name: "writes batched unlike are not comparable", costs: withBatching(paritySet(12, 101, 152, 41), map[string][]float64{
			"bbolt": {0.40, 0.41, 0.40, 0.42}, "pebble": {0.50, 0.51, 0.50, 0.52}}),
			jitters: []float64{0.99, 1.01, 1, 1}, status: ParityNotComparable,
			want: []string{"| workload=etcd-put (put) | 3 | **NOT COMPARABLE** |", "batched unlike (pebble 0.508 ± "}},
		{name: "inconclusive within the noise", costs: paritySet(12, 120, 152, 41), jitters: []float64{0.9, 1, 1.1}, status: ParityInconclusive,
			want: []string{"**Parity INCONCLUSIVE**", "| workload=etcd-put (put) | 1 | **INCONCLUSIVE** | 20.0% |",
				"pebble pays 20.0 ± ", "within the noise (the 95% CI of the excess includes 0)"},
			absent: []string{"FAIL", "engine-specific"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.jitters == nil {
				tc.jitters = []float64{0.99, 1.01}
			}
			writeParitySweep(t, dir, tc.costs, tc.jitters)
			s, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			p := ComputeParity(s)
			if p == nil {
				t.Fatal("no parity section for a sweep over layers")
			}
			if p.Status != tc.status || len(p.Checks) != 4 {
				t.Errorf("status %s with %d checks, want %s with 4 (put and get at 1 and 3 nodes)", p.Status, len(p.Checks), tc.status)
			}
			md := Markdown(s, nil)
			if !strings.Contains(md, "## Parity: the cost outside the engine") {
				t.Fatalf("report.md has no Parity section:\n%s", md)
			}
			for _, w := range tc.want {
				if !strings.Contains(md, w) {
					t.Errorf("report.md lacks %q", w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(md, a) {
					t.Errorf("report.md has %q", a)
				}
			}
			if t.Failed() {
				t.Logf("report.md:\n%s", md)
			}
		})
	}
}

// TestParityAbsent: a sweep on one layer has no Parity section.
func TestParityAbsent(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, filepath.Join(dir, "r0"), synthetic("bbolt", 1000, 500))
	writeRun(t, filepath.Join(dir, "r1"), synthetic("bbolt", 1100, 510))
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p := ComputeParity(s); p != nil {
		t.Errorf("parity of a one-layer set: %+v", p)
	}
	if md := Markdown(s, nil); strings.Contains(md, "## Parity") {
		t.Error("report.md has a Parity section for a one-layer set")
	}
}
