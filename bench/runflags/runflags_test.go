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
		{"consistency", "serializable"}, {"link-delay", "2ms"}, {"backend-batch-interval", "10ms"}, {"backend-batch-limit", "500"},
		{"quota-backend-bytes", "1048576"}, {"engine", "pebble"}, {"engine-opt", "cache-size=16MiB"}, {"ops", "1000"},
		{"raft-log-compaction", "3.5"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Layer != "cluster" || cfg.Nodes != 3 || cfg.Node.SnapshotCount != 1000 || cfg.LinkDelay != 2*time.Millisecond ||
		cfg.Node.Backend.BatchInterval != 10*time.Millisecond || cfg.Node.Backend.BatchLimit != 500 || cfg.Node.QuotaBytes != 1<<20 ||
		cfg.Node.Engine != "pebble" || len(cfg.Node.EngineOptions) != 1 || cfg.Ops != 1000 || cfg.Duration != 0 || cfg.Node.RaftLogCompaction != "3.5" {
		t.Errorf("config %+v", cfg)
	}
	if cfg.Workload.Ops.Get != 0.9 || cfg.Workload.Ops.Put < 0.0999 || cfg.Workload.ReadConsistency != "serializable" {
		t.Errorf("workload %+v", cfg.Workload)
	}
	def, err := Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if def.Layer != "mvcc" || def.Warmup != time.Second || def.Duration != 10*time.Second || def.Node.RaftLogCompaction != "3.6" {
		t.Errorf("defaults %+v", def)
	}
}

func TestBuildReportsEveryProblem(t *testing.T) {
	_, err := Build([]Setting{{"raft-log-compaction", "3.4"}})
	if err == nil || !strings.Contains(err.Error(), `raft-log-compaction "3.4"`) {
		t.Errorf("raft-log-compaction 3.4 accepted or unnamed: %v", err)
	}
	_, err = Build([]Setting{{"colour", "blue"}, {"nodes", "many"}})
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

// The quota can be switched off for measurement (--no-quota, or a negative
// --quota-backend-bytes as etcd reads it); recovery from NOSPACE then has no meaning.
func TestQuotaSwitch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     []Setting
		want    int64
		wantErr string
	}{
		{"default is etcd's", nil, 2 << 30, ""},
		{"no-quota", []Setting{{"no-quota", "true"}}, -1, ""},
		{"negative as etcd", []Setting{{"quota-backend-bytes", "-1"}}, -1, ""},
		{"explicit size", []Setting{{"quota-backend-bytes", "8388608"}}, 8 << 20, ""},
		{"contradiction", []Setting{{"no-quota", "true"}, {"quota-backend-bytes", "8388608"}}, 0, "contradict"},
		{"contradiction, old name", []Setting{{"no-quota", "true"}, {"quota-bytes", "8388608"}}, 0, "contradict"},
		{"recovery needs a quota", []Setting{{"no-quota", "true"}, {"layer", "cluster"}, {"quota-recovery", "true"}}, 0, "quota-recovery needs a quota"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Build(tc.set)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Node.QuotaBytes != tc.want {
				t.Errorf("QuotaBytes %d, want %d", cfg.Node.QuotaBytes, tc.want)
			}
		})
	}
}

// TestDurationMustBePositive: --duration 0 (or negative) is an error that
// says what to give instead, not a silent fall-back to the default 10 s.
func TestDurationMustBePositive(t *testing.T) {
	for _, d := range []string{"0", "0s", "-1s"} {
		_, err := Build([]Setting{{"duration", d}})
		if err == nil || !strings.Contains(err.Error(), "--duration") || !strings.Contains(err.Error(), "must be > 0") {
			t.Errorf("--duration %s: err %v", d, err)
		}
	}
	cfg, err := Build([]Setting{{"ops", "1000"}})
	if err != nil || cfg.Duration != 0 || cfg.Ops != 1000 {
		t.Errorf("--ops alone: %+v, %v", cfg, err)
	}
}

// The knobs' old run names stay accepted as settings (spec files, --param)
// and land on the same fields as etcd's names.
func TestBuildAcceptsOldNames(t *testing.T) {
	tests := []struct {
		old, name, value string
	}{
		{"quota-bytes", "quota-backend-bytes", "1048576"},
		{"batch-interval", "backend-batch-interval", "10ms"},
		{"batch-limit", "backend-batch-limit", "500"},
		{"snapshot-catchup-entries", "experimental-snapshot-catchup-entries", "50"},
	}
	for _, tc := range tests {
		t.Run(tc.old, func(t *testing.T) {
			a, err := Build([]Setting{{tc.old, tc.value}})
			if err != nil {
				t.Fatal(err)
			}
			b, err := Build([]Setting{{tc.name, tc.value}})
			if err != nil {
				t.Fatal(err)
			}
			d, _ := Build(nil)
			if a.Node.String() != b.Node.String() || a.Node.String() == d.Node.String() {
				t.Errorf("%s=%s: %s\n%s=%s: %s", tc.old, tc.value, a.Node, tc.name, tc.value, b.Node)
			}
		})
	}
}

// The watch and lease flags set the workload's watch and leases, so a sweep
// can vary them (revoke apply time against lease-keys, say).
func TestBuildWatchLeaseFlags(t *testing.T) {
	cfg, err := Build([]Setting{{"layer", "cluster"}, {"watchers", "8"}, {"watch-prefixes", "4"}, {"watch-start-behind", "1000"},
		{"lease-rate", "5"}, {"lease-keys", "100"}, {"lease-revoke-after", "0.5"}, {"keepalives", "3"}})
	if err != nil {
		t.Fatal(err)
	}
	w, l := cfg.Workload.Watch, cfg.Workload.Leases
	if w.Watchers != 8 || w.Prefixes != 4 || w.Streams != 8 || w.StartBehind != 1000 {
		t.Errorf("watch %+v", w)
	}
	if l.Rate != 5 || l.KeysPerLease != 100 || l.RevokeAfter != 0.5 || l.KeepAlives != 3 || l.TTL == 0 {
		t.Errorf("leases %+v", l)
	}
	if _, err := Build([]Setting{{"watch-prefixes", "4"}}); err == nil || !strings.Contains(err.Error(), "need watch.watchers") {
		t.Errorf("--watch-prefixes without watchers: %v", err)
	}
	if _, err := Build([]Setting{{"watchers", "-1"}}); err == nil || !strings.Contains(err.Error(), "--watchers") {
		t.Errorf("--watchers -1: %v", err)
	}
}

// --time-scale speeds up a k8s workload's periods and is refused for a
// workload without a k8s section; --value-size sizes every k8s value.
func TestBuildTimeScale(t *testing.T) {
	cfg, err := Build([]Setting{{"layer", "cluster"}, {"workload", "k8s"}, {"time-scale", "10"}, {"value-size", "100"}})
	if err != nil {
		t.Fatal(err)
	}
	if k := cfg.Workload.K8s; k == nil || k.TimeScale != 10 || k.ValueSizes != nil || cfg.Workload.ValueSize.Max != 100 {
		t.Errorf("k8s %+v value size %v", cfg.Workload.K8s, cfg.Workload.ValueSize)
	}
	for _, tc := range []struct{ workload, scale, want string }{
		{"ycsb-a", "10", `--time-scale: the workload "ycsb-a" has no k8s section`},
		{"k8s", "-1", "--time-scale -1"},
	} {
		if _, err := Build([]Setting{{"workload", tc.workload}, {"time-scale", tc.scale}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s --time-scale %s: %v, want %q", tc.workload, tc.scale, err, tc.want)
		}
	}
}

// TestLayers: the knobs only the cluster layer reads say so (old names
// too); the others, and unknown names, name no layer.
func TestLayers(t *testing.T) {
	for _, name := range []string{"snapshot-count", "experimental-snapshot-catchup-entries", "snapshot-catchup-entries", "raft-log-compaction",
		"quota-backend-bytes", "quota-bytes", "auto-compaction-mode", "auto-compaction-retention", "nodes", "link-delay"} {
		if got := Layers(name); len(got) != 1 || got[0] != "cluster" {
			t.Errorf("Layers(%s) = %v, want [cluster]", name, got)
		}
	}
	for _, name := range []string{"engine", "engine-opt", "backend-batch-interval", "batch-limit", "read-ratio", "clients", "nope"} {
		if got := Layers(name); got != nil {
			t.Errorf("Layers(%s) = %v, want none", name, got)
		}
	}
}
