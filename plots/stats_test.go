package plots

import "testing"

func TestCINote(t *testing.T) {
	for _, tc := range []struct {
		ns   []int
		want string
	}{
		{nil, ""},
		{[]int{1, 1}, ""},
		{[]int{5, 5}, "error bars: 95% CI, n=5"},
		{[]int{3, 5, 4}, "error bars: 95% CI, n=3–5"},
		{[]int{3, 1}, "error bars: 95% CI, n=3 (n=1: none)"},
	} {
		if got := ciNote(tc.ns); got != tc.want {
			t.Errorf("ciNote(%v) = %q, want %q", tc.ns, got, tc.want)
		}
	}
}
