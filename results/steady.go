package results

import (
	"fmt"
	"math"
)

// Steady-state verdicts.
const (
	SteadyReached    = "reached"
	SteadyNotReached = "not-reached"
	SteadyUnknown    = "unknown"
)

// The steady-state criterion's constants (SteadyStateOf).
const (
	// SteadyWindowShare is the share of the measured phase, at its end,
	// the criterion looks at.
	SteadyWindowShare = 1.0 / 3
	// SteadyMinSamples is the fewest one-second samples the window must
	// hold: a shorter window tells a trend from noise poorly (a run of
	// 30 s or more).
	SteadyMinSamples = 10
	// SteadyRelChange is the largest change over the window, relative to
	// the series' mean, that is not a trend.
	SteadyRelChange = 0.2
	// SteadyRelGrowth is, for bbolt, the growth of the file beyond the
	// growth of its live data, relative to the mean size, that is not a
	// trend.
	SteadyRelGrowth = 0.05
	// steadyZ is how many standard errors of the fitted change a change
	// may be and still be noise (about 95%).
	steadyZ = 2
)

// The engine figures (Sample.Extra) the criterion reads.
const (
	ExtraPebbleL0Sublevels = "pebble.l0.sublevels"
	ExtraPebbleDebt        = "pebble.compaction_debt_bytes"
)

// SteadyState says whether a run reached the engine's steady state in its
// measured phase, with the figures the verdict rests on (SteadyStateOf).
type SteadyState struct {
	// Verdict is SteadyReached, SteadyNotReached or SteadyUnknown (too few
	// samples, no figures, or an engine without a criterion); Reason says
	// why in words.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	// Criterion names the rule applied: "lsm" (pebble: L0 sublevels and
	// compaction debt show no trend) or "btree-growth" (bbolt: the file
	// grows no more than its live data).
	Criterion string `json:"criterion,omitempty"`
	// WindowStartS and WindowEndS bound the window (seconds into the
	// measured phase) and Samples is how many interval samples it holds.
	WindowStartS float64 `json:"window_start_s"`
	WindowEndS   float64 `json:"window_end_s"`
	Samples      int     `json:"samples"`
	// Series are the figures judged, each with its fit.
	Series []SteadySeries `json:"series,omitempty"`
}

// SteadySeries is one series over the window: a least-squares line through
// its samples, the change the line makes over the window, and the largest
// change that is not a trend.
type SteadySeries struct {
	Name string  `json:"name"`
	Mean float64 `json:"mean"`
	// SlopePerS is the fitted slope per second; Change the slope times the
	// window's length; ChangeSE the standard error of Change (from the
	// residuals).
	SlopePerS float64 `json:"slope_per_s"`
	Change    float64 `json:"change"`
	ChangeSE  float64 `json:"change_se"`
	// Allowed is the largest Change that is no trend: the largest of the
	// relative bound (of the mean), steadyZ standard errors (a slope the
	// noise explains) and a floor in the series' unit (a change too small to
	// matter around a mean near zero). For bbolt's file, Allowed adds the
	// live data's own growth.
	Allowed float64 `json:"allowed"`
	Stable  bool    `json:"stable"`
}

// steadyInput is one judged series: its name, how to read it from a sample,
// and the floor of its allowed change.
type steadyInput struct {
	name  string
	get   func(*Sample) (float64, bool)
	floor float64
}

func extra(name string) func(*Sample) (float64, bool) {
	return func(s *Sample) (float64, bool) {
		v, ok := s.Extra[name]
		return v, ok
	}
}

// SteadyStateOf judges whether the run whose interval samples (Type
// SampleInterval; other samples are ignored) are given reached the engine's
// steady state. It is a pure function of the samples.
//
// The criterion looks at the last third of the measured phase (at least
// SteadyMinSamples samples, else the verdict is unknown) and fits a line
// through each series by least squares:
//
//   - pebble ("lsm"): L0 sublevels and compaction debt must show no trend:
//     the line's change over the window is within SteadyRelChange of the
//     series' mean, or within steadyZ standard errors of the fit (noise),
//     or under a floor (1 sublevel; 16 MiB of debt). A rising L0 or debt
//     means compactions are falling behind the writes and later figures
//     will differ; a falling one that the run is still digesting its
//     preload.
//   - bbolt ("btree-growth"): a B+tree's file grows when it needs pages its
//     free list cannot give, so the high-water mark (Sample.DBQuotaSize,
//     what etcd's quota compares) may grow only as much as the live data
//     (DBSizeInUse) does: its change over the window must not exceed the
//     live data's change (when positive) plus SteadyRelGrowth of its mean
//     (or steadyZ standard errors, or 16 MiB). Growth beyond that is free
//     pages the workload does not reuse: fragmentation still building.
//
// Other engines have no criterion (unknown).
func SteadyStateOf(engine string, samples []Sample) SteadyState {
	var iv []*Sample
	for i := range samples {
		if samples[i].Type == SampleInterval {
			iv = append(iv, &samples[i])
		}
	}
	st := SteadyState{Verdict: SteadyUnknown}
	if len(iv) == 0 {
		st.Reason = "no interval samples"
		return st
	}
	// An interval sample's T is its start; its state figures (sizes,
	// engine figures) are read at its end.
	first := iv[0].T
	end := iv[len(iv)-1].T + iv[len(iv)-1].LengthS
	st.WindowEndS = end
	st.WindowStartS = end - (end-first)*SteadyWindowShare
	var win []*Sample
	for _, s := range iv {
		if s.T+s.LengthS >= st.WindowStartS-1e-9 { // read in the window
			win = append(win, s)
		}
	}
	st.Samples = len(win)
	var inputs []steadyInput
	switch engine {
	case "pebble":
		st.Criterion = "lsm"
		inputs = []steadyInput{
			{ExtraPebbleL0Sublevels, extra(ExtraPebbleL0Sublevels), 1},
			{ExtraPebbleDebt, extra(ExtraPebbleDebt), 16 << 20},
		}
	case "bbolt":
		st.Criterion = "btree-growth"
		inputs = []steadyInput{
			{"db_quota_size_bytes", func(s *Sample) (float64, bool) { return float64(s.DBQuotaSize), s.DBQuotaSize > 0 }, 16 << 20},
			{"db_size_in_use_bytes", func(s *Sample) (float64, bool) { return float64(s.DBSizeInUse), s.DBSizeInUse > 0 }, 0},
		}
	default:
		st.Reason = fmt.Sprintf("no steady-state criterion for engine %q", engine)
		return st
	}
	if len(win) < SteadyMinSamples {
		st.Reason = fmt.Sprintf("%d samples in the last third of the measured phase, fewer than %d: run longer", len(win), SteadyMinSamples)
		return st
	}
	for _, in := range inputs {
		ser, ok := fitSeries(in, win, end-st.WindowStartS)
		if !ok {
			st.Reason = fmt.Sprintf("%s missing from the samples", in.name)
			st.Series = nil
			return st
		}
		ser.Allowed = max(SteadyRelChange*math.Abs(ser.Mean), steadyZ*ser.ChangeSE, in.floor)
		st.Series = append(st.Series, ser)
	}
	if engine == "bbolt" {
		// The file may grow as much as the live data does.
		file, live := &st.Series[0], &st.Series[1]
		file.Allowed = max(live.Change, 0) + max(SteadyRelGrowth*math.Abs(file.Mean), steadyZ*file.ChangeSE, 16<<20)
		live.Allowed, live.Stable = math.Inf(1), true // the live data may do anything: the workload decides
		file.Stable = file.Change <= file.Allowed
	} else {
		for i := range st.Series {
			s := &st.Series[i]
			s.Stable = math.Abs(s.Change) <= s.Allowed
		}
	}
	st.Verdict, st.Reason = SteadyReached, ""
	for _, s := range st.Series {
		if !s.Stable {
			st.Verdict = SteadyNotReached
			dir := "rises"
			if s.Change < 0 {
				dir = "falls"
			}
			st.Reason += fmt.Sprintf("%s %s by %.4g over the last %.0f s (allowed %.4g); ", s.Name, dir, math.Abs(s.Change), end-st.WindowStartS, s.Allowed)
		}
	}
	if st.Verdict == SteadyReached {
		st.Reason = fmt.Sprintf("no trend over the last %.0f s (%s)", end-st.WindowStartS, st.Criterion)
	} else {
		st.Reason = st.Reason[:len(st.Reason)-2]
	}
	return st
}

// fitSeries fits a least-squares line through the series over the window
// of length span (each sample at its interval's end); ok is false when a
// sample lacks it.
func fitSeries(in steadyInput, win []*Sample, span float64) (SteadySeries, bool) {
	n := float64(len(win))
	var st, sy float64
	xs := make([]float64, len(win))
	ys := make([]float64, len(win))
	for i, s := range win {
		v, ok := in.get(s)
		if !ok {
			return SteadySeries{}, false
		}
		xs[i], ys[i] = s.T+s.LengthS, v
		st += xs[i]
		sy += v
	}
	mx, my := st/n, sy/n
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	ser := SteadySeries{Name: in.name, Mean: my}
	if sxx == 0 {
		return ser, true
	}
	b := sxy / sxx
	var rss float64
	for i := range xs {
		r := ys[i] - (my + b*(xs[i]-mx))
		rss += r * r
	}
	ser.SlopePerS = b
	ser.Change = b * span
	if n > 2 {
		ser.ChangeSE = math.Sqrt(rss/(n-2)/sxx) * span
	}
	return ser, true
}
