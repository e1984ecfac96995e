package stats

import "math"

// tTable975 holds the 0.975 quantile of Student's t distribution for 1..30
// degrees of freedom (two-sided 95%), index = df-1. Repeats are usually few
// (3–10), where the normal 1.96 would understate the interval badly (df=2:
// 4.30 vs 1.96).
var tTable975 = [30]float64{
	12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
	2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
	2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
}

// z975 is the 0.975 quantile of the standard normal distribution.
const z975 = 1.959963984540054

// TCritical95 returns the two-sided 95% critical value of Student's t with df
// degrees of freedom: a table for df 1..30, then the Cornish–Fisher expansion
// around the normal quantile (error below 1e-4 for df > 30, where it tends to
// 1.96). It returns NaN for df < 1.
func TCritical95(df int) float64 {
	switch {
	case df < 1:
		return math.NaN()
	case df <= len(tTable975):
		return tTable975[df-1]
	}
	z := z975
	n := float64(df)
	z3 := z * z * z
	z5 := z3 * z * z
	z7 := z5 * z * z
	return z + (z3+z)/(4*n) +
		(5*z5+16*z3+3*z)/(96*n*n) +
		(3*z7+19*z5+17*z3-15*z)/(384*n*n*n)
}

// MeanCI returns the mean of values and the bounds of its two-sided 95%
// confidence interval, mean ± t(n−1)·s/√n with s the sample standard
// deviation. With one value the interval is the value itself (lo = hi = mean:
// one repeat says nothing about spread, so no error bar is drawn); with none,
// or with a NaN or infinite value, all three are NaN so the caller cannot
// mistake them for a measurement.
func MeanCI(values []float64) (mean, lo, hi float64) {
	n := len(values)
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	var sum float64
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return math.NaN(), math.NaN(), math.NaN()
		}
		sum += v
	}
	mean = sum / float64(n)
	if n == 1 {
		return mean, mean, mean
	}
	// Two-pass variance: numerically stable for values far from zero
	// (e.g. throughputs of 1e5 differing in the last digits).
	var ss float64
	for _, v := range values {
		d := v - mean
		ss += d * d
	}
	sd := math.Sqrt(ss / float64(n-1))
	half := TCritical95(n-1) * sd / math.Sqrt(float64(n))
	return mean, mean - half, mean + half
}
