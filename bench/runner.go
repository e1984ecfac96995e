package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"etcdlab/bench/faults"
	"etcdlab/engines"
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
	if len(l.events) < maxEvents {
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
	warmOps int64
	genErr  error
	errMsgs map[string]int64
	trace   *opTrace // runs with faults only
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

func (r *runner) closedLoop(c *client) {
	var op workloads.Op
	var done int64
	clk := r.cfg.Clock
	for !r.stop.Load() {
		if err := c.gen.Next(&op); err != nil {
			c.genErr = err
			return
		}
		t0 := clk.Since(r.base)
		err := r.t.Do(r.opCtx, &op)
		t1 := clk.Since(r.base)
		if t0 < r.warm {
			c.warmOps++
			continue
		}
		if err != nil {
			if r.opCtx.Err() != nil {
				return // cancelled by the runner after the drain grace
			}
			c.noteErr(err)
		}
		c.rec.record(op.Kind, t1-t0, 0, err != nil, logicalBytes(&op))
		c.traceOp(&op, t0-r.warm, t1-r.warm, err)
		done++
		if c.quota > 0 && done >= c.quota {
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
	var done int64
	clk := r.cfg.Clock
	gap := 1e9 / r.cfg.Rate
	per := gap * float64(clients)
	first := gap * float64(c.id)
	for j := int64(0); !r.stop.Load(); j++ {
		intended := time.Duration(first + float64(j)*per)
		if !r.waitUntil(intended) {
			return
		}
		if err := c.gen.Next(&op); err != nil {
			c.genErr = err
			return
		}
		t0 := clk.Since(r.base)
		err := r.t.Do(r.opCtx, &op)
		t1 := clk.Since(r.base)
		if intended < r.warm {
			c.warmOps++
			continue
		}
		if err != nil {
			if r.opCtx.Err() != nil {
				return
			}
			c.noteErr(err)
		}
		c.rec.record(op.Kind, t1-intended, t1-t0, err != nil, logicalBytes(&op))
		c.traceOp(&op, intended-r.warm, t1-r.warm, err)
		done++
		if c.quota > 0 && done >= c.quota {
			return
		}
	}
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

// preloadLoaders is how many goroutines write the preload. It is not
// measured, and through raft a write costs a round trip that only
// concurrency amortises (many proposals per WAL fsync), so it does not follow
// the measured run's client count.
const preloadLoaders = 128

// preload writes the workload's preload through t with preloadLoaders
// loaders, each owning a contiguous part of the keys.
func preload(ctx context.Context, cfg Config, ks *workloads.KeySpace, t Target) error {
	if ks.Preload() == 0 {
		return nil
	}
	parts := int(min(int64(preloadLoaders), max(ks.Preload(), 1)))
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		l, err := ks.Loader(p, parts)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var op workloads.Op
			for l.Next(&op) {
				if ctx.Err() != nil {
					errs[p] = ErrInterrupted
					return
				}
				if err := t.Do(ctx, &op); err != nil {
					errs[p] = fmt.Errorf("bench: preload of key id %d: %w", op.ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func statsOf(t Target) Stats {
	if s, ok := t.(StatsSource); ok {
		return s.Stats()
	}
	return Stats{}
}

func fillConfig(res *results.Result, cfg Config) error {
	opts, err := engines.OptionsString(cfg.Engine, cfg.EngineOptions)
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
	engine := cfg.Engine
	if len(cfg.Endpoints) > 0 {
		// etcd's API does not say which engine a server runs: record that
		// it is remote rather than the local default.
		engine, opts = EngineRemote, ""
	}
	res.Config = results.Config{
		Layer:                  cfg.Layer,
		Engine:                 engine,
		EngineOptions:          opts,
		Nodes:                  cfg.Nodes,
		Endpoints:              cfg.Endpoints,
		Seed:                   cfg.Seed,
		Workload:               results.Workload{Name: cfg.Workload.Name, Spec: string(spec)},
		Clients:                cfg.Clients,
		RateOpsS:               cfg.Rate,
		Loop:                   cfg.Loop(),
		DurationS:              cfg.Duration.Seconds(),
		Ops:                    cfg.Ops,
		WarmupS:                cfg.Warmup.Seconds(),
		ReadConsistency:        rc,
		SnapshotCount:          cfg.SnapshotCount,
		SnapshotCatchupEntries: cfg.SnapshotCatchupEntries,
		RaftLogCompaction:      cfg.RaftLogCompaction,
		QuotaBytes:             cfg.QuotaBytes,
		BatchIntervalMs:        float64(cfg.Backend.BatchInterval) / 1e6,
		BatchLimit:             cfg.Backend.BatchLimit,
		LinkDelayMs:            float64(cfg.LinkDelay) / 1e6,
		Backend:                cfg.Backend.String(),
		Faults:                 cfg.Faults.String(),
	}
	return nil
}

func runTarget(ctx context.Context, cfg Config, ks *workloads.KeySpace, t Target, ev *eventLog) (*Outcome, error) {
	clk := cfg.Clock
	res := results.New()
	if err := fillConfig(res, cfg); err != nil {
		return nil, err
	}
	res.Env.GOOS, res.Env.GOARCH = runtime.GOOS, runtime.GOARCH
	res.Env.GOMAXPROCS, res.Env.NumCPU = runtime.GOMAXPROCS(0), runtime.NumCPU()
	res.Env.GoVersion = runtime.Version()

	var inj FaultInjector
	if len(cfg.Faults) > 0 {
		var ok bool
		if inj, ok = t.(FaultInjector); !ok {
			return nil, fmt.Errorf("%w: the %s layer cannot inject faults", ErrBadConfig, cfg.Layer)
		}
	}
	lin := startLin(cfg, t)

	preStart := clk.Now()
	if err := preload(ctx, cfg, ks, t); err != nil {
		return nil, err
	}
	res.Summary.PreloadKeys = ks.Preload()
	res.Summary.PreloadS = clk.Since(preStart).Seconds()
	if st, ok := t.(Settler); ok {
		// The preload's flushes and compactions are not the run's work:
		// commit it (it may sit in the pending batch) and settle.
		if f, ok := t.(Flusher); ok {
			if err := f.Flush(); err != nil {
				return nil, fmt.Errorf("bench: flushing the %s layer after the preload: %w", cfg.Layer, err)
			}
		}
		if err := settle(ctx, st); err != nil {
			return nil, fmt.Errorf("bench: settling the %s layer after the preload: %w", cfg.Layer, err)
		}
	}
	if ctx.Err() != nil {
		return nil, ErrInterrupted
	}

	open := cfg.Rate > 0
	rec := newRecorder(cfg.Clients, mixKinds(cfg.Workload.Ops), open)
	opCtx, cancelOps := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelOps()
	r := &runner{cfg: cfg, t: t, warm: cfg.Warmup, stopCh: make(chan struct{}), opCtx: opCtx}
	clients := make([]*client, cfg.Clients)
	for i := range clients {
		c := &client{id: i, gen: ks.Generator(i), rec: rec.clients[i]}
		if inj != nil {
			c.trace = &opTrace{max: maxTracedOps / cfg.Clients}
		}
		if cfg.Ops > 0 {
			c.quota = cfg.Ops / int64(cfg.Clients)
			if int64(i) < cfg.Ops%int64(cfg.Clients) {
				c.quota++
			}
		}
		clients[i] = c
	}
	res.Started = clk.Now()
	r.base = clk.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if open {
				r.openLoop(c, cfg.Clients)
			} else {
				r.closedLoop(c)
			}
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	stopClients := func() {
		if !r.stop.Swap(true) {
			close(r.stopCh)
		}
		grace := clk.NewTimer(drainGrace)
		select {
		case <-allDone:
		case <-grace.C():
			cancelOps()
			<-allDone
		}
		grace.Stop()
	}

	if cfg.Warmup > 0 {
		tm := clk.NewTimer(cfg.Warmup)
		select {
		case <-tm.C():
		case <-allDone:
		case <-ctx.Done():
			tm.Stop()
			stopClients()
			return nil, ErrInterrupted
		}
		tm.Stop()
	}
	measureWall := clk.Now()
	msrc, hasMetrics := t.(serverMetricsSource)
	var prom0, promLast promSample
	if hasMetrics {
		var err error
		if prom0, err = msrc.serverMetrics(ctx, true); err != nil {
			stopClients()
			return nil, fmt.Errorf("bench: the servers' metrics at the start of the measured phase: %w", err)
		}
		promLast = prom0
	}
	var fr *faultRun
	if inj != nil {
		// Offsets count from the start of the measured phase as the ops'
		// do (the base plus the warm-up), not from measureWall, which the
		// warm-up timer's wake-up delays.
		fr = newFaultRun(cfg.Faults, inj, clk, r.base.Add(r.warm), ev.emit)
		fr.start()
	}
	var attr *cpuAttribution
	if cfg.AttributeCPU {
		var err error
		if attr, err = startCPUAttribution(cfg.Engine); err != nil {
			stopClients()
			if fr != nil {
				fr.stop()
			}
			return nil, err
		}
		defer func() {
			if attr != nil {
				pprof.StopCPUProfile() // an early return
			}
		}()
	}
	stats0, res0 := statsOf(t), sampleResources()
	peak := res0
	var timeline []results.Sample
	ticker := clk.NewTicker(time.Second)
	var durC <-chan time.Time
	if cfg.Duration > 0 {
		dt := clk.NewTimer(cfg.Duration)
		defer dt.Stop()
		durC = dt.C()
	}
	prog := newProgress(cfg)
	prev := r.warm
	sample := func(end time.Duration) {
		smp := rec.rotate(prev-r.warm, end-r.warm)
		prev = end
		rs := sampleResources()
		peak.RSS = max(peak.RSS, rs.RSS)
		peak.Heap = max(peak.Heap, rs.Heap)
		st := statsOf(t)
		smp.RSSBytes, smp.HeapBytes = rs.RSS, rs.Heap
		smp.GCPauseS = float64(rs.GCPauseTotal-res0.GCPauseTotal) / 1e9
		if rs.DiskWritten >= 0 && res0.DiskWritten >= 0 {
			smp.DiskWritten = rs.DiskWritten - res0.DiskWritten
		}
		smp.WALFsyncs = st.WALFsyncs - stats0.WALFsyncs
		smp.EngFsyncs = st.EngineFsyncs - stats0.EngineFsyncs
		smp.DBSize, smp.DBSizeInUse, smp.DBQuotaSize = st.DBSize, st.DBSizeInUse, st.DBQuotaSize
		if hasMetrics {
			// The latest figures the target has: an in-process cluster
			// gathers its registries now; an --endpoints target returns
			// its background scrape, so the interval never waits on the
			// network.
			if ps, err := msrc.serverMetrics(ctx, false); err == nil {
				smp.Metrics = ps.timeline()
				promLast = ps
			}
		}
		timeline = append(timeline, smp)
		prog.update(end-r.warm, &smp, rec)
	}
	interrupted := false
loop:
	for {
		select {
		case <-ticker.C():
			sample(clk.Since(r.base))
		case <-durC:
			break loop
		case <-allDone:
			break loop
		case <-ctx.Done():
			interrupted = true
			break loop
		}
	}
	ticker.Stop()
	stopClients()
	if fr != nil {
		fr.stop()
	}
	end := clk.Since(r.base)
	if end < prev {
		end = prev
	}
	sample(end)
	prog.done()
	if f, ok := t.(Flusher); ok {
		if err := f.Flush(); err != nil {
			return nil, fmt.Errorf("bench: flushing the %s layer after the run: %w", cfg.Layer, err)
		}
	}
	if st, ok := t.(Settler); ok {
		settleStart := clk.Now()
		// An interrupted run skips the rest of the settle: its figures are
		// marked interrupted anyway.
		if err := settle(ctx, st); err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("bench: settling the %s layer after the run: %w", cfg.Layer, err)
		}
		res.Summary.SettleS = clk.Since(settleStart).Seconds()
	}
	stats1, res1 := statsOf(t), sampleResources()
	if attr != nil {
		sh, err := attr.stop()
		attr = nil
		if err != nil {
			return nil, err
		}
		res.Summary.CPUEngineShare, res.Summary.CPUGCShare = sh.Engine, sh.GC
	}
	if hasMetrics {
		// After the flush, as the layer's figures: the backend commits the
		// flush made belong to the run. A failed scrape falls back to the
		// last one (and is counted in the result).
		if ps, err := msrc.serverMetrics(context.WithoutCancel(ctx), true); err == nil {
			promLast = ps
		}
	}
	peak.RSS = max(peak.RSS, res1.RSS)
	peak.Heap = max(peak.Heap, res1.Heap)

	res.Interrupted = interrupted
	measured := end - r.warm
	s := &res.Summary
	s.DurationS = measured.Seconds()
	for k := range numKinds {
		h := rec.total.lat[k]
		errs := rec.total.errs[k]
		if (h == nil || h.TotalCount() == 0) && errs == 0 {
			continue
		}
		l := latency(h)
		o := results.OpStats{Errors: errs, P50Us: l.P50Us, P90Us: l.P90Us, P99Us: l.P99Us, P999Us: l.P999Us, MaxUs: l.MaxUs, MeanUs: l.MeanUs}
		if h != nil {
			o.Count = h.TotalCount()
		}
		if open {
			sl := latency(rec.total.svc[k])
			o.Service = &sl
		}
		res.Ops[workloads.OpKind(k).String()] = o
		s.Ops += o.Count
		s.Errors += errs
	}
	s.Latency = latency(rec.all)
	if measured > 0 {
		s.ThroughputOpsS = float64(s.Ops) / measured.Seconds()
	}
	s.LogicalBytes = rec.total.logical
	var genErrs []error
	for _, c := range clients {
		s.WarmupOps += c.warmOps
		for m, n := range c.errMsgs {
			if s.ErrorsByMessage == nil {
				s.ErrorsByMessage = map[string]int64{}
			}
			s.ErrorsByMessage[m] += n
		}
		if c.genErr != nil {
			genErrs = append(genErrs, fmt.Errorf("client %d: %w", c.id, c.genErr))
			if s.ErrorsByMessage == nil {
				s.ErrorsByMessage = map[string]int64{}
			}
			s.ErrorsByMessage["(client stopped early) "+c.genErr.Error()]++
		}
	}
	if rec.total.clamped > 0 {
		if s.ErrorsByMessage == nil {
			s.ErrorsByMessage = map[string]int64{}
		}
		s.ErrorsByMessage[fmt.Sprintf("(latencies above %v recorded as %v)", time.Duration(histHighestNs), time.Duration(histHighestNs))] = rec.total.clamped
	}
	if len(genErrs) > 0 && s.Ops == 0 {
		return nil, errors.Join(genErrs...)
	}

	d := &res.Disk
	d.LayerBytesWritten = (stats1.EngineBytesWritten - stats0.EngineBytesWritten) + (stats1.WALBytesWritten - stats0.WALBytesWritten)
	d.BytesWritten, d.BytesWrittenSource = d.LayerBytesWritten, "layer"
	if res0.DiskWritten >= 0 && res1.DiskWritten >= 0 && res1.DiskWritten-res0.DiskWritten > 0 {
		d.BytesWritten, d.BytesWrittenSource = res1.DiskWritten-res0.DiskWritten, "proc-io"
	}
	d.DBSizeBytes, d.DBSizeInUseBytes, d.DBQuotaSizeBytes = stats1.DBSize, stats1.DBSizeInUse, stats1.DBQuotaSize
	d.WALBytes = stats1.WALBytesWritten - stats0.WALBytesWritten
	if s.LogicalBytes > 0 {
		d.WriteAmplification = float64(d.BytesWritten) / float64(s.LogicalBytes)
	}
	cpuPerOp(s, res0, res1)
	if s.CPUEngineShare > 0 {
		s.CPUOutsideEnginePerOpUs = s.CPUPerOpUs * (1 - s.CPUEngineShare - s.CPUGCShare)
		s.CPUGCPerOpUs = s.CPUPerOpUs * s.CPUGCShare
	}
	res.Fsyncs.WAL = stats1.WALFsyncs - stats0.WALFsyncs
	res.Fsyncs.WALSyncCPUS = (stats1.WALSyncCPU - stats0.WALSyncCPU).Seconds()
	res.Summary.ReadIndexRounds = stats1.ReadIndexRounds - stats0.ReadIndexRounds
	res.Fsyncs.Engine = stats1.EngineFsyncs - stats0.EngineFsyncs
	res.Fsyncs.Source, d.DBSizeSource = "layer", "layer"
	if len(cfg.Endpoints) > 0 {
		d.DBSizeSource = "status"
	}
	if hasMetrics {
		res.Server = serverResult(msrc.metricsInfo(), prom0, promLast)
		if len(cfg.Endpoints) > 0 {
			fillFromServer(res)
		}
	}
	res.Memory = results.Memory{
		PeakRSSBytes:  peak.RSS,
		PeakHeapBytes: peak.Heap,
		GCPauseTotalS: float64(res1.GCPauseTotal-res0.GCPauseTotal) / 1e9,
		NumGC:         res1.NumGC - res0.NumGC,
	}
	counts, _ := ev.since(measureWall)
	res.Events = counts
	if fr != nil {
		traces := make([]*opTrace, 0, len(clients))
		for _, c := range clients {
			traces = append(traces, c.trace)
		}
		_, events := ev.since(measureWall)
		res.Faults = fr.results(mergeTraces(traces), measured, events)
	}
	var linViz *linRun
	if lin != nil {
		res.Linearizability = lin.check(ctx, clk)
		linViz = lin
	}
	if !interrupted {
		if err := recoveryPhases(ctx, cfg, t, res); err != nil {
			return nil, err
		}
	}
	// The timeline shows the recovery phases' events too; the counts above
	// cover the measured phase only.
	_, events := ev.since(measureWall)
	for _, e := range events {
		timeline = append(timeline, results.Sample{Type: results.SampleEvent, T: e.At.Sub(measureWall).Seconds(), Kind: e.Kind, Node: e.Node, Detail: e.Detail})
	}
	if fr != nil {
		timeline = append(timeline, fr.bands(measured)...)
	}
	sort.SliceStable(timeline, func(i, j int) bool { return timeline[i].T < timeline[j].T })

	return &Outcome{Result: res, Latency: rec.latLog, Service: rec.svcLog, Timeline: timeline, Start: measureWall, lin: linViz}, nil
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
