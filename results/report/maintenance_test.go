package report

import (
	"strings"
	"testing"

	"etcdlab/results"
)

// TestMaintenanceFields: summary.csv gets the maintenance summaries, not
// the per-event list.
func TestMaintenanceFields(t *testing.T) {
	r := results.New()
	r.Maintenance = &results.Maintenance{
		Events:   []results.MaintenanceEvent{{Kind: results.MaintenanceDefrag, DurationS: 2}},
		Outside:  results.MaintenanceWindow{OpsS: 1000},
		Defrag:   &results.MaintenanceKind{Count: 1, MeanDurationS: 2, ThroughputDipPct: 40},
		SpaceAmp: &results.SeriesStats{Last: 3.5}, DefragRounds: 1,
	}
	f := Fields(r)
	for path, want := range map[string]float64{
		"maintenance.defrag.count": 1, "maintenance.defrag.throughput_dip_pct": 40,
		"maintenance.outside.ops_s": 1000, "maintenance.space_amp.last": 3.5, "maintenance.defrag_rounds": 1,
	} {
		if got, ok := f[path].(float64); !ok || got != want {
			t.Errorf("%s = %v, want %v", path, f[path], want)
		}
	}
	for path := range f {
		if len(path) > len("maintenance.events") && path[:len("maintenance.events")] == "maintenance.events" {
			t.Errorf("per-event field %s in the summary", path)
		}
	}
	if _, ok := Fields(results.New())["maintenance.defrag.count"]; ok {
		t.Error("maintenance fields without maintenance")
	}
}

func TestMaintenanceMarkdown(t *testing.T) {
	if MaintenanceMarkdown("x", nil) != "" {
		t.Fatal("markdown without maintenance")
	}
	m := results.ComputeMaintenance([]results.Sample{
		{Type: results.SampleInterval, T: 0, LengthS: 1, Ops: 100, P50Us: 10, P99Us: 100, PerOp: map[string]results.IntervalOp{"put": {Count: 100}}},
		{Type: results.SampleInterval, T: 1, LengthS: 1, Ops: 50, P50Us: 20, P99Us: 400, StallMs: 300, PerOp: map[string]results.IntervalOp{"put": {Count: 50}}},
		{Type: results.SampleEvent, Kind: results.MaintenanceCompaction, Node: 1, T: 1.1, EndS: 1.6, Values: map[string]float64{"revision": 42, "keys_deleted": 7, "took_s": 0.4}},
		{Type: results.SampleEvent, Kind: results.MaintenanceDefrag, Node: 2, T: 1.7, EndS: 1.9,
			Values: map[string]float64{"db_disk_size_before_bytes": 4 << 20, "db_disk_size_after_bytes": 1 << 20}},
	}, nil, nil)
	md := MaintenanceMarkdown("bbolt", m)
	for _, want := range []string{"**bbolt**: outside every event 100.0 ops/s", "1 compactions: mean 0.5 s", "etcd's \"took\": mean 0.4 s",
		"| compaction | 1 | 1.1 | 0.5 | 42 | 7 |  | 50.0 | 50.0 | 50.0 | 50.0 | 400.0 | +300 | 300.0 |", "| defrag | 2 | 1.7 | 0.2 |  |  | 4 → 1 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
