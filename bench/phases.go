package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"etcdlab/results"
	"etcdlab/workloads"
)

// measurement is one run against a target, in the phases of pebble's
// cmd/pebble benchmarks (test{init, tick, done}):
//
//   - setup: the result's config and environment, the preload (flushed and
//     the engine settled), the recorder and the clients (nothing runs yet);
//   - start and warmUp: the clients run, unmeasured until Config.Warmup;
//   - begin: the measured phase starts: the layer's and the process's
//     figures at its start, the fault schedule, the CPU attribution;
//   - run: until the duration, the op count or ctx ends it, tick once a
//     second; then stop the clients and tick the last, partial interval;
//   - tick: close an interval: its histograms, resources, layer figures
//     and the servers' metrics make one timeline sample;
//   - done: flush the layer, settle the engine, and turn the recorder, the
//     samples, the events and the checks into the result.
//
// Each phase is a method; runTarget calls them in order.
type measurement struct {
	cfg       Config
	t         Target
	ev        *eventLog
	res       *results.Result
	rec       *recorder
	r         *runner
	clients   []*client
	inj       FaultInjector // nil without faults
	lin       *linRun       // nil without the linearizability check
	wl        *watchLease   // nil without watchers and lease traffic
	k8s       *k8sDriver    // nil unless the workload has a k8s section
	cancelOps context.CancelFunc
	allDone   chan struct{} // closed when every client has returned

	// From begin on.
	measureWall     time.Time
	msrc            serverMetricsSource // nil if the target has no metrics
	prom0, promLast promSample
	fr              *faultRun
	defrags         *defragSchedule // nil without Config.DefragInterval
	resLast         resources       // at the last tick, for the interval's CPU
	attr            *cpuAttribution // nil unless Config.AttributeCPU; read back by done
	stats0          Stats
	res0, peak      resources
	prog            *progress
	prev            time.Duration // end of the last interval closed (offset from r.base)
	timeline        []results.Sample

	// From run's end on.
	end         time.Duration // end of the measured phase (offset from r.base)
	stopAt      time.Duration // when the clients were told to stop (offset from r.base)
	interrupted bool
	defragRuns  int      // scheduled defrag rounds started
	defragErrs  []string // their failures
}

// setup fills the result's config and environment, preloads through t and
// builds the recorder and the clients.
func setup(ctx context.Context, cfg Config, ks *workloads.KeySpace, t Target, ev *eventLog) (*measurement, error) {
	clk := cfg.Clock
	m := &measurement{cfg: cfg, t: t, ev: ev, res: results.New()}
	if err := fillConfig(m.res, cfg); err != nil {
		return nil, err
	}
	env := &m.res.Env
	env.GOOS, env.GOARCH = runtime.GOOS, runtime.GOARCH
	env.GOMAXPROCS, env.NumCPU = runtime.GOMAXPROCS(0), runtime.NumCPU()
	env.GoVersion = runtime.Version()

	if len(cfg.Faults) > 0 {
		var ok bool
		if m.inj, ok = t.(FaultInjector); !ok {
			return nil, fmt.Errorf("%w: the %s layer cannot inject faults", ErrBadConfig, cfg.Layer)
		}
	}
	m.lin = startLin(cfg, t)
	if ks.Spec().K8s != nil {
		drv, err := newK8sDriver(cfg, ks, t)
		if err != nil {
			return nil, err
		}
		if drv.spec.Watches() && cfg.Workload.Watch.Watchers == 0 {
			cfg.Workload.Watch = drv.watchSpec() // ListAndWatch: one watcher per resource
		}
		m.k8s = drv
	}
	wl, err := setupWatchLease(cfg, ks, t)
	if err != nil {
		return nil, err
	}
	m.wl = wl

	pf, err := preload(ctx, cfg, ks, t)
	if err != nil {
		return nil, err
	}
	fillPreload(&m.res.Summary, pf)
	settleStart := clk.Now()
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
	if pf.keys > 0 {
		m.res.Summary.PreloadSettleS = clk.Since(settleStart).Seconds()
	}
	if ctx.Err() != nil {
		return nil, ErrInterrupted
	}
	if m.k8s != nil {
		// The watch cache's initial List, outside the measured time. The
		// watchers open when the measured phase begins, at the revision
		// current then (Result.Watch.StartRev), not at the list's: the
		// apiserver's watch would have taken the capacity probe's and the
		// warm-up's writes live, and a watch opened at the list's revision
		// would instead read them all back from the backend at the start
		// of the measured phase (at 2 GB, ~20 s of writes: seconds of
		// catch-up that no apiserver causes). The driver's revision cache
		// does not depend on the watch.
		m.k8s.attach(t)
		if err := m.k8s.initialList(ctx); err != nil {
			return nil, err
		}
	}

	m.rec = newRecorder(cfg.Clients, mixKinds(cfg.Workload.Ops), cfg.Loop() == "open")
	opCtx, cancelOps := context.WithCancel(context.WithoutCancel(ctx))
	m.cancelOps = cancelOps
	m.r = &runner{cfg: cfg, t: t, warm: cfg.Warmup, stopCh: make(chan struct{}), opCtx: opCtx}
	if m.k8s != nil {
		m.r.t = m.k8s // the clients' ops become the apiserver's requests
	}
	m.clients = make([]*client, cfg.Clients)
	for i := range m.clients {
		c := &client{id: i, gen: ks.Generator(i), rec: m.rec.clients[i]}
		if m.inj != nil {
			c.trace = &opTrace{max: maxTracedOps / cfg.Clients}
		}
		if cfg.Ops > 0 {
			c.quota = cfg.Ops / int64(cfg.Clients)
			if int64(i) < cfg.Ops%int64(cfg.Clients) {
				c.quota++
			}
		}
		m.clients[i] = c
	}
	return m, nil
}

// start sets the run's base time and starts the clients.
func (m *measurement) start() {
	clk, r := m.cfg.Clock, m.r
	m.res.Started = clk.Now()
	r.base = clk.Now()
	var wg sync.WaitGroup
	for _, c := range m.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m.cfg.Rate > 0 {
				r.openLoop(c, m.cfg.Clients)
			} else {
				r.closedLoop(c)
			}
		}()
	}
	m.allDone = make(chan struct{})
	go func() { wg.Wait(); close(m.allDone) }()
}

// stopClients stops the clients and waits for them, cancelling the ops
// still in flight after drainGrace.
func (m *measurement) stopClients() {
	if !m.r.stop.Swap(true) {
		m.stopAt = m.cfg.Clock.Since(m.r.base)
		close(m.r.stopCh)
	}
	grace := m.cfg.Clock.NewTimer(drainGrace)
	select {
	case <-m.allDone:
	case <-grace.C():
		m.cancelOps()
		<-m.allDone
	}
	grace.Stop()
}

// warmUp waits out the warm-up (or until every client is done). A cancelled
// ctx stops the clients: there is nothing measured to report.
func (m *measurement) warmUp(ctx context.Context) error {
	if m.cfg.Warmup <= 0 {
		return nil
	}
	tm := m.cfg.Clock.NewTimer(m.cfg.Warmup)
	defer tm.Stop()
	select {
	case <-tm.C():
	case <-m.allDone:
	case <-ctx.Done():
		m.stopClients()
		return ErrInterrupted
	}
	return nil
}

// begin starts the measured phase: the servers' metrics, the fault
// schedule and the layer's and process's figures at its start.
func (m *measurement) begin(ctx context.Context) error {
	clk, r := m.cfg.Clock, m.r
	m.measureWall = clk.Now()
	if msrc, ok := m.t.(serverMetricsSource); ok {
		prom0, err := msrc.serverMetrics(ctx, true)
		if err != nil {
			m.stopClients()
			return fmt.Errorf("bench: the servers' metrics at the start of the measured phase: %w", err)
		}
		m.msrc, m.prom0, m.promLast = msrc, prom0, prom0
	}
	if m.inj != nil {
		// Offsets count from the start of the measured phase as the ops'
		// do (the base plus the warm-up), not from measureWall, which the
		// warm-up timer's wake-up delays.
		m.fr = newFaultRun(m.cfg.Faults, m.inj, clk, r.base.Add(r.warm), m.ev.emit)
		m.fr.start()
	}
	if m.cfg.AttributeCPU {
		attr, err := startCPUAttribution(m.cfg.Node.Engine)
		if err != nil {
			m.stopClients()
			if m.fr != nil {
				m.fr.stop()
			}
			return err
		}
		m.attr = attr
	}
	m.stats0, m.res0 = statsOf(m.t), sampleResources()
	m.peak, m.resLast = m.res0, m.res0
	m.prog = newProgress(m.cfg)
	m.prev = r.warm
	if m.cfg.DefragInterval > 0 {
		d, ok := m.t.(defragmenter)
		if !ok {
			m.stopClients()
			if m.fr != nil {
				m.fr.stop()
			}
			m.dropAttribution()
			return fmt.Errorf("%w: the %s layer cannot defragment on a schedule", ErrBadConfig, m.cfg.Layer)
		}
		m.defrags = startDefragSchedule(d, m.cfg.DefragInterval, clk)
	}
	if m.k8s != nil {
		m.k8s.resetCounts()
		m.k8s.start(ctx, m.measureWall)
	}
	if m.wl != nil {
		// Last, so nothing after it can fail with the watchers open.
		if err := m.wl.start(ctx); err != nil {
			m.stopClients()
			if m.k8s != nil {
				m.k8s.stop()
			}
			if m.fr != nil {
				m.fr.stop()
			}
			if m.defrags != nil {
				m.defrags.stop()
			}
			m.dropAttribution()
			return err
		}
	}
	return nil
}

// run is the measured phase: a tick every second until the duration ends,
// every client is done (op count) or ctx is cancelled (interrupted); then
// the clients stop and the last, partial interval is closed.
func (m *measurement) run(ctx context.Context) {
	clk, r := m.cfg.Clock, m.r
	ticker := clk.NewTicker(time.Second)
	var durC <-chan time.Time
	if m.cfg.Duration > 0 {
		dt := clk.NewTimer(m.cfg.Duration)
		defer dt.Stop()
		durC = dt.C()
	}
loop:
	for {
		select {
		case <-ticker.C():
			m.tick(ctx, clk.Since(r.base))
		case <-durC:
			break loop
		case <-m.allDone:
			break loop
		case <-ctx.Done():
			m.interrupted = true
			break loop
		}
	}
	ticker.Stop()
	m.stopClients()
	if m.fr != nil {
		m.fr.stop()
	}
	m.end = max(clk.Since(r.base), m.prev)
	if m.defrags != nil {
		// After the end is taken: a defrag in progress cannot be cut
		// short, and the wait for it is not measured time (its band may
		// reach past the end).
		m.defragRuns, m.defragErrs = m.defrags.stop()
	}
	if m.k8s != nil {
		m.k8s.stop()
	}
	if m.wl != nil {
		// After the end is taken: the watchers' drain is not measured
		// time, but its events count in the last interval.
		m.wl.stop()
	}
	m.tick(ctx, m.end)
	m.prog.done()
}

// tick closes the interval that ends at end (an offset from r.base): its
// histograms, the process's resources, the layer's figures and the
// servers' latest metrics become one timeline sample.
func (m *measurement) tick(ctx context.Context, end time.Duration) {
	warm := m.r.warm
	smp := m.rec.rotate(m.prev-warm, end-warm)
	m.prev = end
	rs := sampleResources()
	m.peak.RSS = max(m.peak.RSS, rs.RSS)
	m.peak.Heap = max(m.peak.Heap, rs.Heap)
	st := statsOf(m.t)
	smp.RSSBytes, smp.HeapBytes = rs.RSS, rs.Heap
	if rs.CPUUser >= 0 && m.resLast.CPUUser >= 0 && smp.LengthS > 0 {
		cpu := (rs.CPUUser + rs.CPUSys) - (m.resLast.CPUUser + m.resLast.CPUSys)
		smp.CPUPct = float64(cpu) / 1e9 / smp.LengthS * 100
	}
	m.resLast = rs
	smp.GCPauseS = float64(rs.GCPauseTotal-m.res0.GCPauseTotal) / 1e9
	if rs.DiskWritten >= 0 && m.res0.DiskWritten >= 0 {
		smp.DiskWritten = rs.DiskWritten - m.res0.DiskWritten
	}
	smp.WALFsyncs = st.WALFsyncs - m.stats0.WALFsyncs
	smp.EngFsyncs = st.EngineFsyncs - m.stats0.EngineFsyncs
	smp.DBSize, smp.DBSizeInUse, smp.DBQuotaSize = st.DBSize, st.DBSizeInUse, st.DBQuotaSize
	// The layer's figures the over-time figures, the fragmentation and
	// the steady-state verdict read (timelineExtra): pebble's L0 sublevels
	// and compaction debt, bbolt's free pages, ...
	smp.Extra = timelineExtra(st.Extra)
	if m.wl != nil {
		m.wl.sample(&smp)
	}
	if m.k8s != nil {
		smp.LiveLogicalBytes = m.k8s.liveBytes()
	}
	if m.msrc != nil {
		// The latest figures the target has: an in-process cluster
		// gathers its registries now; an --endpoints target returns its
		// background scrape, so the interval never waits on the network.
		if ps, err := m.msrc.serverMetrics(ctx, false); err == nil {
			smp.Metrics = ps.timeline()
			m.promLast = ps
		}
	}
	m.timeline = append(m.timeline, smp)
	m.prog.update(end-warm, &smp, m.rec)
}

// done flushes the layer, settles its engine and turns the run into its
// Outcome: the op figures, disk and fsyncs, memory, events, faults, the
// linearizability check and the recovery phases, and the timeline.
func (m *measurement) done(ctx context.Context) (*Outcome, error) {
	if f, ok := m.t.(Flusher); ok {
		if err := f.Flush(); err != nil {
			return nil, fmt.Errorf("bench: flushing the %s layer after the run: %w", m.cfg.Layer, err)
		}
	}
	if st, ok := m.t.(Settler); ok {
		settleStart := m.cfg.Clock.Now()
		// An interrupted run skips the rest of the settle: its figures are
		// marked interrupted anyway.
		if err := settle(ctx, st); err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("bench: settling the %s layer after the run: %w", m.cfg.Layer, err)
		}
		m.res.Summary.SettleS = m.cfg.Clock.Since(settleStart).Seconds()
	}
	stats1, res1 := statsOf(m.t), sampleResources()
	if m.attr != nil {
		sh, err := m.attr.stop()
		m.attr = nil
		if err != nil {
			return nil, err
		}
		m.res.Summary.CPUEngineShare, m.res.Summary.CPUGCShare = sh.Engine, sh.GC
	}
	if m.msrc != nil {
		// After the flush, as the layer's figures: the backend commits the
		// flush made belong to the run. A failed scrape falls back to the
		// last one (and is counted in the result).
		if ps, err := m.msrc.serverMetrics(context.WithoutCancel(ctx), true); err == nil {
			m.promLast = ps
		}
	}
	m.peak.RSS = max(m.peak.RSS, res1.RSS)
	m.peak.Heap = max(m.peak.Heap, res1.Heap)

	res := m.res
	res.Interrupted = m.interrupted
	measured := m.end - m.r.warm
	if err := m.summarizeOps(measured); err != nil {
		return nil, err
	}
	m.summarizeLayer(stats1, res1)
	counts, _ := m.ev.since(m.measureWall)
	res.Events = counts
	if m.fr != nil {
		traces := make([]*opTrace, 0, len(m.clients))
		for _, c := range m.clients {
			traces = append(traces, c.trace)
		}
		_, events := m.ev.since(m.measureWall)
		res.Faults = m.fr.results(mergeTraces(traces), measured, events)
	}
	if m.lin != nil {
		res.Linearizability = m.lin.check(ctx, m.cfg.Clock)
	}
	if m.wl != nil {
		res.Watch, res.Leases = m.wl.results()
	}
	if m.k8s != nil {
		res.K8s = m.k8s.result()
	}
	if !m.interrupted {
		if err := recoveryPhases(ctx, m.cfg, m.t, res); err != nil {
			return nil, err
		}
	}
	timeline := m.finalTimeline(measured)
	res.Maintenance = results.ComputeMaintenance(timeline, m.rec.latLog, writeOpNames())
	if m.cfg.DefragInterval > 0 {
		if res.Maintenance == nil {
			res.Maintenance = &results.Maintenance{WriteOps: writeOpNames()}
		}
		res.Maintenance.DefragRounds, res.Maintenance.DefragErrors = m.defragRuns, m.defragErrs
	}
	ss := results.SteadyStateOf(timeline)
	res.SteadyState = &ss
	return &Outcome{Result: res, Latency: m.rec.latLog, Service: m.rec.svcLog, Timeline: timeline,
		Start: m.measureWall, lin: m.lin}, nil
}

// summarizeOps fills the per-op figures and the summary from the
// recorder's totals and the clients' counts. It fails only when no op was
// measured because every failing client's generator stopped it.
func (m *measurement) summarizeOps(measured time.Duration) error {
	res, rec := m.res, m.rec
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
		if rec.open {
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
	if rec.open && m.cfg.Rate > 0 {
		per := 1e9 / m.cfg.Rate * float64(len(m.clients))
		for _, c := range m.clients {
			if c.hasUnstarted {
				s.OpenLoopMissed += missedDue(c.unstarted, m.r.warm, m.stopAt, per)
			}
		}
	}
	errorsByMessage := func() map[string]int64 {
		if s.ErrorsByMessage == nil {
			s.ErrorsByMessage = map[string]int64{}
		}
		return s.ErrorsByMessage
	}
	var genErrs []error
	for _, c := range m.clients {
		s.WarmupOps += c.warmOps
		for msg, n := range c.errMsgs {
			errorsByMessage()[msg] += n
		}
		if c.genErr != nil {
			genErrs = append(genErrs, fmt.Errorf("client %d: %w", c.id, c.genErr))
			errorsByMessage()["(client stopped early) "+c.genErr.Error()]++
		}
	}
	if rec.total.clamped > 0 {
		top := time.Duration(histHighestNs)
		errorsByMessage()[fmt.Sprintf("(latencies above %v recorded as %v)", top, top)] = rec.total.clamped
	}
	if len(genErrs) > 0 && s.Ops == 0 {
		return errors.Join(genErrs...)
	}
	return nil
}

// summarizeLayer fills disk, CPU, fsyncs, the servers' figures and memory
// from the layer's and the process's figures at the measured phase's start
// (stats0, res0) and after its flush (stats1, res1).
func (m *measurement) summarizeLayer(stats1 Stats, res1 resources) {
	res, stats0, res0 := m.res, m.stats0, m.res0
	d := &res.Disk
	d.LayerBytesWritten = (stats1.EngineBytesWritten - stats0.EngineBytesWritten) + (stats1.WALBytesWritten - stats0.WALBytesWritten)
	d.BytesWritten, d.BytesWrittenSource = d.LayerBytesWritten, "layer"
	if res0.DiskWritten >= 0 && res1.DiskWritten >= 0 && res1.DiskWritten-res0.DiskWritten > 0 {
		d.BytesWritten, d.BytesWrittenSource = res1.DiskWritten-res0.DiskWritten, "proc-io"
	}
	d.DBSizeBytes, d.DBSizeInUseBytes, d.DBQuotaSizeBytes = stats1.DBSize, stats1.DBSizeInUse, stats1.DBQuotaSize
	d.WALBytes = stats1.WALBytesWritten - stats0.WALBytesWritten
	if s := &res.Summary; s.LogicalBytes > 0 {
		d.WriteAmplification = float64(d.BytesWritten) / float64(s.LogicalBytes)
	}
	cpuPerOp(&res.Summary, res0, res1)
	if s := &res.Summary; s.CPUEngineShare > 0 {
		s.CPUOutsideEnginePerOpUs = s.CPUPerOpUs * (1 - s.CPUEngineShare - s.CPUGCShare)
		s.CPUGCPerOpUs = s.CPUPerOpUs * s.CPUGCShare
	}
	res.Fsyncs.WAL = stats1.WALFsyncs - stats0.WALFsyncs
	res.Fsyncs.WALSyncCPUS = (stats1.WALSyncCPU - stats0.WALSyncCPU).Seconds()
	res.Summary.ReadIndexRounds = stats1.ReadIndexRounds - stats0.ReadIndexRounds
	res.Fsyncs.Engine = stats1.EngineFsyncs - stats0.EngineFsyncs
	res.Fsyncs.Source, d.DBSizeSource = "layer", "layer"
	if len(m.cfg.Endpoints) > 0 {
		d.DBSizeSource = "status"
	}
	if m.msrc != nil {
		res.Server = serverResult(m.msrc.metricsInfo(), m.prom0, m.promLast)
		if len(m.cfg.Endpoints) > 0 {
			fillFromServer(res)
		}
	}
	res.Memory = results.Memory{
		PeakRSSBytes:  m.peak.RSS,
		PeakHeapBytes: m.peak.Heap,
		GCPauseTotalS: float64(res1.GCPauseTotal-res0.GCPauseTotal) / 1e9,
		NumGC:         res1.NumGC - res0.NumGC,
	}
}

// dropAttribution stops a CPU profile that done did not read back (a run
// that ended early).
func (m *measurement) dropAttribution() {
	if m.attr != nil {
		pprof.StopCPUProfile()
		m.attr = nil
	}
}

// finalTimeline is the interval samples with the events (the recovery
// phases' too; the counts in the result cover the measured phase only) and
// the fault bands, in time order.
func (m *measurement) finalTimeline(measured time.Duration) []results.Sample {
	timeline := m.timeline
	_, events := m.ev.since(m.measureWall)
	for _, e := range events {
		s := results.Sample{Type: results.SampleEvent, T: e.At.Sub(m.measureWall).Seconds(), Kind: e.Kind, Node: e.Node, Detail: e.Detail, Values: e.Values}
		if e.Dur > 0 {
			// A band from its start to its end, as a fault's.
			s.T, s.EndS = e.At.Add(-e.Dur).Sub(m.measureWall).Seconds(), s.T
		}
		timeline = append(timeline, s)
	}
	if m.fr != nil {
		timeline = append(timeline, m.fr.bands(measured)...)
	}
	sort.SliceStable(timeline, func(i, j int) bool { return timeline[i].T < timeline[j].T })
	return timeline
}
