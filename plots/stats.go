package plots

import (
	"fmt"
	"math"
)

// ciNote describes the error bars of a figure for its legend, given the
// number of repeats behind each point: "" when no point has two repeats
// (no bars drawn), else e.g. "error bars: 95% CI, n=5" or "n=3–5", noting
// points drawn without a bar because they have a single repeat.
func ciNote(ns []int) string {
	lo, hi, singles := math.MaxInt, 0, false
	for _, n := range ns {
		if n < 2 {
			singles = true
			continue
		}
		lo, hi = min(lo, n), max(hi, n)
	}
	if hi == 0 {
		return ""
	}
	s := fmt.Sprintf("error bars: 95%% CI, n=%d", lo)
	if hi != lo {
		s = fmt.Sprintf("error bars: 95%% CI, n=%d–%d", lo, hi)
	}
	if singles {
		s += " (n=1: none)"
	}
	return s
}
