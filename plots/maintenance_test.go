package plots

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/internal/event"
	"etcdlab/results"
)

// synthMaintenance is a 60-second run of one engine with a compaction at
// 20–23 s and a defrag at 40–44 s that dent the throughput.
func synthMaintenance(r *rand.Rand, engine string) []results.Sample {
	var out []results.Sample
	var written int64
	stalls := 0.0
	for i := range 60 {
		t := float64(i)
		ops := 10000 + r.Float64()*500
		stall := 2.0
		if t >= 20 && t < 23 || t >= 40 && t < 44 {
			ops *= 0.5
			stall = 150
		}
		written += int64(ops * 1200)
		s := results.Sample{Type: results.SampleInterval, T: t, LengthS: 1, Ops: int64(ops), OpsS: ops, P50Us: 400, P99Us: 3000 + r.Float64()*500,
			PerOp:  map[string]results.IntervalOp{"put": {Count: int64(ops / 2)}, "get": {Count: int64(ops / 2)}},
			CPUPct: 120 + r.Float64()*30, StallMs: stall, RSSBytes: 300<<20 + int64(i)<<20, DiskWritten: written,
			DBSize: 600<<20 + int64(i)<<20, LiveLogicalBytes: 200 << 20, Extra: map[string]float64{}}
		switch engine {
		case "bbolt":
			s.Extra["bbolt.file_size"] = float64(s.DBSize)
			s.Extra["bbolt.free_alloc_bytes"] = float64(int64(i) << 20)
		case "pebble":
			if i%7 == 0 {
				stalls++
			}
			s.Extra["pebble.disk_space_usage"] = float64(s.DBSize)
			s.Extra["pebble.table.live_bytes"] = float64(s.DBSize) * 0.8
			s.Extra["pebble.l0.sublevels"] = float64(i % 6)
			s.Extra["pebble.compaction_debt_bytes"] = float64(i%10) * (8 << 20)
			s.Extra["pebble.write_stalls"] = stalls
		}
		out = append(out, s)
	}
	out = append(out,
		results.Sample{Type: results.SampleEvent, Kind: event.Compaction, T: 20, EndS: 23, Node: 1, Values: map[string]float64{"revision": 1000}},
		results.Sample{Type: results.SampleEvent, Kind: event.Defrag, T: 40, EndS: 44, Node: 1},
		results.Sample{Type: results.SampleEvent, Kind: event.LeaderChanged, T: 1})
	return out
}

func TestMaintenanceFigures(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		engine string
		want   int // figures
	}{
		{"bbolt", 9},   // no pebble figures
		{"pebble", 12}, // every one
	} {
		t.Run(tc.engine, func(t *testing.T) {
			ms, err := MaintenanceSeriesFromSamples(tc.engine, synthMaintenance(r, tc.engine), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms.Bands) != 2 || ms.Bands[0].Kind != event.Compaction || ms.Bands[1].End != 44 {
				t.Fatalf("bands %+v", ms.Bands)
			}
			if math.Abs(ms.SpaceAmp[0]-3) > 1e-9 || math.Abs(ms.WriteThroughput[0]-ms.Throughput[0]/2) > 1 {
				t.Fatalf("space amp %v, writes %v of %v", ms.SpaceAmp[0], ms.WriteThroughput[0], ms.Throughput[0])
			}
			figs, err := MaintenanceFigures(ms, testStyle)
			if err != nil {
				t.Fatal(err)
			}
			if len(figs) != tc.want {
				t.Fatalf("%d figures, want %d", len(figs), tc.want)
			}
			for _, f := range figs {
				checkSaved(t, f.Plot, dir, tc.engine+"-"+f.Name)
			}
		})
	}
}

func TestRunDirMaintenanceFigures(t *testing.T) {
	run := t.TempDir()
	f, err := os.Create(filepath.Join(run, results.TimelineFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := results.WriteTimeline(f, synthMaintenance(rand.New(rand.NewPCG(3, 4)), "pebble")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "plots")
	paths, err := RunDirMaintenanceFigures(run, "pebble", out, testStyle, SaveOptions{Formats: []Format{PNG}})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 12 || !strings.HasSuffix(paths[0], "maint-throughput.png") {
		t.Fatalf("paths %v", paths)
	}
	if _, err := RunDirMaintenanceFigures(t.TempDir(), "none", out, testStyle, SaveOptions{}); err == nil {
		t.Fatal("a directory without a timeline drew figures")
	}
}

func TestMetricOverTimeBadInput(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		mt   MetricTimeline
		want error
	}{
		{"no seconds", MetricTimeline{Series: []MetricSeries{{"a", nil}}}, ErrNoData},
		{"length mismatch", MetricTimeline{Seconds: []float64{0, 1}, Series: []MetricSeries{{"a", []float64{1}}}}, ErrBadInput},
		{"seconds not increasing", MetricTimeline{Seconds: []float64{1, 1}, Series: []MetricSeries{{"a", []float64{1, 2}}}}, ErrBadInput},
		{"infinite", MetricTimeline{Seconds: []float64{0, 1}, Series: []MetricSeries{{"a", []float64{1, math.Inf(1)}}}}, ErrBadInput},
		{"all unknown", MetricTimeline{Seconds: []float64{0, 1}, Series: []MetricSeries{{"a", []float64{nan, nan}}}}, ErrNoData},
		{"band backwards", MetricTimeline{Seconds: []float64{0, 1}, Series: []MetricSeries{{"a", []float64{1, 2}}},
			Bands: []Band{{Start: 2, End: 1, Kind: event.Defrag}}}, ErrBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := MetricOverTime("t", "y", tc.mt, Style{}); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// Timed events become bands on the existing timeline figures too.
func TestTimelineMaintenanceBands(t *testing.T) {
	samples := synthMaintenance(rand.New(rand.NewPCG(5, 6)), "bbolt")
	samples = append(samples, results.Sample{Type: results.SampleEvent, Kind: event.Compaction, T: -2, EndS: -1})
	tl, err := TimelineFromSamples("bbolt", samples, "", event.Compaction, event.Defrag, event.LeaderChanged)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Bands) != 2 || len(tl.Events) != 1 {
		t.Fatalf("bands %+v events %+v", tl.Bands, tl.Events)
	}
	if _, err := ThroughputOverTime("t", []Timeline{tl}, testStyle); err != nil {
		t.Fatal(err)
	}
}

func TestMergeSpans(t *testing.T) {
	for _, tc := range []struct {
		in, want [][2]float64
	}{
		{nil, nil},
		{[][2]float64{{2, 3}, {1, 2.5}}, [][2]float64{{1, 3}}},                               // a compaction on two members
		{[][2]float64{{1, 2}, {2.5, 3}, {0, 0.5}}, [][2]float64{{0, 0.5}, {1, 2}, {2.5, 3}}}, // defrags one after another
		{[][2]float64{{1, 5}, {2, 3}}, [][2]float64{{1, 5}}},
	} {
		if got := mergeSpans(tc.in); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("mergeSpans(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
