package report

import (
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
