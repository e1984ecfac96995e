package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/plots"
	"etcdlab/results"
)

// TestFaultSections: runs with faults get the Faults table and per-kind
// metrics (a "never" figure left out of the means), the Linearizability
// table, and a run whose verdict is not ok is named at the top of the
// report and by LinearizabilityProblems.
func TestFaultSections(t *testing.T) {
	dir := t.TempDir()
	ok := synthetic("bbolt", 1000, 500)
	ok.Faults = []results.Fault{{Spec: "kill-leader@5s+3s", Kind: "kill-leader", Nodes: []uint64{2}, StartS: 5, EndS: 8, Basis: "writes",
		UnavailableS: 1.5, FirstSuccessS: 1.6, Recovery90S: -1, DuringP99Us: 40000, DuringErrors: 3, ErrorsByKind: map[string]int64{"stopped": 3},
		CatchUp: []results.CatchUp{{Node: 2, TargetIndex: 900, CatchUpS: 0.4, SnapshotsReceived: 1, SnapshotBytes: 8 << 20}}}}
	ok.Linearizability = &results.Linearizability{Verdict: "ok", Ops: 500, Keys: 20}
	bad := synthetic("pebble", 900, 600)
	bad.Linearizability = &results.Linearizability{Verdict: "illegal", Ops: 400, Keys: 20}
	writeRun(t, filepath.Join(dir, "r1"), ok)
	writeRun(t, filepath.Join(dir, "r2"), bad)

	path, err := Write(dir, plots.Style{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	for _, want := range []string{
		"**Consistency: NOT OK.**", `linearizability verdict "illegal"`,
		"## Faults", "| `kill-leader@5s+3s` | [2] | 5.00 – 8.00 | 1.500 | 1.600 | never | 40000 | 3 (stopped 3) | node 2: 0.400 s, 1 snapshots, 8 MiB | — |",
		"## Linearizability", "| ok | 500 | 20 |", "| **ILLEGAL** | 400 | 20 |",
		"### kill-leader: longest time without a completed write (s)", "### kill-leader: restarted node caught up after (s)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(s, "### kill-leader: time back to 90% throughput") {
		t.Errorf("a metric whose only value is \"never\" got a table")
	}
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := LinearizabilityProblems(set.Runs); len(got) != 1 || !strings.Contains(got[0], "illegal") {
		t.Fatalf("LinearizabilityProblems = %v", got)
	}
	if v := Value(ok, "faults.kill-leader.snapshot_bytes"); v != 8<<20 {
		t.Fatalf("faults.kill-leader.snapshot_bytes = %v", v)
	}
}
