package plots

import (
	"fmt"
	"testing"
)

// TestExtraEventLooksDiffer: event kinds beyond the fixed ones never share
// both color and glyph until the combinations run out (a fault run's
// timeline has ten kinds or so; four colors made snapshots and restarts
// look alike).
func TestExtraEventLooksDiffer(t *testing.T) {
	n := len(extraEventColors) * len(extraEventGlyphs)
	if n < 10 {
		t.Fatalf("only %d distinct looks for other event kinds", n)
	}
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		c, g := extraEventLook(i)
		key := fmt.Sprintf("%v/%T", c, g)
		if j, dup := seen[key]; dup {
			t.Fatalf("kinds %d and %d look the same (%s)", j, i, key)
		}
		seen[key] = i
	}
}
