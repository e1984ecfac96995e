package cluster

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestNoHiddenClockOrGlobalRand: the package's non-test code reads time only
// through the injected clock and draws randomness only from seeded sources.
func TestNoHiddenClockOrGlobalRand(t *testing.T) {
	forbidden := regexp.MustCompile(`time\.(Now|Since|Until|Sleep|After|NewTimer|NewTicker)\(|\brand\.(Int\w*|Uint\w*|Float\w*|Perm|Shuffle|N|ExpFloat64|NormFloat64)\(`)
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for i, line := range strings.Split(string(data), "\n") {
			if c := strings.Index(line, "//"); c >= 0 {
				line = line[:c]
			}
			if m := forbidden.FindString(line); m != "" {
				t.Errorf("%s:%d: %s (use the injected clock and seed)", name, i+1, m)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d files: wrong directory?", checked)
	}
}
