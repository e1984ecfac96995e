package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// synthetic builds results for two repeats where etcdlab-bbolt is faster
// than etcd on every case but one repeat of range-lin c=1000, and pebble's
// put c=1000 failed some requests.
func synthetic() *Results {
	r := &Results{Repeat: 2, Systems: allSystems, Nodes: []int{1}, Cases: defaultCases(true, 1)}
	rps := map[string]float64{"etcd": 1000, "etcdlab-bbolt": 1500, "etcdlab-pebble": 800}
	for rep := 0; rep < 2; rep++ {
		for _, c := range r.Cases {
			for _, s := range allSystems {
				m := Measurement{System: s, Nodes: 1, Repeat: rep, Case: c.Name,
					Summary: Summary{ReqPerSec: rps[s], Latency: map[string]float64{"50": 0.001, "99": 0.010}}}
				if s == "etcdlab-bbolt" {
					m.Summary.Latency["99"] = 0.005
					if c.Name == "range-lin c=1000" && rep == 1 {
						m.Summary.ReqPerSec = 100 // loses this repeat; mean still ahead
					}
				}
				if s == "etcdlab-pebble" && c.Name == "put c=1000" {
					m.Summary.Errors = map[string]int{"etcdserver: request timed out": 3}
					m.Error = "3 of 20000 requests failed"
				}
				if c.Args[0] == "watch-latency" {
					m.Parts = map[string]Summary{"events": m.Summary,
						"put": {ReqPerSec: 100, Latency: map[string]float64{"50": 0.002, "99": 0.004}}}
				}
				r.Measurements = append(r.Measurements, m)
			}
		}
	}
	return r
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	r := synthetic()
	if err := writeReport(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	rep := string(b)
	for _, want := range []string{
		"| put c=1000 | 1000 | 1.000 | 10.000 | 1500 **1.50×** | 1.000 | 5.000 | — (6 failed) | — | — |",
		// Faster than etcd is outside the fidelity band, not a win.
		"- put c=1: bbolt 1500 vs etcd 1000 req/s = **1.50×**, p99 5.00 vs 10.00 ms (**0.50×**); bbolt ahead in 2 of 2 repeats — **outside**",
		// range-lin c=1000: mean (1500+100)/2 = 800 < 1000.
		"- range-lin c=1000: bbolt 800 vs etcd 1000 req/s = **0.80×**, p99 5.00 vs 10.00 ms (**0.50×**); bbolt ahead in 1 of 2 repeats — **outside**",
		"- put c=1: pebble 800 vs bbolt 1500 req/s = **0.53×**",
		"--key-space-size=100000",
		// Multi-part commands get a row per part; paced rows are judged on p99.
		"| watch-latency put | 100 | 2.000 | 4.000 |",
		"- watch-latency events: p99 5.000 vs 10.000 ms (**0.50×**), paced at 1500 vs 1000 req/s — **outside**",
		"| txn-mixed c=1000 write | 1000 |",
		"## Watch and lease targets (issue #14, 1 node)",
		"- watch-latency events, etcdlab-bbolt: p99 5.000 vs etcd 10.000 ms = **0.50×** (target 0.75–1.25×) — **missed**",
		"- lease-keepalive c=1000, etcdlab-bbolt: 1500 vs etcd 1000 req/s = **1.50×** (target ≥ 0.9×) — **met**",
		"- lease-keepalive c=1, etcdlab-pebble: 800 vs etcd 1000 req/s = **0.80×** (target ≥ 0.9×) — **missed**",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	for _, png := range []string{"throughput-1node.png", "p99-1client-1node.png", "p99-1000clients-1node.png"} {
		st, err := os.Stat(filepath.Join(dir, png))
		if err != nil || st.Size() < 1000 {
			t.Errorf("plot %s missing or empty: %v", png, err)
		}
	}
}

// TestWriteReportSelectedCases: a run of one case (-cases) writes its report
// and only the figures that have data.
func TestWriteReportSelectedCases(t *testing.T) {
	dir := t.TempDir()
	r := synthetic()
	r.Cases = selectCases(r.Cases, []string{"put c=1000"})
	if err := writeReport(dir, r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "p99-1client-1node.png")); err == nil {
		t.Error("a 1-client figure was drawn for a run without 1-client cases")
	}
	for _, png := range []string{"throughput-1node.png", "p99-1000clients-1node.png"} {
		if _, err := os.Stat(filepath.Join(dir, png)); err != nil {
			t.Errorf("plot %s: %v", png, err)
		}
	}
}

func TestAggregateSkipsFailedRuns(t *testing.T) {
	cells := aggregate(synthetic())
	st := cells[cellKey{"etcdlab-pebble", 1, "put c=1000"}]
	if st == nil || len(st.rps) != 0 || st.failed != 6 {
		t.Fatalf("pebble put c=1000 cell = %+v, want no figures and 6 failed requests", st)
	}
	if got := len(cells[cellKey{"etcd", 1, "put c=1"}].rps); got != 2 {
		t.Errorf("etcd put c=1 has %d figures, want 2", got)
	}
}
