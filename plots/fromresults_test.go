package plots

import (
	"errors"
	"math"
	"testing"

	"etcdlab/results"
)

func TestFromResults(t *testing.T) {
	r := results.New()
	r.Ops = map[string]results.OpStats{
		"range": {Count: 100, P50Us: 100, P90Us: 200, P99Us: 400, P999Us: 900},
		"put":   {Count: 50, P50Us: 300, P90Us: 500, P99Us: 1500, P999Us: 4000},
		"txn":   {Count: 0},
	}
	lines := RunSpectra("bbolt", r)
	if len(lines) != 2 || lines[0].Label != "bbolt put" || lines[1].Label != "bbolt range" {
		t.Fatalf("RunSpectra labels: %+v", lines)
	}
	if lines[0].LatencyMicros[2] != 1500 || lines[0].Percentiles[2] != 99 {
		t.Fatalf("put p99 not carried over: %+v", lines[0])
	}
	if _, err := PercentileSpectrum("t", lines, LatencyOptions{LogScale: true}); err != nil {
		t.Fatal(err)
	}

	samples := []results.Sample{
		{Type: "event", T: -0.5, Kind: "snapshot"},
		{Type: "interval", T: 0, LengthS: 1, Ops: 10, OpsS: 10, P50Us: 5, P99Us: 9,
			PerOp: map[string]results.IntervalOp{"put": {Count: 4, P50Us: 7, P99Us: 8}}},
		{Type: "event", T: 0.5, Kind: "snapshot", Node: 2, Detail: "index=100"},
		{Type: "event", T: 0.6, Kind: "backend-commit"},
		{Type: "interval", T: 1, LengthS: 0.5},
	}
	tl, err := TimelineFromSamples("bbolt", samples, "", "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Seconds) != 2 || tl.P50Micros[0] != 5 || !math.IsNaN(tl.P99Micros[1]) || tl.Throughput[0] != 10 {
		t.Fatalf("timeline: %+v", tl)
	}
	if len(tl.Events) != 1 || tl.Events[0].Label != "node 2 index=100" {
		t.Fatalf("events: %+v", tl.Events)
	}
	tl, err = TimelineFromSamples("bbolt", samples, "put")
	if err != nil {
		t.Fatal(err)
	}
	if tl.P50Micros[0] != 7 || tl.Throughput[0] != 4 || tl.Throughput[1] != 0 || len(tl.Events) != 2 {
		t.Fatalf("per-op timeline: %+v", tl)
	}
	if _, err := ThroughputOverTime("t", []Timeline{tl}, Style{}); err != nil {
		t.Fatal(err)
	}
	if _, err := TimelineFromSamples("x", samples[:1], ""); !errors.Is(err, ErrNoData) {
		t.Fatalf("events only: %v, want ErrNoData", err)
	}
}

// TestTimelineFaultBands: fault samples with a length become shaded bands
// on both timeline figures, instant ones (a restart) events; a band that
// ends before it starts is refused.
func TestTimelineFaultBands(t *testing.T) {
	samples := []results.Sample{
		{Type: "interval", T: 1, LengthS: 1, Ops: 10, OpsS: 10, P50Us: 5, P99Us: 9},
		{Type: results.SampleFault, T: 1.5, EndS: 3, Kind: "kill-leader", Node: 2, Detail: "kill-leader@1.5s"},
		{Type: results.SampleFault, T: 3, EndS: 3, Kind: "restart", Detail: "restart@3s"},
		{Type: "interval", T: 2, LengthS: 1, Ops: 10, OpsS: 10, P50Us: 5, P99Us: 9},
	}
	tl, err := TimelineFromSamples("run", samples, "", "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Bands) != 1 || tl.Bands[0].Start != 1.5 || tl.Bands[0].End != 3 || tl.Bands[0].Kind != "kill-leader" {
		t.Fatalf("bands %+v", tl.Bands)
	}
	if len(tl.Events) != 1 || tl.Events[0].Kind != "restart" {
		t.Fatalf("events %+v", tl.Events)
	}
	for name, draw := range map[string]func() error{
		"throughput": func() error { _, err := ThroughputOverTime("t", []Timeline{tl}, Style{}); return err },
		"latency": func() error {
			_, err := LatencyOverTime("t", []Timeline{tl}, LatencyOptions{LogScale: true})
			return err
		},
	} {
		if err := draw(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	tl.Bands[0].End = 1
	if _, err := ThroughputOverTime("t", []Timeline{tl}, Style{}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("a band ending before it starts: %v, want ErrBadInput", err)
	}
}

// TestTimelineWatch: samples with watch figures give the watch series (a
// second without events a NaN latency) and draw; samples without them
// leave the series nil.
func TestTimelineWatch(t *testing.T) {
	samples := []results.Sample{
		{Type: "interval", T: 1, LengthS: 1, Ops: 10, OpsS: 10, P50Us: 5, P99Us: 9, WatchLagRevs: 500, WatchEvents: 3, WatchEventP99Us: 40},
		{Type: "interval", T: 2, LengthS: 1, Ops: 10, OpsS: 10, P50Us: 5, P99Us: 9},
	}
	tl, err := TimelineFromSamples("bbolt", samples, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.WatchLag) != 2 || tl.WatchLag[0] != 500 || tl.WatchP99Micros[0] != 40 || !math.IsNaN(tl.WatchP99Micros[1]) {
		t.Fatalf("watch series: %v %v", tl.WatchLag, tl.WatchP99Micros)
	}
	if _, err := WatchLagOverTime("lag", []Timeline{tl}, Style{}); err != nil {
		t.Fatal(err)
	}
	tl.WatchLag[1] = -1
	if _, err := WatchLagOverTime("lag", []Timeline{tl}, Style{}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("negative lag: %v", err)
	}
	tl, err = TimelineFromSamples("bbolt", samples[1:], "")
	if err != nil || tl.WatchLag != nil || tl.WatchP99Micros != nil {
		t.Fatalf("no watchers: %v %v %v", tl.WatchLag, tl.WatchP99Micros, err)
	}
}
