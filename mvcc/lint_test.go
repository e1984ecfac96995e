package mvcc

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestNoWallClockOrGlobalRand keeps the package deterministic: time comes
// from the injected clock, randomness from seeded sources.
func TestNoWallClockOrGlobalRand(t *testing.T) {
	forbidden := regexp.MustCompile(`time\.Now\(|time\.Since\(|time\.Sleep\(|"math/rand"|\brand\.(Int|Int64|Uint32|Uint64|IntN|Int64N|Uint64N|Float64|Perm|Shuffle|N)\(`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f == "lint_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := forbidden.Find(b); m != nil {
			t.Errorf("%s uses %s: use the injected clock.Clock or a seeded *rand.Rand", f, m)
		}
	}
}
