package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"etcdlab/bench/faults"
	"etcdlab/engines"
	"etcdlab/internal/event"
	"etcdlab/internal/memlimit"
	"etcdlab/results"
	"etcdlab/workloads"
)

// ErrInterrupted is returned when a run is cancelled before its measured
// phase began (there is nothing to report). A run cancelled during the
// measured phase returns its partial results with Interrupted set instead.
var ErrInterrupted = errors.New("bench: interrupted before anything was measured")

// drainGrace is how long in-flight ops may take to finish after the run
// stops before their context is cancelled.
const drainGrace = 5 * time.Second

// maxEvents bounds the events kept for the timeline; counts stay exact.
const maxEvents = 200_000

// Outcome is a finished run held in memory: the result, the per-second
// histogram logs and the timeline. WriteDir turns it into a run directory.
type Outcome struct {
	Result   *results.Result
	Latency  []results.LogInterval
	Service  []results.LogInterval // open loop only
	Timeline []results.Sample
	// Start is the wall time the measured phase began.
	Start time.Time
	// DataDir is the layer's data directory when Config.KeepData kept it.
	DataDir string
	// lin is the linearizability check, for its visualization.
	lin *linRun
}

// Run opens cfg's layer in a fresh data directory, preloads, warms up,
// measures and closes it. Cancelling ctx during the measured phase stops
// the clients and returns what was measured, marked Interrupted.
func Run(ctx context.Context, cfg Config) (*Outcome, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MemoryLimit <= 0 {
		return run(ctx, cfg)
	}
	// The in-process layer lives in this process: the whole process goes
	// into the limited cgroup for the run, its page cache with it, and
	// back out when the layer is closed and its data removed.
	g, err := memlimit.Enter(memlimit.Options{Limit: cfg.MemoryLimit})
	if err != nil {
		return nil, fmt.Errorf("bench: memory limit: %w", err)
	}
	out, err := run(ctx, cfg)
	peak := g.PeakBytes()
	if lerr := g.Leave(); lerr != nil {
		err = errors.Join(err, fmt.Errorf("bench: leaving the memory cgroup: %w", lerr))
	}
	if out != nil {
		out.Result.Config.MemoryLimitCgroup = g.Version()
		out.Result.Memory.CgroupPeakBytes = peak
	}
	return out, err
}

// run is Run after validation, in whatever cgroup the process is in.
func run(ctx context.Context, cfg Config) (*Outcome, error) {
	ks, err := workloads.NewKeySpace(cfg.Workload, cfg.Seed)
	if err != nil {
		return nil, err
	}
	// The layer gets a fresh directory of its own, inside DataDir when one
	// is given: removing it afterwards never touches anything else there.
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	dataDir, err := os.MkdirTemp(cfg.DataDir, "etcdlab-data-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if !cfg.KeepData {
		defer os.RemoveAll(dataDir)
	}
	ev := &eventLog{counts: map[string][]time.Time{}}
	t, err := OpenTarget(ctx, cfg, LayerEnv{Dir: dataDir, Emit: ev.emit})
	if err != nil {
		return nil, err
	}
	out, runErr := runTarget(ctx, cfg, ks, t, ev)
	if out != nil && cfg.KeepData {
		out.DataDir = dataDir
	}
	closeErr := t.Close()
	if runErr != nil {
		return nil, runErr
	}
	if closeErr != nil {
		return nil, fmt.Errorf("bench: closing the %s layer: %w", cfg.Layer, closeErr)
	}
	return out, nil
}

// RunTarget runs cfg's workload against t (which the caller opened and
// closes). It is how benchmarks measure the harness itself against a no-op
// target, and how tests drive a fake one.
func RunTarget(ctx context.Context, cfg Config, t Target) (*Outcome, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ks, err := workloads.NewKeySpace(cfg.Workload, cfg.Seed)
	if err != nil {
		return nil, err
	}
	return runTarget(ctx, cfg, ks, t, &eventLog{counts: map[string][]time.Time{}})
}

// eventLog collects the layer's events.
type eventLog struct {
	mu      sync.Mutex
	events  []Event
	dropped int64
	counts  map[string][]time.Time // kind -> times, kept only as counts past maxEvents
}

func (l *eventLog) emit(e Event) {
	l.mu.Lock()
	// Timed events (compactions, defrags: a few per run) are always kept:
	// the maintenance figures are computed from them.
	if len(l.events) < maxEvents || event.Timed(e.Kind) {
		l.events = append(l.events, e)
	} else {
		l.dropped++
		l.counts[e.Kind] = append(l.counts[e.Kind], e.At)
	}
	l.mu.Unlock()
}

// since counts events by kind from t on and returns those kept.
func (l *eventLog) since(t time.Time) (map[string]int64, []Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	counts := map[string]int64{}
	for _, e := range l.events {
		if !e.At.Before(t) {
			counts[e.Kind]++
		}
	}
	for k, ts := range l.counts {
		for _, at := range ts {
			if !at.Before(t) {
				counts[k]++
			}
		}
	}
	return counts, append([]Event(nil), l.events...)
}

// runner is one run's shared state.
type runner struct {
	cfg    Config
	t      Target
	base   time.Time     // clock reading all offsets count from
	warm   time.Duration // offset where the measured phase begins
	stop   atomic.Bool
	stopCh chan struct{}
	opCtx  context.Context
}

// client is one closed- or open-loop client.
type client struct {
	id      int
	gen     *workloads.Generator
	rec     *clientRec
	quota   int64 // measured ops to run; 0: until stopped
	done    int64 // measured ops run
	warmOps int64
	genErr  error
	errMsgs map[string]int64
	trace   *opTrace // runs with faults only
	// unstarted is the intended start of the first op the open loop had
	// not started, or had cancelled in flight, when it stopped
	// (hasUnstarted): the ops due from then until the stop are missing
	// from the latency figures.
	unstarted    time.Duration
	hasUnstarted bool
	_            [64]byte // done is written every op: keep neighbouring clients off its cache line
}

// traceOp keeps what the fault figures need of a measured op.
func (c *client) traceOp(op *workloads.Op, start, end time.Duration, err error) {
	if c.trace == nil || len(c.trace.ops) >= c.trace.max {
		return
	}
	o := faults.Op{Start: start, End: end, Write: writes(op.Kind), OK: err == nil}
	if err != nil {
		o.ErrKind = errKind(err)
	}
	c.trace.ops = append(c.trace.ops, o)
}

// writes reports whether an op kind writes.
func writes(k workloads.OpKind) bool {
	switch k {
	case workloads.OpPut, workloads.OpInsert, workloads.OpDelete, workloads.OpRMW, workloads.OpTxnCAS:
		return true
	}
	return false
}

func (c *client) noteErr(err error) {
	if c.errMsgs == nil {
		c.errMsgs = map[string]int64{}
	}
	msg := err.Error()
	if _, ok := c.errMsgs[msg]; ok || len(c.errMsgs) < 20 {
		c.errMsgs[msg]++
	} else {
		c.errMsgs["(other errors)"]++
	}
}

func logicalBytes(op *workloads.Op) int {
	switch op.Kind {
	case workloads.OpPut, workloads.OpInsert, workloads.OpRMW, workloads.OpTxnCAS:
		return len(op.Key) + len(op.Value)
	case workloads.OpDelete:
		return len(op.Key)
	}
	return 0
}

// finishOp accounts for one finished op, the body both loops share: start
// is when the op was due (the closed loop: when it started; the open loop:
// its intended start), t0 and t1 when it actually started and ended, all
// offsets from r.base. An op due in the warm-up is only counted; a measured
// one is recorded with its latency from start and its service time from t0
// (kept by the open loop's recorder only) and traced for the fault figures.
// It returns false when the client must stop: its quota is done, or the
// runner cancelled the op after the drain grace.
func (r *runner) finishOp(c *client, op *workloads.Op, start, t0, t1 time.Duration, err error) bool {
	if start < r.warm {
		c.warmOps++
		return true
	}
	if err != nil {
		if r.opCtx.Err() != nil {
			return false // cancelled by the runner after the drain grace
		}
		c.noteErr(err)
	}
	c.rec.record(op.Kind, t1-start, t1-t0, t1-r.warm, err != nil, logicalBytes(op))
	c.traceOp(op, start-r.warm, t1-r.warm, err)
	c.done++
	return c.quota == 0 || c.done < c.quota
}

// closedLoop runs ops back to back: each starts when the previous ends.
func (r *runner) closedLoop(c *client) {
	var op workloads.Op
	clk := r.cfg.Clock
	for !r.stop.Load() {
		if err := c.gen.Next(&op); err != nil {
			c.genErr = err
			return
		}
		t0 := clk.Since(r.base)
		err := r.t.Do(r.opCtx, &op)
		t1 := clk.Since(r.base)
		if !r.finishOp(c, &op, t0, t0, t1, err) {
			return
		}
	}
}

// openLoop starts ops at the client's share of the target rate. Op j of
// client i of n is due at (i + j*n)/rate seconds after the start, whether
// or not the previous op has finished, and its latency runs from that
// intended start: a stall delays the ops behind it and shows in their
// latency (no coordinated omission). The service time, from the actual
// start, is recorded separately.
func (r *runner) openLoop(c *client, clients int) {
	var op workloads.Op
	clk := r.cfg.Clock
	gap := 1e9 / r.cfg.Rate
	per := gap * float64(clients)
	first := gap * float64(c.id)
	for j := int64(0); ; j++ {
		intended := time.Duration(first + float64(j)*per)
		if r.stop.Load() || !r.waitUntil(intended) {
			c.unstarted, c.hasUnstarted = intended, true
			return
		}
		if err := c.gen.Next(&op); err != nil {
			c.genErr = err
			return
		}
		t0 := clk.Since(r.base)
		err := r.t.Do(r.opCtx, &op)
		t1 := clk.Since(r.base)
		if !r.finishOp(c, &op, intended, t0, t1, err) {
			if r.stop.Load() {
				// Cancelled in flight after the drain grace: this op and
				// those due behind it are missing.
				c.unstarted, c.hasUnstarted = intended, true
			}
			return
		}
	}
}

// missedDue counts the open loop's ops due in [from, stop) on a client's
// schedule of one op every per, starting at unstarted: ops that never
// started because the client was still waiting on an earlier one when the
// run stopped (and that one, if it was cancelled in flight). Their latency (at least stop minus their due time) is
// missing from the figures, which is the coordinated omission the open
// loop otherwise avoids; the summary reports their count.
func missedDue(unstarted, from, stop time.Duration, per float64) int64 {
	if per <= 0 || stop <= from {
		return 0
	}
	first := float64(unstarted)
	if f := float64(from); first < f {
		first += math.Ceil((f-first)/per) * per
	}
	if first >= float64(stop) {
		return 0
	}
	return int64(math.Floor((float64(stop)-first-1)/per)) + 1
}

// spinWindow is how close to an op's intended start the pacer stops
// sleeping and spins (yielding the processor): Go's timers wake in steps of
// about 1 ms on Linux when the processors are idle (the netpoller's
// millisecond timeout), which would add up to a millisecond of harness lag
// to every open-loop latency.
const spinWindow = 1500 * time.Microsecond

// waitUntil waits for offset intended, sleeping while it is far and
// spinning for the last spinWindow. It returns false if the run stopped.
func (r *runner) waitUntil(intended time.Duration) bool {
	clk := r.cfg.Clock
	for {
		d := intended - clk.Since(r.base)
		if d <= 0 {
			return true
		}
		if r.stop.Load() {
			return false
		}
		if d > spinWindow {
			tm := clk.NewTimer(d - spinWindow)
			select {
			case <-tm.C():
			case <-r.stopCh:
				tm.Stop()
				return false
			}
			continue
		}
		runtime.Gosched()
	}
}

// mixKinds lists the op kinds a mix can produce.
func mixKinds(m workloads.OpMix) []workloads.OpKind {
	var ks []workloads.OpKind
	add := func(f float64, k workloads.OpKind) {
		if f > 0 {
			ks = append(ks, k)
		}
	}
	add(m.Get, workloads.OpGet)
	add(m.Put, workloads.OpPut)
	add(m.Delete, workloads.OpDelete)
	add(m.Range, workloads.OpRange)
	add(m.TxnCAS, workloads.OpTxnCAS)
	add(m.RMW, workloads.OpRMW)
	add(m.Insert, workloads.OpInsert)
	return ks
}

// settleTimeout bounds one settle: an engine that is still compacting after
// it is stuck or far behind, and the run fails with an error saying so
// rather than waiting without end.
const settleTimeout = 5 * time.Minute

func settle(ctx context.Context, s Settler) error {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	return s.Settle(ctx)
}

func statsOf(t Target) Stats {
	if s, ok := t.(StatsSource); ok {
		return s.Stats()
	}
	return Stats{}
}

func fillConfig(res *results.Result, cfg Config) error {
	opts, err := engines.OptionsString(cfg.Node.Engine, cfg.Node.EngineOptions)
	if err != nil {
		return err
	}
	spec, err := cfg.Workload.Encode()
	if err != nil {
		return err
	}
	rc := cfg.Workload.ReadConsistency
	if rc == "" {
		rc = workloads.Linearizable
	}
	engine := cfg.Node.Engine
	if len(cfg.Endpoints) > 0 {
		// etcd's API does not say which engine a server runs: record that
		// it is remote rather than the local default.
		engine, opts = EngineRemote, ""
	}
	res.Config = results.Config{
		Layer:            cfg.Layer,
		Engine:           engine,
		EngineOptions:    opts,
		Nodes:            cfg.Nodes,
		Endpoints:        cfg.Endpoints,
		Seed:             cfg.Seed,
		Workload:         results.Workload{Name: cfg.Workload.Name, Spec: string(spec)},
		Clients:          cfg.Clients,
		RateOpsS:         cfg.Rate,
		Loop:             cfg.Loop(),
		DurationS:        cfg.Duration.Seconds(),
		Ops:              cfg.Ops,
		WarmupS:          cfg.Warmup.Seconds(),
		ReadConsistency:  rc,
		LinkDelayMs:      float64(cfg.LinkDelay) / 1e6,
		Backend:          cfg.Node.Backend.String(),
		Faults:           cfg.Faults.String(),
		DefragIntervalS:  cfg.DefragInterval.Seconds(),
		RateFraction:     cfg.RateFraction,
		CapacityProbeS:   cfg.CapacityProbe.Seconds(),
		ScaleBytes:       cfg.Scale,
		MemoryLimitBytes: cfg.MemoryLimit,
		PreloadLoaders:   cfg.Preload.Loaders,
		PreloadTxnOps:    cfg.Preload.TxnOps,
		PreloadTxnBytes:  cfg.Preload.TxnBytes,
	}
	// The node's knobs, with the fields that repeat some of them.
	if err := res.Config.SetNodeOptions(cfg.Node.String()); err != nil {
		return err
	}
	if len(cfg.Endpoints) > 0 {
		res.Config.NodeOptions = "" // the servers took their own flags
	}
	if cfg.Layer == LayerCluster && len(cfg.Endpoints) == 0 {
		res.Config.AutoCompactionMode = cfg.Node.AutoCompactionMode
		res.Config.AutoCompactionRetention = cfg.Node.AutoCompactionRetention
	}
	return nil
}

// runTarget runs cfg's workload against t in phases, after pebble's
// cmd/pebble test{init, tick, done} (see measurement): setup, then the
// clients start and warm up, then the measured phase runs with a tick
// every second, then done stops, flushes and summarizes.
func runTarget(ctx context.Context, cfg Config, ks *workloads.KeySpace, t Target, ev *eventLog) (*Outcome, error) {
	m, err := setup(ctx, cfg, ks, t, ev)
	if err != nil {
		return nil, err
	}
	defer m.cancelOps()
	defer m.dropAttribution()
	if cfg.RateFraction > 0 {
		if err := m.probeCapacity(ctx); err != nil {
			return nil, err
		}
	}
	m.start()
	if err := m.warmUp(ctx); err != nil {
		return nil, err
	}
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	m.run(ctx)
	return m.done(ctx)
}

// cpuPerOp fills the summary's CPU figures from the samples taken when the
// measured phase began and after its flush and settle, unless getrusage
// failed.
func cpuPerOp(s *results.Summary, res0, res1 resources) {
	if res0.CPUUser < 0 || res1.CPUUser < 0 {
		return
	}
	s.CPUUserS = float64(res1.CPUUser-res0.CPUUser) / 1e9
	s.CPUSysS = float64(res1.CPUSys-res0.CPUSys) / 1e9
	if s.Ops > 0 {
		s.CPUPerOpUs = (s.CPUUserS + s.CPUSysS) * 1e6 / float64(s.Ops)
	}
}

// recoveryPhases runs the recovery measurements cfg asks for, after the
// measured phase and its figures: the quota procedure first (it needs the
// alarm the run left), then the restart of a follower.
func recoveryPhases(ctx context.Context, cfg Config, t Target, res *results.Result) error {
	if cfg.QuotaRecovery {
		qr, ok := t.(QuotaRecoverer)
		if !ok {
			return fmt.Errorf("%w: the %s layer cannot run the quota recovery", ErrBadConfig, cfg.Layer)
		}
		q, err := qr.RecoverQuota(ctx)
		if err != nil {
			return fmt.Errorf("bench: quota recovery: %w", err)
		}
		res.QuotaRecovery = q
	}
	if cfg.MeasureRecovery {
		rc, ok := t.(Recoverer)
		if !ok {
			return fmt.Errorf("%w: the %s layer cannot restart a node", ErrBadConfig, cfg.Layer)
		}
		r, err := rc.Recover(ctx)
		if err != nil {
			// The measured run stands; the result says the restart failed.
			r = &results.Recovery{Method: "kill", Error: err.Error()}
		}
		res.Recovery = r
	}
	return nil
}
