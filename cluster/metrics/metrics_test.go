package metrics

import (
	"errors"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"etcdlab/engines/engine"
)

func TestOptionsValidate(t *testing.T) {
	o := Options{}
	o.EnsureDefaults()
	if o.Level != LevelBasic || o.Validate() != nil {
		t.Fatalf("defaults: %+v %v", o, o.Validate())
	}
	err := Options{Level: "verbose"}.Validate()
	if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "verbose") {
		t.Fatalf("got %v", err)
	}
	if _, err := New(Options{Level: "verbose"}); !errors.Is(err, ErrBadOption) {
		t.Fatalf("New accepted a bad level: %v", err)
	}
}

func find(fams []*dto.MetricFamily, name string) *dto.MetricFamily {
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestEngineFigures: an engine's statistics become etcdlab_engine_* with an
// engine label, pebble's per-level figures carry a level label, counters
// are counters, and a native figure without a metric of its own is kept
// under etcdlab_engine_native.
func TestEngineFigures(t *testing.T) {
	m, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	fams, err := m.GatherServer()
	if err != nil {
		t.Fatal(err)
	}
	if find(fams, "etcd_server_has_leader") != nil {
		t.Fatal("state figures without a source")
	}
	m.SetSource(func() State {
		return State{ID: 0xa, Leader: 0xa, StoreOK: true, DBSize: 4096, Engine: engine.Stats{
			Engine: "pebble", Fsyncs: 7,
			Native: map[string]float64{
				"pebble.l0.files": 3, "pebble.l6.bytes": 1e6, "pebble.l0.sublevels": 2,
				"pebble.flushes": 5, "pebble.compactions.move": 1,
			},
		}}
	})
	fams, err = m.GatherServer()
	if err != nil {
		t.Fatal(err)
	}
	if f := find(fams, "etcd_server_is_leader"); f == nil || f.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("is_leader: %v", f)
	}
	if f := find(fams, "etcdlab_engine_fsyncs_total"); f == nil || f.GetType() != dto.MetricType_COUNTER || label(f.GetMetric()[0], "engine") != "pebble" || f.GetMetric()[0].GetCounter().GetValue() != 7 {
		t.Errorf("fsyncs: %v", f)
	}
	if f := find(fams, "etcdlab_engine_pebble_level_files"); f == nil || label(f.GetMetric()[0], "level") != "0" || f.GetMetric()[0].GetGauge().GetValue() != 3 {
		t.Errorf("level files: %v", f)
	}
	if f := find(fams, "etcdlab_engine_pebble_level_size_bytes"); f == nil || label(f.GetMetric()[0], "level") != "6" {
		t.Errorf("level bytes: %v", f)
	}
	if f := find(fams, "etcdlab_engine_pebble_l0_sublevels"); f == nil || f.GetMetric()[0].GetGauge().GetValue() != 2 {
		t.Errorf("sublevels: %v", f)
	}
	if f := find(fams, "etcdlab_engine_pebble_flushes_total"); f == nil || f.GetType() != dto.MetricType_COUNTER {
		t.Errorf("flushes: %v", f)
	}
	if f := find(fams, "etcdlab_engine_native"); f == nil || label(f.GetMetric()[0], "name") != "pebble.compactions.move" {
		t.Errorf("native catch-all: %v", f)
	}
	// A member with no store (stopped, installing a snapshot) reports its
	// raft figures but no sizes.
	m.SetSource(func() State { return State{ID: 1} })
	fams, _ = m.GatherServer()
	if find(fams, "etcd_mvcc_db_total_size_in_bytes") != nil || find(fams, "etcd_server_has_leader") == nil {
		t.Error("a member without a store")
	}
}
