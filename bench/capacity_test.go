package bench

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"etcdlab/internal/clock"
	"etcdlab/workloads"
)

// TestRateFraction: a closed-loop probe measures the capacity (one client,
// 2 ms an op: 500 ops/s at most, less by the time the test's own clock
// advances add), and the run then goes open loop at half of it, with
// service times recorded and throughput at the derived rate.
func TestRateFraction(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	ft := &fakeTarget{clk: clk, took: 2 * time.Millisecond}
	cfg := Config{Workload: noPreload(smallSpec(t, "ycsb-a", 1000)), Seed: seed(t), Clients: 1, Ops: 200,
		RateFraction: 0.5, CapacityProbe: time.Second, Clock: clk}
	// The open loop's pacer waits on the clock between ops.
	o := runOnFakeClock(t, cfg, ft, clk, 100*time.Microsecond)
	r := o.Result
	s := r.Summary
	if !(s.CapacityOpsS > 100 && s.CapacityOpsS <= 500.01) || !(s.CapacityWriteOpsS > 0 && s.CapacityWriteOpsS < s.CapacityOpsS) {
		t.Fatalf("capacity %v ops/s (writes %v), want (100, 500] with about half writes", s.CapacityOpsS, s.CapacityWriteOpsS)
	}
	if r.Config.Loop != "open" || math.Abs(r.Config.RateOpsS-0.5*s.CapacityOpsS) > 1e-9 || r.Config.RateFraction != 0.5 || r.Config.CapacityProbeS != 1 {
		t.Fatalf("config loop %q rate %v fraction %v probe %vs, want open at half the capacity", r.Config.Loop, r.Config.RateOpsS, r.Config.RateFraction, r.Config.CapacityProbeS)
	}
	if s.Ops != 200 || o.Service == nil {
		t.Fatalf("ops %d, service log %v: want 200 open-loop ops", s.Ops, o.Service != nil)
	}
	// Below capacity the ops keep to the schedule: throughput at the rate.
	if math.Abs(s.ThroughputOpsS-r.Config.RateOpsS) > 0.15*r.Config.RateOpsS {
		t.Fatalf("throughput %v ops/s, want about the rate %v", s.ThroughputOpsS, r.Config.RateOpsS)
	}
}

// TestRateFractionNoCapacity: a probe whose every op fails gives no rate.
func TestRateFractionNoCapacity(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	ft := &fakeTarget{clk: clk, took: time.Millisecond, failEvery: 1}
	cfg := Config{Workload: noPreload(smallSpec(t, "ycsb-a", 1000)), Seed: seed(t), Clients: 1, Ops: 10,
		RateFraction: 0.7, CapacityProbe: 100 * time.Millisecond, Clock: clk}
	if _, err := RunTarget(context.Background(), cfg, ft); !errors.Is(err, ErrNoCapacity) {
		t.Fatalf("err %v, want ErrNoCapacity", err)
	}
}

func TestRateFractionValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{RateFraction: 1.5}, "rate-fraction 1.5"},
		{Config{RateFraction: -0.1}, "rate-fraction -0.1"},
		{Config{RateFraction: 0.5, Rate: 100}, "not both"},
		{Config{CapacityProbe: time.Second}, "only with a rate fraction"},
	} {
		c.cfg.EnsureDefaults()
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: err %v, want %q", c.cfg.RateFraction, err, c.want)
		}
	}
	ok := Config{RateFraction: 0.7}
	ok.EnsureDefaults()
	if err := ok.Validate(); err != nil || ok.CapacityProbe != DefaultCapacityProbe || ok.Loop() != "open" {
		t.Fatalf("err %v probe %v loop %s", err, ok.CapacityProbe, ok.Loop())
	}
}

func TestMissedDue(t *testing.T) {
	ms := float64(time.Millisecond)
	for _, c := range []struct {
		unstarted, from, stop time.Duration
		want                  int64
	}{
		{10 * time.Millisecond, 0, 10 * time.Millisecond, 0},                     // due at the stop: not missed
		{10 * time.Millisecond, 0, 11 * time.Millisecond, 1},                     // 10
		{10 * time.Millisecond, 0, 20 * time.Millisecond, 10},                    // 10..19
		{10 * time.Millisecond, 15 * time.Millisecond, 20 * time.Millisecond, 5}, // warm-up ops are not counted
		{30 * time.Millisecond, 0, 20 * time.Millisecond, 0},                     // due after the stop
	} {
		if got := missedDue(c.unstarted, c.from, c.stop, ms); got != c.want {
			t.Errorf("missedDue(%v, %v, %v) = %d, want %d", c.unstarted, c.from, c.stop, got, c.want)
		}
	}
}

// stallTarget takes no time but for its at-th op, which never returns
// until the runner cancels it.
type stallTarget struct {
	fakeTarget
	at int64
}

func (s *stallTarget) Do(ctx context.Context, op *workloads.Op) error {
	if s.calls.Add(1) == s.at {
		<-ctx.Done() // until the runner cancels it after the drain grace
		return ctx.Err()
	}
	return nil
}

// TestOpenLoopMissed: a stall that outlasts the run leaves the ops due
// behind it unstarted; the summary counts them (their latency is missing).
func TestOpenLoopMissed(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	st := &stallTarget{fakeTarget: fakeTarget{clk: clk}, at: 300}
	cfg := Config{Workload: noPreload(smallSpec(t, "ycsb-c", 1000)), Seed: seed(t), Clients: 1, Rate: 1000, Duration: time.Second, Clock: clk}
	o := runOnFakeClock(t, cfg, st, clk, time.Millisecond)
	// Ops due from 0.299 s to the stop at 1 s (later by how the test
	// steps the clock, before the measured phase's end after the drain)
	// never completed.
	s := o.Result.Summary
	if u := s.OpenLoopMissed; u < 700 || float64(u) > s.DurationS*1000-299 {
		t.Fatalf("open_loop_missed %d, want 700 or more and at most those due by the end at %.3fs (ops %d)", u, s.DurationS, s.Ops)
	}
}

// runOnFakeClock runs cfg against tgt, advancing clk by step (with a short
// real sleep, so the run's goroutines get to wait on it) until the run
// returns; it fails the test on an error or after 200,000 steps.
func runOnFakeClock(t *testing.T, cfg Config, tgt Target, clk *clock.Fake, step time.Duration) *Outcome {
	t.Helper()
	done := make(chan struct{})
	var o *Outcome
	var err error
	go func() { o, err = RunTarget(context.Background(), cfg, tgt); close(done) }()
	for i := 0; ; i++ {
		select {
		case <-done:
			if err != nil {
				t.Fatal(err)
			}
			return o
		default:
		}
		if i > 200_000 {
			t.Fatal("run did not finish")
		}
		clk.Advance(step)
		time.Sleep(10 * time.Microsecond)
	}
}
