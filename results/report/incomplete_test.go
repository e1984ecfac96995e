package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/results"
)

// TestIncompleteRunsLeftOut: a result.json that parses but lacks what every
// finished run records (cut down to its schema line, or without ops) is not
// a run with zeros everywhere: a directory of runs leaves it out by name, and
// a run directory holding only it is refused with the reason.
func TestIncompleteRunsLeftOut(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, filepath.Join(dir, "good"), synthetic("bbolt", 1000, 500))
	cut := filepath.Join(dir, "cut")
	if err := os.MkdirAll(cut, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cut, results.ResultFile), []byte(`{"schema":"etcdlab/result/v1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	noOps := synthetic("bbolt", 1000, 500)
	noOps.Ops = nil
	writeRun(t, filepath.Join(dir, "noops"), noOps)

	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 1 || s.Runs[0].Dir != filepath.Join(dir, "good") {
		t.Fatalf("runs %+v, want only the complete one", s.Runs)
	}
	skipped := strings.Join(s.Skipped, "\n")
	for _, want := range []string{"cut: results: incomplete result: no config.layer, no config.engine, no summary.duration_s, no ops", "noops: results: incomplete result: no ops"} {
		if !strings.Contains(skipped, want) {
			t.Errorf("skipped lacks %q:\n%s", want, skipped)
		}
	}
	md := Markdown(s, nil)
	if !strings.Contains(md, "Left out:") || !strings.Contains(md, "incomplete result") {
		t.Errorf("report does not name the incomplete runs:\n%s", md)
	}

	_, err = Load(cut)
	if !errors.Is(err, ErrNoRuns) || !strings.Contains(err.Error(), "incomplete result") {
		t.Fatalf("Load of a run dir with a cut-down result.json: %v", err)
	}
}
