package report

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/plots"
	"etcdlab/results"
)

// synthetic returns a result with the given throughput and get p99.
func synthetic(engine string, tput, getP99 float64) *results.Result {
	r := results.New()
	r.Config = results.Config{Layer: "mvcc", Engine: engine, Nodes: 1, Loop: "closed", DurationS: 1, Workload: results.Workload{Name: "ycsb-a", Spec: "multi\nline"}}
	r.Summary = results.Summary{Ops: int64(tput), DurationS: 1, ThroughputOpsS: tput, Latency: results.Latency{P50Us: 10, P99Us: getP99}}
	r.Ops["get"] = results.OpStats{Count: int64(tput), P50Us: 10, P90Us: 20, P99Us: getP99, P999Us: getP99 * 2, MaxUs: getP99 * 3, MeanUs: 12}
	r.Memory.PeakRSSBytes = 100 << 20
	r.Disk.DBSizeBytes = 10 << 20
	r.Events["snapshot-taken"] = 3
	return r
}

func writeRun(t *testing.T, dir string, r *results.Result) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, results.ResultFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func ratioOf(t *testing.T, rs []Ratio, path string) Ratio {
	t.Helper()
	for _, r := range rs {
		if r.Metric.Path == path {
			return r
		}
	}
	t.Fatalf("no ratio for %s", path)
	return Ratio{}
}

func TestRatioCIKnownValues(t *testing.T) {
	for _, tc := range []struct {
		name          string
		a, b          []float64
		ratio, lo, hi float64 // NaN: expected NaN
	}{
		// cv² per side = s²/(n·m²) = 1/300; se = sqrt(2/300); Welch df = 4,
		// t = 2.7764; bounds 2·exp(∓2.7764·0.0816497).
		{"equal spread ratio 2", []float64{90, 100, 110}, []float64{180, 200, 220}, 2, 1.59433, 2.50890},
		{"no spread", []float64{5, 5}, []float64{10, 10}, 2, 2, 2},
		{"same", []float64{90, 100, 110}, []float64{90, 100, 110}, 1, 0.79716, 1.25445},
		{"one repeat", []float64{100}, []float64{150}, 1.5, math.NaN(), math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, lo, hi := RatioCI(tc.a, tc.b)
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"ratio", r, tc.ratio}, {"lo", lo, tc.lo}, {"hi", hi, tc.hi}} {
				if math.IsNaN(c.want) {
					if !math.IsNaN(c.got) {
						t.Errorf("%s = %v, want NaN", c.name, c.got)
					}
					continue
				}
				if math.Abs(c.got-c.want) > 1e-4*math.Max(1, math.Abs(c.want)) {
					t.Errorf("%s = %.5f, want %.5f", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestCompareKnownRatios(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for i, v := range []float64{90, 100, 110} {
		writeRun(t, filepath.Join(a, "r"+string(rune('0'+i))), synthetic("bbolt", v*100, v))
		// B: throughput ×2 (spread alike), get p99 the same.
		writeRun(t, filepath.Join(b, "r"+string(rune('0'+i))), synthetic("pebble", v*200, v))
	}
	sa, err := Load(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	rs := Compare(sa.Runs, sb.Runs)
	tp := ratioOf(t, rs, "summary.throughput_ops_s")
	if math.Abs(tp.Ratio-2) > 1e-9 || !tp.Significant || tp.NA != 3 || tp.NB != 3 {
		t.Errorf("throughput: %+v, want ratio 2, significant, n 3/3", tp)
	}
	p99 := ratioOf(t, rs, "ops.get.p99_us")
	if math.Abs(p99.Ratio-1) > 1e-9 || p99.Significant {
		t.Errorf("get p99: %+v, want ratio 1, not significant", p99)
	}
	rss := ratioOf(t, rs, "memory.peak_rss_bytes")
	if rss.Ratio != 1 || rss.Lo != 1 || rss.Hi != 1 || rss.Significant {
		t.Errorf("rss with no spread: %+v, want exactly 1, not significant", rss)
	}
	var out bytes.Buffer
	PrintComparison(&out, "a", "b", rs)
	if !strings.Contains(out.String(), "2.000 *") {
		t.Errorf("throughput ratio not marked significant:\n%s", out.String())
	}
}

// sweepFixture writes a sweep directory of synthetic runs: engine ×
// snapshot-count, two repeats, pebble twice bbolt's throughput.
func sweepFixture(t *testing.T) string {
	dir := t.TempDir()
	m := &Manifest{Name: "fixture", Params: []Param{{Name: "engine", Values: []string{"bbolt", "pebble"}}, {Name: "snapshot-count", Values: []string{"1000", "10000"}, Layers: []string{"cluster"}}}, Repeat: 2, Seed: 1}
	for k := 0; k < 2; k++ {
		for _, e := range []string{"bbolt", "pebble"} {
			for _, sc := range []string{"1000", "10000"} {
				id := "engine-" + e + "_snapshot-count-" + sc
				rd := filepath.Join(RunsDir, id+"-r"+string(rune('0'+k)))
				m.Runs = append(m.Runs, ManifestRun{Dir: rd, Point: id, Repeat: k, Params: []Setting{{"engine", e}, {"snapshot-count", sc}}})
				tput := 1000.0 + float64(k)*10
				if e == "pebble" {
					tput *= 2
				}
				res := synthetic(e, tput, 500)
				writeRun(t, filepath.Join(dir, rd), res)
				if k == 0 && e == "pebble" && sc == "1000" {
					res.Summary.ErrorsByMessage = map[string]int64{"etcdserver: mvcc: database space exceeded": 7}
					writeRun(t, filepath.Join(dir, rd), res)
					tl := `{"type":"interval","t_s":0,"length_s":1,"ops":5,"db_size_bytes":1048576}` + "\n" +
						`{"type":"event","t_s":1.5,"kind":"alarm-raised","node":2,"detail":"NOSPACE"}` + "\n" +
						`{"type":"interval","t_s":2,"length_s":1,"ops":5,"db_size_bytes":3145728}` + "\n"
					if err := os.WriteFile(filepath.Join(dir, rd, results.TimelineFile), []byte(tl), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	// An interrupted run is left out of everything.
	intr := synthetic("bbolt", 1, 1)
	intr.Interrupted = true
	m.Runs = append(m.Runs, ManifestRun{Dir: "runs/x-r2", Point: "x", Repeat: 2})
	writeRun(t, filepath.Join(dir, "runs/x-r2"), intr)
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSummaryCSVAndReport(t *testing.T) {
	dir := sweepFixture(t)
	path, err := Write(dir, plots.Style{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+8 {
		t.Fatalf("%d csv rows, want header + 8 runs (interrupted left out)", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, want := range []string{"run", "point", "repeat", "param.engine", "param.snapshot-count", "config.engine", "summary.throughput_ops_s", "ops.get.p99_us", "memory.peak_rss_bytes", "disk.db_size_bytes", "events.snapshot-taken"} {
		if _, ok := col[want]; !ok {
			t.Errorf("summary.csv lacks column %q", want)
		}
	}
	if _, ok := col["config.workload.spec"]; ok {
		t.Error("summary.csv has the multi-line workload spec")
	}
	for _, r := range rows[1:] {
		if r[col["param.engine"]] != r[col["config.engine"]] {
			t.Errorf("row %v: param.engine differs from config.engine", r[:3])
		}
	}
	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	for _, want := range []string{"# etcdlab report: fixture", "## What this shows", "**engine=pebble vs engine=bbolt** at snapshot-count=1000: throughput ×2.00",
		"## Environment", "### throughput (ops/s)", "plots/metric-summary.throughput_ops_s.png", "interrupted",
		"## Alarms", "| engine=pebble snapshot-count=1000 | 0 | 1.50 | 3 MiB | 2000 | 7 |",
		"snapshot-count is read only by the cluster layer; this sweep ran on the mvcc layer",
		"node options `snapshot-count=0 experimental-snapshot-catchup-entries=0 raft-log-compaction=\"\" ", "The raft log compaction rule was not recorded"} {
		if !strings.Contains(s, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "](plots/") {
			name := l[strings.Index(l, "](")+2 : strings.LastIndex(l, ")")]
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("report links %s: %v", name, err)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), "no completed runs") {
		t.Errorf("empty dir: %v", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, ManifestFile), []byte(`{"schema":"etcdlab/sweep/v9"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "v9") {
		t.Errorf("foreign manifest: %v", err)
	}
}
