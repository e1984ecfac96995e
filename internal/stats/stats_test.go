package stats

import (
	"math"
	"testing"
)

func TestTCritical95(t *testing.T) {
	// Reference values: two-sided 95% critical values of Student's t
	// (standard tables, e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
	for _, tc := range []struct {
		df   int
		want float64
		tol  float64
	}{
		{1, 12.706, 5e-4}, {2, 4.303, 5e-4}, {3, 3.182, 5e-4}, {4, 2.776, 5e-4},
		{5, 2.571, 5e-4}, {9, 2.262, 5e-4}, {10, 2.228, 5e-4}, {20, 2.086, 5e-4},
		{29, 2.045, 5e-4}, {30, 2.042, 5e-4},
		// Past the table: the expansion must stay close to the exact values.
		{40, 2.021, 5e-4}, {50, 2.009, 5e-4}, {60, 2.000, 5e-4}, {100, 1.984, 5e-4},
		{1000, 1.962, 5e-4}, {1 << 30, 1.960, 5e-4},
	} {
		if got := TCritical95(tc.df); math.Abs(got-tc.want) > tc.tol {
			t.Errorf("TCritical95(%d) = %.5f, want %.3f", tc.df, got, tc.want)
		}
	}
	if !math.IsNaN(TCritical95(0)) || !math.IsNaN(TCritical95(-3)) {
		t.Errorf("TCritical95 of df < 1 must be NaN")
	}
	// Monotone decreasing towards 1.96, including across the table's end.
	prev := math.Inf(1)
	for df := 1; df <= 200; df++ {
		v := TCritical95(df)
		if !(v < prev) || v < z975 {
			t.Fatalf("TCritical95(%d) = %v not decreasing towards %v (previous %v)", df, v, z975, prev)
		}
		prev = v
	}
}

func TestMeanCI(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-3 }
	for _, tc := range []struct {
		name         string
		in           []float64
		mean, lo, hi float64
	}{
		// n=2: mean 2, s=√2, half = 12.706·√2/√2 = 12.706.
		{"two", []float64{1, 3}, 2, 2 - 12.7062, 2 + 12.7062},
		// n=3: mean 2, s=1, half = 4.3027/√3 = 2.48417.
		{"three", []float64{1, 2, 3}, 2, 2 - 2.48417, 2 + 2.48417},
		// n=5: 10,12,14,16,18: mean 14, s=√10, half = 2.7764·√10/√5 = 3.92643.
		{"five", []float64{10, 12, 14, 16, 18}, 14, 14 - 3.92643, 14 + 3.92643},
		// Identical repeats: no spread.
		{"same", []float64{7, 7, 7, 7}, 7, 7, 7},
		{"one", []float64{42}, 42, 42, 42},
		// Large offset: the two-pass variance must not lose the spread.
		{"offset", []float64{1e9 + 1, 1e9 + 2, 1e9 + 3}, 1e9 + 2, 1e9 + 2 - 2.48417, 1e9 + 2 + 2.48417},
	} {
		m, lo, hi := MeanCI(tc.in)
		if !near(m, tc.mean) || !near(lo, tc.lo) || !near(hi, tc.hi) {
			t.Errorf("%s: MeanCI(%v) = %v [%v, %v], want %v [%v, %v]", tc.name, tc.in, m, lo, hi, tc.mean, tc.lo, tc.hi)
		}
	}
	for _, in := range [][]float64{nil, {}, {1, math.NaN()}, {math.Inf(1), 2}} {
		m, lo, hi := MeanCI(in)
		if !math.IsNaN(m) || !math.IsNaN(lo) || !math.IsNaN(hi) {
			t.Errorf("MeanCI(%v) = %v [%v, %v], want all NaN", in, m, lo, hi)
		}
	}
}
