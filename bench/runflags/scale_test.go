package runflags

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"4096": 4096, "512MB": 512e6, "2GB": 2e9, "30gb": 30e9, "1.5GiB": 3 << 29, "64MiB": 64 << 20,
		"2 GB": 2e9, "10kb": 10e3, "1TiB": 1 << 40, "7B": 7,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GB", "2XB", "-1GB", "1e30GB", "two"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

// TestScale: --scale sets the key count from the workload's mean object
// size, on every entry point (flags, sweep settings).
func TestScale(t *testing.T) {
	cfg, err := Build([]Setting{{"scale", "2GB"}, {"value-size", "16384"}, {"key-size", "32"}})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(math.Round(2e9 / (32 + 16384)))
	if cfg.Scale != 2e9 || cfg.Workload.Keys.Count != want || cfg.Workload.PreloadCount() != want {
		t.Fatalf("scale %d: keys %d preload %d, want %d", cfg.Scale, cfg.Workload.Keys.Count, cfg.Workload.PreloadCount(), want)
	}
	// A workload with a preload count of its own gets the count as its
	// preload (etcd's put benchmark shape starts empty: preload 0).
	cfg, err = Build([]Setting{{"workload", "ycsb-d"}, {"scale", "10MB"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := float64(cfg.Workload.PreloadCount()) * cfg.Workload.MeanObjectBytes(); math.Abs(got-10e6) > 1e3 {
		t.Fatalf("ycsb-d at 10MB preloads %v bytes", got)
	}
}

func TestScaleErrors(t *testing.T) {
	for _, c := range []struct {
		settings []Setting
		want     []string
	}{
		{[]Setting{{"scale", "2GB"}, {"keys", "1000"}}, []string{"--scale and --keys"}},
		{[]Setting{{"scale", "lots"}}, []string{`--scale "lots"`}},
		// 4-byte decimal keys hold 10,000 ids; 1 MB of 10-byte values needs 71,429.
		{[]Setting{{"scale", "1MB"}, {"key-size", "4"}, {"value-size", "10"}}, []string{"scale 1000000 bytes is 71429 objects of 14 bytes", "keys.size"}},
		{[]Setting{{"scale", "3GB"}, {"layer", "cluster"}}, []string{"above the backend quota", "--quota-backend-bytes", "--no-quota"}},
		{[]Setting{{"memory-limit", "1MiB"}}, []string{"memory-limit 1048576"}},
		{[]Setting{{"memory-limit", "x"}}, []string{`--memory-limit "x"`}},
		{[]Setting{{"rate-fraction", "0.7"}, {"rate", "100"}}, []string{"not both"}},
		{[]Setting{{"capacity-probe", "5s"}}, []string{"only with a rate fraction"}},
		{[]Setting{{"preload-txn-ops", "500"}, {"preload-txn-bytes", "4000000"}}, []string{"preload txn ops 500", "preload txn bytes 4000000"}},
	} {
		_, err := Build(c.settings)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error lacks %q: %v", c.settings, w, err)
			}
		}
	}
	// Raised quota or none: accepted.
	for _, s := range [][]Setting{
		{{"scale", "3GB"}, {"layer", "cluster"}, {"quota-backend-bytes", "8000000000"}},
		{{"scale", "3GB"}, {"layer", "cluster"}, {"no-quota", "true"}},
	} {
		if _, err := Build(s); err != nil {
			t.Errorf("%v: %v", s, err)
		}
	}
}

func TestRateFractionFlags(t *testing.T) {
	cfg, err := Build([]Setting{{"rate-fraction", "0.7"}, {"capacity-probe", "5s"}, {"memory-limit", "4GiB"},
		{"preload-loaders", "8"}, {"preload-txn-ops", "64"}, {"preload-txn-bytes", "65536"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateFraction != 0.7 || cfg.CapacityProbe != 5*time.Second || cfg.Loop() != "open" || cfg.MemoryLimit != 4<<30 ||
		cfg.Preload.Loaders != 8 || cfg.Preload.TxnOps != 64 || cfg.Preload.TxnBytes != 65536 {
		t.Fatalf("config %+v", cfg)
	}
}
