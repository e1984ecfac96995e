package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"etcdlab/results"
)

func writeResult(t *testing.T, dir string, tput float64) {
	t.Helper()
	r := results.New()
	r.Config = results.Config{Layer: "mvcc", Engine: "bbolt", Nodes: 1, Loop: "closed"}
	r.Summary = results.Summary{Ops: 100, DurationS: 1, ThroughputOpsS: tput, Latency: results.Latency{P50Us: 10, P99Us: 100}}
	r.Ops["get"] = results.OpStats{Count: 100, P50Us: 10, P90Us: 20, P99Us: 100, P999Us: 200}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, results.ResultFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCompareCommand(t *testing.T) {
	dir := t.TempDir()
	for i, v := range []float64{900, 1000, 1100} {
		writeResult(t, filepath.Join(dir, "a", string(rune('a'+i))), v)
		writeResult(t, filepath.Join(dir, "b", string(rune('a'+i))), v*1.5)
	}
	code, stdout, stderr := run(t, "compare", filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !regexp.MustCompile(`throughput\s+ops/s\s+3\s+1000\.0\s+3\s+1500\.0\s+1\.500 \*`).MatchString(stdout) {
		t.Errorf("throughput ratio 1.5 not printed as significant:\n%s", stdout)
	}
	if !regexp.MustCompile(`get p99 latency\s+µs\s+3\s+100\.0\s+3\s+100\.0\s+1\.000\s+1\.000 – 1\.000`).MatchString(stdout) {
		t.Errorf("equal p99 not printed as ratio 1, not significant:\n%s", stdout)
	}
	code, _, stderr = run(t, "compare", filepath.Join(dir, "a"), filepath.Join(dir, "nothing"))
	if code != exitUsage || !strings.Contains(stderr, "nothing") {
		t.Errorf("missing dir: exit %d, stderr %s", code, stderr)
	}
}

func TestSweepUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"sweep", "--engines", "bbolt,pebble"}, "--out is required"},
		{"bad param", []string{"sweep", "--out", filepath.Join(dir, "x"), "--param", "snapshot-count"}, "name=value1,value2"},
		{"unknown param", []string{"sweep", "--out", filepath.Join(dir, "x"), "--param", "colour=1,2"}, `unknown parameter "colour"`},
		{"bad value", []string{"sweep", "--out", filepath.Join(dir, "x"), "--param", "read-ratio=0.5,2"}, "--read-ratio 2"},
		{"unknown experiment", []string{"experiment", "nope", "--out", filepath.Join(dir, "x")}, "parity"},
		{"bad exclude", []string{"experiment", "parity", "--out", filepath.Join(dir, "x"), "--exclude", "colour=red"}, `unknown parameter "colour"`},
		{"mvcc on 3 nodes", []string{"sweep", "--out", filepath.Join(dir, "x"), "--param", "layer=mvcc,cluster", "--param", "nodes=1,3", "--exclude", "layer=cluster nodes=1"}, "point layer-mvcc_nodes-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", code, exitUsage, tc.want, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a refused sweep created its directory")
	}
}
