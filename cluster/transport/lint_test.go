package transport

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestNoHiddenClockOrGlobalRand enforces the determinism convention: nothing
// here reads the wall clock or the global math/rand source; delays and
// backoff use the injected clock and every draw comes from the seed.
func TestNoHiddenClockOrGlobalRand(t *testing.T) {
	forbidden := regexp.MustCompile(`time\.(Now|Since|Until)\(|"math/rand"|\brand\.(Int\w*|Uint\w*|Float\w*|Perm|Shuffle|N|ExpFloat64|NormFloat64)\(`)
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || name == "lint_test.go" {
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
				t.Errorf("%s:%d: %s (inject the clock and the seed instead)", name, i+1, m)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d files: wrong directory?", checked)
	}
}
