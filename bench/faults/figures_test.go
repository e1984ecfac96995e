package faults

import (
	"math"
	"sort"
	"testing"
	"time"
)

const ms = time.Millisecond

// steady returns one successful write every gap from from (inclusive) to to
// (exclusive), each taking lat.
func steady(from, to, gap, lat time.Duration) []Op {
	var ops []Op
	for t := from; t < to; t += gap {
		ops = append(ops, Op{Start: t, End: t + lat, Write: true, OK: true})
	}
	return ops
}

func sorted(ops []Op) []Op {
	sort.Slice(ops, func(i, j int) bool { return ops[i].End < ops[j].End })
	return ops
}

// TestFiguresKillLeader: 100 writes/s of 1 ms; at 5s the leader dies and
// nothing completes until 6.2s, when a write stuck since 4.995s fails with
// a timeout and writes resume; the fault is lifted at 8s.
func TestFiguresKillLeader(t *testing.T) {
	ops := steady(0, 5*time.Second, 10*ms, ms)
	ops = append(ops, Op{Start: 4995 * ms, End: 6200 * ms, Write: true, ErrKind: "timeout"})
	ops = append(ops, steady(6200*ms, 15*time.Second, 10*ms, ms)...)
	f := Figures(sorted(ops), Window{Start: 5 * time.Second, End: 8 * time.Second}, 15*time.Second)

	if f.Basis != "writes" {
		t.Errorf("basis %q", f.Basis)
	}
	// Last success before: the write started at 4.99s ended at 4.991s;
	// unavailability counts from the fault's start, 5s, to 6.201s.
	if !near(f.UnavailableS, 1.201) {
		t.Errorf("unavailable %.4fs, want 1.201", f.UnavailableS)
	}
	if !near(f.FirstSuccessS, 1.201) {
		t.Errorf("first success %.4fs, want 1.201", f.FirstSuccessS)
	}
	if !near(f.PreFaultOpsS, 100) {
		t.Errorf("pre-fault %.1f ops/s, want 100", f.PreFaultOpsS)
	}
	// The first 1s window with >= 90 successes (steps of 0.1s from 5s)
	// starts at 6.1s: the writes started at 6.2s..7.09s end inside it.
	if !near(f.Recovery90S, 1.1) {
		t.Errorf("recovery to 90%% %.3fs, want 1.1", f.Recovery90S)
	}
	if f.DuringErrors != 1 || f.ErrorsByKind["timeout"] != 1 {
		t.Errorf("errors during: %d %v", f.DuringErrors, f.ErrorsByKind)
	}
	// In flight during [5s, 8s]: the stuck one and the writes started at
	// 6.2s..8s.
	if f.DuringOps != 1+181 {
		t.Errorf("ops during %d, want 182", f.DuringOps)
	}
	if !near(f.DuringMaxUs, 1205e3) || !near(f.DuringP50Us, 1e3) {
		t.Errorf("latency during: p50 %.0fµs max %.0fµs", f.DuringP50Us, f.DuringMaxUs)
	}
}

// TestFiguresNoImpact: a fault that changes nothing has no dip and no gap
// beyond the normal spacing of writes.
func TestFiguresNoImpact(t *testing.T) {
	ops := sorted(steady(0, 10*time.Second, 10*ms, ms))
	f := Figures(ops, Window{Start: 4 * time.Second, End: 6 * time.Second}, 10*time.Second)
	if f.Recovery90S != 0 {
		t.Errorf("recovery %.2fs, want 0 (never dropped)", f.Recovery90S)
	}
	if f.UnavailableS > 0.0101 || f.FirstSuccessS > 0.0011 {
		t.Errorf("unavailable %.4fs first success %.4fs", f.UnavailableS, f.FirstSuccessS)
	}
	if f.DuringErrors != 0 || f.ErrorsByKind != nil {
		t.Errorf("errors %d %v", f.DuringErrors, f.ErrorsByKind)
	}
}

// TestFiguresNeverBack: writes stop at the fault and never resume.
func TestFiguresNeverBack(t *testing.T) {
	ops := sorted(steady(0, 5*time.Second, 10*ms, ms))
	f := Figures(ops, Window{Start: 5 * time.Second, End: 10 * time.Second}, 10*time.Second)
	if f.Recovery90S != -1 || f.FirstSuccessS != -1 {
		t.Errorf("recovery %.2f first success %.2f, want -1 and -1", f.Recovery90S, f.FirstSuccessS)
	}
	if !near(f.UnavailableS, 5) {
		t.Errorf("unavailable %.3fs, want 5 (to the end of the run)", f.UnavailableS)
	}
}

// TestFiguresReadsOnly: without writes the figures follow every op.
func TestFiguresReadsOnly(t *testing.T) {
	ops := steady(0, 2*time.Second, 10*ms, ms)
	for i := range ops {
		ops[i].Write = false
	}
	f := Figures(sorted(ops), Window{Start: time.Second, End: time.Second}, 2*time.Second)
	if f.Basis != "ops" || f.FirstSuccessS < 0 {
		t.Errorf("basis %q first success %.3f", f.Basis, f.FirstSuccessS)
	}
}

func near(got, want float64) bool { return math.Abs(got-want) < 1e-6*math.Max(1, math.Abs(want)) }
