package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"etcdlab/workloads"
)

// ErrNoCapacity marks a capacity probe that completed no op: there is no
// rate to take a fraction of.
var ErrNoCapacity = errors.New("bench: the capacity probe completed no op")

// probeCapacity measures the closed-loop throughput the open loop of
// Config.RateFraction takes its rate from: the run's clients run their
// workload back to back for Config.CapacityProbe (after the preload and
// its settle, before the warm-up), and the ops completed without error per
// second are the capacity C (and the writes among them, C_w). The run then
// continues open loop at RateFraction × C from the same generators, so the
// probe's ops are part of the state the measured phase starts from, as a
// warm-up's are; the background work they leave (pebble's compactions) is
// not settled, as it would not be in a service that just ran at capacity.
//
// The probe runs the clients' ops only: the workload's watchers and lease
// traffic start with the measured phase, so with heavy watch or lease load
// the capacity is that of the ops alone and the fraction of it is an upper
// bound. The capacity is one short measurement right after the preload: on
// this shared 2-core machine two 60 s closed-loop pebble runs after a 1 GB
// preload averaged 8.0k and 13.2k ops/s in their first 10 s and 12.7k and
// 12.5k in their last, and an open loop at 70% of a 5 s probe fell behind
// (summary.open_loop_missed says when it does). Prefer a long probe and a
// fraction well below 1.
func (m *measurement) probeCapacity(ctx context.Context) error {
	cfg := m.cfg
	clk := cfg.Clock
	var stop atomic.Bool
	ops := make([]int64, len(m.clients))
	wr := make([]int64, len(m.clients))
	genErrs := make([]error, len(m.clients))
	var wg sync.WaitGroup
	start := clk.Now()
	for i, c := range m.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var op workloads.Op
			for !stop.Load() {
				if err := c.gen.Next(&op); err != nil {
					genErrs[i] = err
					return
				}
				// r.t, not the layer: the clients' target (the k8s driver's
				// apiserver requests when there is one), so the probe
				// measures the ops the measured phase runs and leaves the
				// driver's revision cache in step with the store.
				if err := m.r.t.Do(m.r.opCtx, &op); err == nil {
					ops[i]++
					if writes(op.Kind) {
						wr[i]++
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tm := clk.NewTimer(cfg.CapacityProbe)
	interrupted := false
	select {
	case <-tm.C():
	case <-done:
	case <-ctx.Done():
		interrupted = true
	}
	tm.Stop()
	stop.Store(true)
	<-done // the ops in flight finish: they count, and so does their time
	took := clk.Since(start)
	if interrupted {
		return ErrInterrupted
	}
	var total, writesTotal int64
	for i := range ops {
		total += ops[i]
		writesTotal += wr[i]
	}
	if total == 0 || took <= 0 {
		return fmt.Errorf("%w in %v: %w", ErrNoCapacity, took, errors.Join(genErrs...))
	}
	s := &m.res.Summary
	s.CapacityOpsS = float64(total) / took.Seconds()
	s.CapacityWriteOpsS = float64(writesTotal) / took.Seconds()
	rate := cfg.RateFraction * s.CapacityOpsS
	m.cfg.Rate, m.r.cfg.Rate, m.res.Config.RateOpsS = rate, rate, rate
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "capacity probe %.1fs: %.0f ops/s (%.0f writes/s); open loop at %.0f%%: %.0f ops/s\n",
			took.Seconds(), s.CapacityOpsS, s.CapacityWriteOpsS, 100*cfg.RateFraction, rate)
	}
	return nil
}
