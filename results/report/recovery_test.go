package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"etcdlab/plots"
	"etcdlab/results"
)

// TestRecoverySections: runs carrying recovery and quota_recovery get their
// sections, columns and metrics; a run with a latency.hlog gets a spectrum
// and CDF drawn from it.
func TestRecoverySections(t *testing.T) {
	dir := t.TempDir()
	r := synthetic("bbolt", 1000, 500)
	r.Recovery = &results.Recovery{Node: 2, Method: "kill", RestartS: 0.25, RestoreS: 0.05, CatchUpS: 0.75, AppliedAtStart: 900, LeaderCommit: 1000}
	r.QuotaRecovery = &results.QuotaRecovery{CompactS: 0.01, DefragS: 0.3, DefragNodeS: map[string]float64{"1": 0.1, "2": 0.2},
		DisarmS: 0.002, TotalS: 0.4, DBSizeBefore: 64 << 20, DBSizeAfter: 8 << 20, WritesOKAfter: true,
		DuringDefrag:       map[string]results.OpStats{"linearizable": {Count: 40, P50Us: 100, P99Us: 9000, MaxUs: 12000}},
		DuringDefragErrors: 3}
	run := filepath.Join(dir, "r1")
	writeRun(t, run, r)
	h := hdr.New(1000, 60e9, 3)
	for i := int64(0); i < 20_000; i++ {
		_ = h.RecordValue(100_000 + i*10)
	}
	payload, err := h.EncodeV2()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(run, results.LatencyLogFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := results.WriteHistogramLog(f, time.Unix(1700000000, 0), "", []results.LogInterval{{Tag: "get", Length: time.Second, MaxNs: h.Max(), Payload: string(payload)}}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	path, err := Write(dir, plots.Style{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	for _, want := range []string{
		"## Recovery of a restarted follower", "| 2 (kill) | 0.250 | 0.050 | 0.750 | 900 | 1000 | — |",
		"## Quota recovery", "0.300 (1: 0.100, 2: 0.200)", "64.0 → 8 MiB | true | false |",
		"| linearizable | 40 | 100.0 | 9000.0 | 12000 | 3 |",
		"### restarted follower caught up after (s)", "### linearizable get p99 during defrag (µs)",
		"plots/spectrum.png", "plots/cdf.png", "from each run's latency.hlog",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	csv, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"recovery.catch_up_s", "quota_recovery.defrag_node_s.2", "quota_recovery.during_defrag.linearizable.p99_us"} {
		if !strings.Contains(string(csv), col) {
			t.Errorf("summary.csv lacks %s", col)
		}
	}
}
