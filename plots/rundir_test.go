package plots

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"etcdlab/results"
)

// writeRunLog writes a latency.hlog of two one-second intervals of "put"
// (values v ns each, n per interval) and one of "get" into dir.
func writeRunLog(t *testing.T, dir string, n int, v int64) {
	t.Helper()
	enc := func(vals int, val int64) (string, int64) {
		h := hdr.New(1000, 60e9, 3)
		for i := 0; i < vals; i++ {
			_ = h.RecordValue(val + int64(i))
		}
		b, err := h.EncodeV2()
		if err != nil {
			t.Fatal(err)
		}
		return string(b), h.Max()
	}
	p, m := enc(n, v)
	g, gm := enc(n, 2*v)
	f, err := os.Create(filepath.Join(dir, results.LatencyLogFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := results.WriteHistogramLog(f, time.Unix(1700000000, 0), "", []results.LogInterval{
		{Tag: "put", Length: time.Second, MaxNs: m, Payload: p},
		{Tag: "get", Length: time.Second, MaxNs: gm, Payload: g},
		{Tag: "put", Start: time.Second, Length: time.Second, MaxNs: m, Payload: p},
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRunDirSpectra: with a latency log the lines are full histograms in
// nanoseconds reaching p99.99 when there are 10^4+ samples; without one
// they fall back to the summary's four percentiles.
func TestRunDirSpectra(t *testing.T) {
	dir := t.TempDir()
	writeRunLog(t, dir, 10_000, 500_000) // 0.5 ms
	r := results.New()
	lines, err := RunDirSpectra("bbolt", dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0].Label != "bbolt get" || lines[1].Label != "bbolt put" {
		t.Fatalf("labels: %+v", lines)
	}
	put := lines[1]
	if put.Hist == nil || put.Hist.TotalCount() != 20_000 || put.HistUnit != time.Nanosecond {
		t.Fatalf("put line: %+v", put)
	}
	pts, err := put.percentilePoints()
	if err != nil {
		t.Fatal(err)
	}
	if first := pts[0]; first.p != 0 || first.micros < 499.5 || first.micros > 501 {
		t.Fatalf("p%v = %v µs, want the minimum, 500", first.p, first.micros)
	}
	last := pts[len(pts)-1]
	if last.p < 99.99 {
		t.Fatalf("spectrum ends at p%v with 20000 samples, want >= p99.99", last.p)
	}
	if last.micros < 500 || last.micros > 520 {
		t.Fatalf("p%v = %v µs, want about 510 (values in ns read as ns)", last.p, last.micros)
	}
	all, err := RunDirAllOps("bbolt", dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if all.Hist.TotalCount() != 30_000 {
		t.Fatalf("all-ops count %d, want 30000", all.Hist.TotalCount())
	}
	if _, err := CDF("t", lines, LatencyOptions{LogScale: true}); err != nil {
		t.Fatal(err)
	}

	// Without a log: the summary's four percentiles.
	empty := t.TempDir()
	r.Ops["put"] = results.OpStats{Count: 5, P50Us: 1, P90Us: 2, P99Us: 3, P999Us: 4}
	lines, err = RunDirSpectra("x", empty, r)
	if err != nil || len(lines) != 1 || lines[0].Hist != nil || len(lines[0].Percentiles) != 4 {
		t.Fatalf("fallback: %+v, %v", lines, err)
	}
	// A log that cannot be read is an error, not a silent fallback.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, results.LatencyLogFile), []byte("Tag=put,1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := RunDirSpectra("x", bad, r); err == nil {
		t.Fatal("a malformed log was accepted")
	}
}

// TestSpectrumSubResolution: values below the histogram's lowest
// discernible value (here 100 ns under a 1 µs floor) still draw on a log
// scale; quantile 0 must not come out as 0.
func TestSpectrumSubResolution(t *testing.T) {
	h := hdr.New(1000, 60e9, 3)
	for i := 0; i < 1000; i++ {
		_ = h.RecordValue(100)
	}
	_ = h.RecordValue(5000)
	line := SpectrumLine{Label: "fast", Hist: h, HistUnit: time.Nanosecond}
	if _, err := PercentileSpectrum("t", []SpectrumLine{line}, LatencyOptions{LogScale: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := CDF("t", []SpectrumLine{line}, LatencyOptions{LogScale: true}); err != nil {
		t.Fatal(err)
	}
}
