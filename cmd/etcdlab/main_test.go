package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/cluster"
	"etcdlab/results"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = execute(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r")
	nonEmpty := filepath.Join(dir, "full")
	if err := os.MkdirAll(filepath.Join(nonEmpty, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string // all must appear in stderr
	}{
		{"unknown flag", []string{"run", "--out", out, "--bogus"}, []string{"unknown flag: --bogus"}},
		{"unknown command", []string{"frobnicate"}, []string{"unknown command"}},
		{"bad layer", []string{"run", "--out", out, "--layer", "raft"}, []string{`"raft"`, "engine, mvcc, cluster"}},
		{"bad engine", []string{"run", "--out", out, "--engine", "leveldb"}, []string{`"leveldb"`, "bbolt, memory, pebble"}},
		{"bad engine opt", []string{"run", "--out", out, "--engine", "bbolt", "--engine-opt", "colour=blue"}, []string{"colour", "page-size"}},
		{"malformed engine opt", []string{"run", "--out", out, "--engine-opt", "novalue"}, []string{"novalue"}},
		{"bad workload", []string{"run", "--out", out, "--workload", "ycsb-z"}, []string{`"ycsb-z"`, "ycsb-a", "etcd-put"}},
		{"bad read ratio", []string{"run", "--out", out, "--read-ratio", "1.5"}, []string{"--read-ratio 1.5", "0..1"}},
		{"bad duration value", []string{"run", "--out", out, "--duration", "fast"}, []string{"fast"}},
		{"duration and ops", []string{"run", "--out", out, "--duration", "1s", "--ops", "100"}, []string{"not both"}},
		{"no out", []string{"run"}, []string{"--out is required"}},
		{"out not empty", []string{"run", "--out", nonEmpty}, []string{"not empty"}},
		{"nodes on mvcc", []string{"run", "--out", out, "--nodes", "3"}, []string{"only the cluster layer"}},
		{"too many nodes", []string{"run", "--out", out, "--layer", "cluster", "--nodes", "9"}, []string{"nodes 9", "1..7"}},
		{"bad consistency", []string{"run", "--out", out, "--consistency", "eventual"}, []string{"eventual"}},
		{"stray argument", []string{"run", "--out", out, "extra"}, []string{"extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("a failed start left %s behind", out)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 { // only "full"
				t.Fatalf("a failed start left %v in the output's parent", ents)
			}
		})
	}
}

func TestEnginesLists(t *testing.T) {
	code, stdout, stderr := run(t, "engines")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{"bbolt", "pebble", "memory", "initial-mmap-size", "default"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("engines output lacks %q:\n%s", w, stdout)
		}
	}
}

func TestRunMVCCMemoryEndToEnd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r")
	code, stdout, stderr := run(t, "run", "--layer", "mvcc", "--engine", "memory", "--duration", "1s", "--warmup", "200ms",
		"--keys", "2000", "--fsync-probe", "20", "--clients", "2", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"throughput", "p99", "get", "put", "results in " + out} {
		if !strings.Contains(stdout, w) {
			t.Errorf("summary lacks %q:\n%s", w, stdout)
		}
	}
	r, err := results.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Config
	if c.Layer != "mvcc" || c.Engine != "memory" || c.Nodes != 1 || c.Seed != 1 || c.Workload.Name != "ycsb-a" ||
		c.SnapshotCount == 0 || c.RaftLogCompaction != "3.6" || c.QuotaBytes == 0 || c.ReadConsistency == "" || c.EngineOptions == "" {
		t.Fatalf("config %+v", c)
	}
	if n, err := cluster.ParseNodeOptions(c.NodeOptions); err != nil || n.Engine != "memory" || n.SnapshotCount != c.SnapshotCount || n.String() != c.NodeOptions {
		t.Fatalf("config.node_options %q: %+v, %v", c.NodeOptions, n, err)
	}
	if r.Summary.Ops == 0 || r.Summary.ThroughputOpsS <= 0 || r.Summary.DurationS < 0.9 {
		t.Fatalf("summary %+v", r.Summary)
	}
	for k, o := range r.Ops {
		if o.Count == 0 || !(o.P50Us <= o.P99Us && o.P99Us <= o.MaxUs) {
			t.Errorf("%s: %+v", k, o)
		}
	}
	if r.Env.GoVersion == "" || r.Env.Kernel == "" || r.Env.FsyncP50Us <= 0 || r.Env.Commit == "" {
		t.Fatalf("env %+v", r.Env)
	}
	b, err := os.ReadFile(filepath.Join(out, results.BenchFile))
	if err != nil || !strings.Contains(string(b), "BenchmarkRun/layer=mvcc/engine=memory/nodes=1/workload=ycsb-a") {
		t.Fatalf("bench.txt: %v\n%s", err, b)
	}
}
