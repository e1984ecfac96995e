package results

import (
	"math"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// iv is a one-second interval at t with ops puts and gets, p50/p99 in µs,
// a stall and engine figures.
func iv(t float64, puts, gets int64, p50, p99, stall float64) Sample {
	return Sample{Type: SampleInterval, T: t, LengthS: 1, Ops: puts + gets, OpsS: float64(puts + gets), P50Us: p50, P99Us: p99, StallMs: stall,
		PerOp: map[string]IntervalOp{"put": {Count: puts}, "get": {Count: gets}}}
}

func band(kind string, node int, t, end float64, values map[string]float64) Sample {
	return Sample{Type: SampleEvent, Kind: kind, Node: node, T: t, EndS: end, Values: values}
}

func TestComputeMaintenance(t *testing.T) {
	timeline := []Sample{
		iv(0, 100, 100, 100, 1000, 1),
		iv(1, 100, 100, 100, 1000, 1),
		iv(2, 50, 100, 200, 3000, 40), // compaction at 2.2..2.8 on nodes 1 and 2
		iv(3, 100, 100, 100, 1000, 1),
		iv(4, 0, 100, 400, 9000, 700), // defrag on node 1 at 4.1..5.5
		iv(5, 20, 80, 300, 5000, 300),
		{Type: SampleEvent, Kind: "leader-changed", T: 0.5}, // not maintenance
		band(MaintenanceCompaction, 1, 2.2, 2.7, map[string]float64{"revision": 500, "keys_deleted": 90, "batches": 1, "took_s": 0.4}),
		band(MaintenanceCompaction, 2, 2.3, 2.8, map[string]float64{"revision": 500, "keys_deleted": 90, "batches": 1, "took_s": 0.45}),
		band(MaintenanceDefrag, 1, 4.1, 5.5, map[string]float64{"db_size_before_bytes": 1000, "db_size_after_bytes": 400,
			"db_disk_size_before_bytes": 2000, "db_disk_size_after_bytes": 500}),
	}
	m := ComputeMaintenance(timeline, nil, nil)
	if m == nil || len(m.Events) != 2 {
		t.Fatalf("events %+v", m)
	}
	c, d := m.Events[0], m.Events[1]
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	if c.Kind != MaintenanceCompaction || c.Revision != 500 || len(c.Nodes) != 2 || c.KeysDeleted != 90 {
		t.Errorf("compaction %+v", c)
	}
	near("compaction start", c.StartS, 2.2)
	near("compaction end", c.EndS, 2.8)
	near("compaction duration (longest node)", c.DurationS, 0.5)
	near("compaction took", c.TookS, 0.45)
	// Outside: intervals 0, 1, 3: 200 ops/s, 100 writes/s, p50 100, p99 1000.
	near("outside ops/s", m.Outside.OpsS, 200)
	near("outside writes/s", m.Outside.WriteOpsS, 100)
	near("outside p99", m.Outside.P99Us, 1000)
	near("compaction ops/s", c.During.OpsS, 150)
	near("compaction dip", c.ThroughputDipPct, 25)
	near("compaction write dip", c.WriteDipPct, 50)
	near("compaction p99 change", c.P99ChangePct, 200)
	near("compaction stall", c.During.StallMs, 40)
	// The defrag covers 0.9 of interval 4 and 0.5 of interval 5: the
	// rates are weighted by the cover, the percentiles come from both (each
	// covered at least half).
	if d.Kind != MaintenanceDefrag || d.DBSizeBeforeBytes != 1000 || d.DiskSizeAfterBytes != 500 || d.During.Intervals != 2 {
		t.Errorf("defrag %+v", d)
	}
	near("defrag seconds", d.During.Seconds, 1.4)
	near("defrag writes/s", d.During.WriteOpsS, 10/1.4)
	near("defrag write dip", d.WriteDipPct, 100-10/1.4)
	near("defrag stall", d.During.StallMs, 700)
	// Op-weighted p99 over intervals 4 and 5: (100*9000+100*5000)/200.
	near("defrag p99 (intervals)", d.During.P99Us, 7000)
	near("compaction mean took", m.Compaction.MeanTookS, 0.45)
	if m.LatencySource != "intervals" || m.Compaction.Count != 1 || m.Defrag.Count != 1 || m.Defrag.MaxStallMs != 700 {
		t.Errorf("summary %+v %+v %+v", m.LatencySource, m.Compaction, m.Defrag)
	}
	if m.SpaceAmp != nil || m.Fragmentation != nil {
		t.Errorf("space figures without the inputs: %+v %+v", m.SpaceAmp, m.Fragmentation)
	}
	if ComputeMaintenance(timeline[:7], nil, nil) != nil {
		t.Error("maintenance without any compaction or defrag")
	}
	// A defrag after the measured phase (the quota recovery's) is left out.
	late := append(append([]Sample(nil), timeline[:7]...), band(MaintenanceDefrag, 1, 7, 8, nil))
	if ComputeMaintenance(late, nil, nil) != nil {
		t.Error("a defrag after the measured phase counted")
	}
}

// With the interval histograms the percentiles are the merged histograms'.
func TestComputeMaintenanceHistograms(t *testing.T) {
	enc := func(vals ...int64) string {
		h := hdrhistogram.New(1000, 60e9, 3)
		for _, v := range vals {
			_ = h.RecordValue(v)
		}
		b, err := h.EncodeV2()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	timeline := []Sample{iv(0, 2, 0, 1, 1, 0), iv(1, 2, 0, 1, 1, 0), band(MaintenanceDefrag, 0, 1.2, 1.4, nil)}
	lat := []LogInterval{
		{Tag: "put", Start: 0, Length: time.Second, Payload: enc(1e6, 1e6)},
		{Tag: "put", Start: time.Second, Length: time.Second, Payload: enc(50e6, 50e6)},
	}
	m := ComputeMaintenance(timeline, lat, []string{"put"})
	if m.LatencySource != "hdr" || math.Abs(m.Events[0].During.P99Us-50000)/50000 > 0.01 || math.Abs(m.Outside.P50Us-1000)/1000 > 0.01 {
		t.Fatalf("source %s, during p99 %v, outside p50 %v", m.LatencySource, m.Events[0].During.P99Us, m.Outside.P50Us)
	}
}

func TestSpaceAmpAndFragmentation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		s      Sample
		amp    float64
		ampOK  bool
		frag   float64
		fragOK bool
	}{
		{name: "unknown", s: Sample{DBSize: 100}},
		{name: "bbolt", s: Sample{DBSize: 400, LiveLogicalBytes: 100, Extra: map[string]float64{"bbolt.file_size": 400, "bbolt.free_alloc_bytes": 100}},
			amp: 4, ampOK: true, frag: 0.25, fragOK: true},
		{name: "pebble", s: Sample{DBSize: 300, LiveLogicalBytes: 200, Extra: map[string]float64{"pebble.disk_space_usage": 300, "pebble.table.live_bytes": 240,
			"pebble.table.obsolete_bytes": 20, "pebble.table.zombie_bytes": 10}},
			amp: 1.5, ampOK: true, frag: 0.1, fragOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			amp, ok := SpaceAmp(tc.s)
			if ok != tc.ampOK || math.Abs(amp-tc.amp) > 1e-9 {
				t.Errorf("SpaceAmp = %v, %v; want %v, %v", amp, ok, tc.amp, tc.ampOK)
			}
			frag, ok := Fragmentation(tc.s)
			if ok != tc.fragOK || math.Abs(frag-tc.frag) > 1e-9 {
				t.Errorf("Fragmentation = %v, %v; want %v, %v", frag, ok, tc.frag, tc.fragOK)
			}
			if nl, ok := PebbleNotLive(tc.s); ok != (tc.name == "pebble") || ok && math.Abs(nl-0.2) > 1e-9 {
				t.Errorf("PebbleNotLive = %v, %v", nl, ok)
			}
		})
	}
}

func TestDiskWriteRates(t *testing.T) {
	ivs := []Sample{{LengthS: 1, DiskWritten: 1000}, {LengthS: 0.5, DiskWritten: 2000}, {LengthS: 1, DiskWritten: 2000}}
	got := DiskWriteRates(ivs)
	if len(got) != 3 || got[0] != 1000 || got[1] != 2000 || got[2] != 0 {
		t.Fatalf("rates %v", got)
	}
}

// An event covering less than half of each interval it touches takes its
// percentiles from the one it covers most, and its rates from both,
// weighted by the cover.
func TestMaintenanceShortEvent(t *testing.T) {
	timeline := []Sample{
		iv(0, 100, 0, 100, 1000, 1),
		iv(1, 100, 0, 100, 2000, 1),
		iv(2, 50, 0, 100, 5000, 90),
		iv(3, 100, 0, 100, 1000, 1),
		band(MaintenanceDefrag, 1, 1.8, 2.3, nil),
	}
	e := ComputeMaintenance(timeline, nil, nil).Events[0]
	if e.During.Intervals != 2 || math.Abs(e.During.Seconds-0.5) > 1e-9 {
		t.Fatalf("window %+v", e.During)
	}
	// (100×0.2 + 50×0.3) / 0.5 = 70 ops/s; p99 from interval 2 (covered 0.3 > 0.2).
	if math.Abs(e.During.OpsS-70) > 1e-9 || e.During.P99Us != 5000 || e.During.StallMs != 90 {
		t.Fatalf("during %+v", e.During)
	}
	// With the stalls placed: interval 2's began at 2.2 (inside the event)
	// or at 2.5 (after it: not the event's); interval 1's at 1.3 (before).
	for _, tc := range []struct {
		start  float64
		stalls []Stall
		want   float64
	}{
		{2.2, nil, 90},
		{2.5, nil, 0},
		// A shorter stall inside the event, listed with its start.
		{2.5, []Stall{{StartS: 2.05, Ms: 40}, {StartS: 2.5, Ms: 90}}, 40},
	} {
		timeline[1].StallStartS, timeline[2].StallStartS, timeline[2].Stalls = 1.3, tc.start, tc.stalls
		if got := ComputeMaintenance(timeline, nil, nil).Events[0].During.StallMs; got != tc.want {
			t.Errorf("stall starting at %v (%v): event stall %v, want %v", tc.start, tc.stalls, got, tc.want)
		}
	}
}
