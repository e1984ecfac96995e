package faults

import (
	"math"
	"sort"
	"time"

	"etcdlab/results"
)

// Op is one client operation of the measured phase, as the figures need
// it: when it started (the intended start in open loop) and ended, both as
// offsets from the start of the measured phase, whether it wrote, whether
// it succeeded, and its error's kind when it did not.
type Op struct {
	Start, End time.Duration
	Write, OK  bool
	ErrKind    string
}

// Window is when a fault was in force, as offsets from the start of the
// measured phase; End == Start for an instant action (restart, heal).
type Window struct {
	Start, End time.Duration
}

// Figure windows.
const (
	// PreFaultWindow is how much of the time before a fault its baseline
	// throughput is measured over (less when the fault comes earlier).
	PreFaultWindow = 3 * time.Second
	// RateWindow is the length of the sliding window the throughput after
	// a fault is measured over, and RateStep its step.
	RateWindow = time.Second
	RateStep   = 100 * time.Millisecond
	// BackShare is the share of the baseline throughput that counts as
	// recovered.
	BackShare = 0.9
)

// Figures computes what the fault in force during w did to the clients.
// ops must be sorted by End; runEnd is the end of the measured phase.
//
//   - Basis: "writes" when the run wrote, else "ops": the availability
//     figures follow writes, which need a leader and a quorum.
//   - UnavailableS: the longest stretch without a successful completion
//     (of the basis) that overlaps the window, counted from the fault's
//     start at the earliest and until the next success (or the run's end).
//   - FirstSuccessS: from the fault's start to the end of the first
//     successful op (of the basis) that started after it; -1 if none did.
//   - PreFaultOpsS: successful ops per second over the PreFaultWindow before
//     the fault (0 when the fault starts at 0).
//   - Recovery90S: from the fault's start to the start of the first
//     RateWindow, after the throughput dropped below BackShare of the
//     baseline, whose throughput is back at or above it; 0 when it never
//     dropped (searched from the fault's start to one RateWindow past its
//     end), -1 when it did not come back before the run ended.
//   - During*: every op in flight during the window (started before its end,
//     ended after its start): count, errors by kind, p50/p99/max latency.
func Figures(ops []Op, w Window, runEnd time.Duration) results.Fault {
	var f results.Fault
	f.StartS, f.EndS = w.Start.Seconds(), w.End.Seconds()
	basis := func(op *Op) bool { return true }
	f.Basis = "ops"
	for i := range ops {
		if ops[i].Write {
			basis = func(op *Op) bool { return op.Write }
			f.Basis = "writes"
			break
		}
	}

	// Unavailability: gaps between successive successful completions.
	prev := time.Duration(0)
	var longest time.Duration
	consider := func(gapStart, gapEnd time.Duration) {
		if gapEnd < w.Start || gapStart > w.End {
			return // does not overlap the window
		}
		longest = max(longest, gapEnd-max(gapStart, w.Start))
	}
	for i := range ops {
		op := &ops[i]
		if !op.OK || !basis(op) {
			continue
		}
		consider(prev, op.End)
		prev = op.End
	}
	consider(prev, runEnd)
	f.UnavailableS = longest.Seconds()

	f.FirstSuccessS = -1
	for i := range ops {
		op := &ops[i]
		if op.OK && basis(op) && op.Start >= w.Start {
			f.FirstSuccessS = (op.End - w.Start).Seconds()
			break
		}
	}

	f.Recovery90S = recovery(ops, w, runEnd, &f.PreFaultOpsS)

	var lat []time.Duration
	for i := range ops {
		op := &ops[i]
		if op.Start > w.End || op.End < w.Start {
			continue
		}
		f.DuringOps++
		lat = append(lat, op.End-op.Start)
		if !op.OK {
			f.DuringErrors++
			if f.ErrorsByKind == nil {
				f.ErrorsByKind = map[string]int64{}
			}
			f.ErrorsByKind[op.ErrKind]++
		}
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		q := func(p float64) float64 {
			i := int(math.Ceil(p*float64(len(lat)))) - 1
			return float64(lat[max(i, 0)]) / 1e3
		}
		f.DuringP50Us, f.DuringP99Us, f.DuringMaxUs = q(0.50), q(0.99), q(1)
	}
	return f
}

// recovery computes Recovery90S (see Figures) and stores the baseline rate.
func recovery(ops []Op, w Window, runEnd time.Duration, pre *float64) float64 {
	// Successful completions, sorted (ops are sorted by End).
	var ends []time.Duration
	for i := range ops {
		if ops[i].OK {
			ends = append(ends, ops[i].End)
		}
	}
	count := func(from, to time.Duration) int {
		lo := sort.Search(len(ends), func(i int) bool { return ends[i] >= from })
		hi := sort.Search(len(ends), func(i int) bool { return ends[i] >= to })
		return hi - lo
	}
	base := min(w.Start, PreFaultWindow)
	if base <= 0 {
		return 0
	}
	*pre = float64(count(w.Start-base, w.Start)) / base.Seconds()
	target := BackShare * *pre * RateWindow.Seconds()
	dipped := false
	for t := w.Start; t+RateWindow <= runEnd; t += RateStep {
		n := float64(count(t, t+RateWindow))
		if !dipped {
			if t > w.End+RateWindow {
				return 0 // never below the mark while the fault lasted
			}
			dipped = n < target
			continue
		}
		if n >= target {
			return (t - w.Start).Seconds()
		}
	}
	if !dipped {
		return 0
	}
	return -1
}
