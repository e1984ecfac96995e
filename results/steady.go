package results

import (
	"fmt"
	"math"
	"strings"
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
	// judged (the last third), and compared with the same share before it
	// (the middle third).
	SteadyWindowShare = 1.0 / 3
	// SteadyMinSamples is the fewest one-second samples each window must
	// hold: a run of 30 s or more.
	SteadyMinSamples = 10
	// SteadyRelChange is the largest shift of a series' mean from the
	// middle to the last third, relative to the larger mean, that is not a
	// trend.
	SteadyRelChange = 0.2
	// SteadyRelGrowth is, for bbolt, the growth of the file beyond the
	// growth of its live data, relative to its mean size, that is not a
	// trend.
	SteadyRelGrowth = 0.05
	// steadyZ is how many standard errors of the shift a shift may be and
	// still be noise (about 95%).
	steadyZ = 2
	// Floors of the allowed shift, in each series' unit, for series that
	// come and go in normal operation: pebble's L0 holds up to its
	// compaction threshold (4 sublevels by default) before a compaction
	// empties it, and its debt swings by about one compaction into Lbase
	// (LBaseMaxBytes, 64 MiB by default; 0 to 87 MB measured at 1 GB): a
	// shift of half of that between two windows is the phase of that
	// cycle, not a trend. A B+tree's high-water mark grows in steps of
	// pages: 16 MiB.
	steadyL0Floor    = 2
	steadyDebtFloor  = 128 << 20
	steadyBTreeFloor = 16 << 20
)

// The engine figures (Sample.Extra) that choose and feed the criterion:
// an LSM's L0 sublevels and compaction debt (pebble's), a B+tree's
// high-water mark (bbolt's; its value is read from Sample.DBQuotaSize,
// the largest over nodes).
const (
	ExtraPebbleL0Sublevels = "pebble.l0.sublevels"
	ExtraPebbleDebt        = "pebble.compaction_debt_bytes"
	ExtraBBoltHWM          = "bbolt.hwm_bytes"
)

// SteadyState says whether a run reached the engine's steady state in its
// measured phase, with the figures the verdict rests on (SteadyStateOf).
// WindowStartS..WindowEndS is the last third; the middle third is the same
// length before it.
type SteadyState struct {
	// Verdict is SteadyReached, SteadyNotReached or SteadyUnknown (too few
	// samples, no figures, or an engine without a criterion); Reason says
	// why in words.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	// Criterion names the rule applied, chosen by the figures the engine
	// reports: "lsm" (pebble: L0 sublevels and compaction debt show no
	// trend) or "btree-growth" (bbolt: the file grows no more than its live
	// data).
	Criterion string `json:"criterion,omitempty"`
	// WindowStartS and WindowEndS bound the window (seconds into the
	// measured phase) and Samples is how many interval samples it holds.
	WindowStartS float64 `json:"window_start_s"`
	WindowEndS   float64 `json:"window_end_s"`
	Samples      int     `json:"samples"`
	// Series are the figures judged, each with its two windows.
	Series []SteadySeries `json:"series,omitempty"`
}

// SteadySeries is one series: its mean over the last third of the
// measured phase and over the middle third, the shift between them, and the
// largest shift that is not a trend.
type SteadySeries struct {
	Name string `json:"name"`
	// Mean is over the last third, PrevMean over the middle third; Change
	// is Mean - PrevMean and ChangeSE its standard error (from the two
	// windows' variances).
	Mean     float64 `json:"mean"`
	PrevMean float64 `json:"prev_mean"`
	Change   float64 `json:"change"`
	ChangeSE float64 `json:"change_se"`
	// Allowed is the largest |Change| that is no trend: the largest of the
	// relative bound (of the larger mean), steadyZ standard errors (a shift
	// the noise explains) and the series' floor (a shift normal operation
	// makes). For bbolt's file, Allowed adds the live data's own growth and
	// only growth counts; bbolt's live data is reported, not judged
	// (Allowed 0, Stable true).
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
// The criterion compares the last third of the measured phase with the
// middle third (each of at least SteadyMinSamples samples, else the verdict
// is unknown; a sample belongs to the window in which its figures were read,
// at its interval's end). A series has reached its steady state when its
// mean did not shift between them beyond the largest of SteadyRelChange of
// the larger mean, steadyZ standard errors of the shift, and a floor of
// what normal operation moves:
//
//   - pebble ("lsm"): L0 sublevels (floor 2) and compaction debt (floor
//     128 MiB). A rising L0 or debt means compactions are falling behind
//     the writes and later figures will differ; a falling one that the run
//     is still digesting its preload. Comparing windows' means rather than
//     fitting one window's slope keeps the cycle of flushes and
//     compactions (L0 and debt up, then to zero) from reading as a trend.
//   - bbolt ("btree-growth"): a B+tree's file grows when it needs pages
//     its free list cannot give, so its high-water mark (Sample.DBQuotaSize,
//     what etcd's quota compares) may grow only as much as the live data
//     (DBSizeInUse) does: its shift must not exceed the live data's (when
//     positive) plus SteadyRelGrowth of its mean (or steadyZ standard
//     errors, or 16 MiB). Growth beyond that is free pages the workload
//     does not reuse: fragmentation still building.
//
// The criterion follows the figures the engine reports (the last sample
// that has either): ExtraPebbleL0Sublevels for "lsm", ExtraBBoltHWM for
// "btree-growth". An engine with neither (the memory engine, a remote
// server) has no criterion: unknown.
func SteadyStateOf(samples []Sample) SteadyState {
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
	first := iv[0].T
	end := iv[len(iv)-1].T + iv[len(iv)-1].LengthS
	third := (end - first) * SteadyWindowShare
	st.WindowEndS, st.WindowStartS = end, end-third
	var prev, win []*Sample
	for _, s := range iv {
		switch read := s.T + s.LengthS; {
		case read >= st.WindowStartS-1e-9:
			win = append(win, s)
		case read >= st.WindowStartS-third-1e-9:
			prev = append(prev, s)
		}
	}
	st.Samples = len(win)
	var inputs []steadyInput
	criterion := ""
	for _, s := range iv {
		if _, ok := s.Extra[ExtraPebbleL0Sublevels]; ok {
			criterion = "lsm"
		} else if _, ok := s.Extra[ExtraBBoltHWM]; ok {
			criterion = "btree-growth"
		}
	}
	switch criterion {
	case "lsm":
		st.Criterion = "lsm"
		inputs = []steadyInput{
			{ExtraPebbleL0Sublevels, extra(ExtraPebbleL0Sublevels), steadyL0Floor},
			{ExtraPebbleDebt, extra(ExtraPebbleDebt), steadyDebtFloor},
		}
	case "btree-growth":
		st.Criterion = "btree-growth"
		inputs = []steadyInput{
			{"db_quota_size_bytes", func(s *Sample) (float64, bool) { return float64(s.DBQuotaSize), s.DBQuotaSize > 0 }, steadyBTreeFloor},
			{"db_size_in_use_bytes", func(s *Sample) (float64, bool) { return float64(s.DBSizeInUse), s.DBSizeInUse > 0 }, 0},
		}
	default:
		st.Reason = fmt.Sprintf("no steady-state criterion: the samples have neither %s (an LSM) nor %s (a B+tree)", ExtraPebbleL0Sublevels, ExtraBBoltHWM)
		return st
	}
	if len(win) < SteadyMinSamples || len(prev) < SteadyMinSamples {
		st.Reason = fmt.Sprintf("%d and %d samples in the middle and last thirds of the measured phase, fewer than %d each: run 30 s or more", len(prev), len(win), SteadyMinSamples)
		return st
	}
	for _, in := range inputs {
		ser, ok := compareWindows(in, prev, win)
		if !ok {
			st.Reason = fmt.Sprintf("%s missing from the samples", in.name)
			return st
		}
		ser.Allowed = max(SteadyRelChange*max(math.Abs(ser.Mean), math.Abs(ser.PrevMean)), steadyZ*ser.ChangeSE, in.floor)
		ser.Stable = math.Abs(ser.Change) <= ser.Allowed
		st.Series = append(st.Series, ser)
	}
	if st.Criterion == "btree-growth" {
		// The file may grow as much as the live data does; the live data
		// may do anything (the workload decides).
		file, live := &st.Series[0], &st.Series[1]
		file.Allowed = max(live.Change, 0) + max(SteadyRelGrowth*math.Abs(file.Mean), steadyZ*file.ChangeSE, steadyBTreeFloor)
		file.Stable = file.Change <= file.Allowed
		live.Allowed, live.Stable = 0, true // reported, not judged
	}
	st.Verdict = SteadyReached
	var why []string
	for _, s := range st.Series {
		if !s.Stable {
			st.Verdict = SteadyNotReached
			dir := "rose"
			if s.Change < 0 {
				dir = "fell"
			}
			why = append(why, fmt.Sprintf("%s %s by %.4g from the middle to the last third (%.4g to %.4g; allowed %.4g)", s.Name, dir, math.Abs(s.Change), s.PrevMean, s.Mean, s.Allowed))
		}
	}
	if st.Verdict == SteadyReached {
		st.Reason = fmt.Sprintf("no trend from the middle to the last third of %.0f s (%s)", end-first, st.Criterion)
	} else {
		st.Reason = strings.Join(why, "; ")
	}
	return st
}

// compareWindows returns the series' means over the two windows, the shift
// and its standard error; ok is false when a sample lacks the series.
func compareWindows(in steadyInput, prev, win []*Sample) (SteadySeries, bool) {
	m1, v1, ok1 := meanVar(in, prev)
	m2, v2, ok2 := meanVar(in, win)
	if !ok1 || !ok2 {
		return SteadySeries{}, false
	}
	return SteadySeries{Name: in.name, Mean: m2, PrevMean: m1, Change: m2 - m1,
		ChangeSE: math.Sqrt(v1/float64(len(prev)) + v2/float64(len(win)))}, true
}

// meanVar is the mean and sample variance of the series over ss.
func meanVar(in steadyInput, ss []*Sample) (mean, variance float64, ok bool) {
	vs := make([]float64, len(ss))
	for i, s := range ss {
		if vs[i], ok = in.get(s); !ok {
			return 0, 0, false
		}
		mean += vs[i]
	}
	mean /= float64(len(vs))
	for _, v := range vs {
		variance += (v - mean) * (v - mean)
	}
	if len(vs) > 1 {
		variance /= float64(len(vs) - 1)
	}
	return mean, variance, true
}
