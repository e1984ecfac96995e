package runflags

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBuildMapsFlagsOntoConfig(t *testing.T) {
	cfg, err := Build([]Setting{
		{"layer", "cluster"}, {"nodes", "3"}, {"snapshot-count", "1000"}, {"read-ratio", "0.9"},
		{"consistency", "serializable"}, {"link-delay", "2ms"}, {"batch-interval", "10ms"}, {"batch-limit", "500"},
		{"quota-bytes", "1048576"}, {"engine", "pebble"}, {"engine-opt", "cache-size=16MiB"}, {"ops", "1000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Layer != "cluster" || cfg.Nodes != 3 || cfg.SnapshotCount != 1000 || cfg.LinkDelay != 2*time.Millisecond ||
		cfg.Backend.BatchInterval != 10*time.Millisecond || cfg.Backend.BatchLimit != 500 || cfg.QuotaBytes != 1<<20 ||
		cfg.Engine != "pebble" || len(cfg.EngineOptions) != 1 || cfg.Ops != 1000 || cfg.Duration != 0 {
		t.Errorf("config %+v", cfg)
	}
	if cfg.Workload.Ops.Get != 0.9 || cfg.Workload.Ops.Put < 0.0999 || cfg.Workload.ReadConsistency != "serializable" {
		t.Errorf("workload %+v", cfg.Workload)
	}
	def, err := Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if def.Layer != "mvcc" || def.Warmup != time.Second || def.Duration != 10*time.Second {
		t.Errorf("defaults %+v", def)
	}
}

func TestBuildReportsEveryProblem(t *testing.T) {
	_, err := Build([]Setting{{"colour", "blue"}, {"nodes", "many"}})
	if !errors.Is(err, ErrBadSetting) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{`unknown parameter "colour"`, "snapshot-count", "nodes=many"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	_, err = Build([]Setting{{"read-ratio", "2"}, {"nodes", "3"}})
	for _, want := range []string{"--read-ratio 2", "only the cluster layer"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
