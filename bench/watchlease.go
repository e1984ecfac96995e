package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/internal/clock"
	"etcdlab/lease"
	"etcdlab/mvcc"
	"etcdlab/results"
	"etcdlab/workloads"
)

// watchLeaseTarget is the optional capability of a Target that serves the
// workload's watchers and leases (workloads.Spec Watch and Leases): the
// in-process cluster. Its ops go through a KV the runner can wrap, so the
// acks of writes can be timed by revision.
type watchLeaseTarget interface {
	kvWrapper
	// newWatchStream opens a watch stream on a member.
	newWatchStream(ctx context.Context) (*mvcc.WatchStream, error)
	// currentRev is the leader's store revision (the newest committed).
	currentRev() int64
	leaseGrant(ctx context.Context, ttl int64) (int64, error)
	leaseRevoke(ctx context.Context, id int64) (int64, error)
	leaseRenew(ctx context.Context, id int64) error
	putLease(ctx context.Context, key, value []byte, id int64) (int64, error)
	// watchLeaseStats sums the members' catch-up reads and lease revokes.
	watchLeaseStats() (mvcc.WatchStats, lease.RevokeStats)
}

// revTimes remembers when the write of each recent revision was
// acknowledged, in a ring indexed by revision: a watcher's event is timed
// from the ack of the write that made it.
type revTimes struct {
	slots []revSlot
	mask  int64
}

type revSlot struct{ rev, at atomic.Int64 }

// revRing is how many revisions revTimes remembers: a watcher further
// behind than that cannot time its events (they are counted unmatched).
const revRing = 1 << 18

func newRevTimes() *revTimes {
	return &revTimes{slots: make([]revSlot, revRing), mask: revRing - 1}
}

func (r *revTimes) note(rev, at int64) {
	s := &r.slots[rev&r.mask]
	s.rev.Store(0) // a reader between the stores sees no revision, not a torn one
	s.at.Store(at)
	s.rev.Store(rev)
}

// get returns the ack time of rev, if it is known.
func (r *revTimes) get(rev int64) (int64, bool) {
	s := &r.slots[rev&r.mask]
	if s.rev.Load() != rev {
		return 0, false
	}
	at := s.at.Load()
	if s.rev.Load() != rev {
		return 0, false
	}
	return at, true
}

// ackKV times the acks of the writes that go through it (a put, a delete
// that deleted, the branch of a txn that writes) by their revision.
type ackKV struct {
	KV
	ring *revTimes
	clk  clock.Clock
}

func (k *ackKV) now() int64 { return k.clk.Now().UnixNano() }

func (k *ackKV) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	resp, err := k.KV.Put(ctx, r)
	if err == nil && resp.Header != nil {
		k.ring.note(resp.Header.Revision, k.now())
	}
	return resp, err
}

func (k *ackKV) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	resp, err := k.KV.DeleteRange(ctx, r)
	if err == nil && resp.Header != nil && resp.Deleted > 0 {
		k.ring.note(resp.Header.Revision, k.now())
	}
	return resp, err
}

func (k *ackKV) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	resp, err := k.KV.Txn(ctx, r)
	if err == nil && resp.Header != nil {
		ops := r.Failure
		if resp.Succeeded {
			ops = r.Success
		}
		for _, op := range ops {
			if op.GetRequestPut() != nil || op.GetRequestDeleteRange() != nil {
				k.ring.note(resp.Header.Revision, k.now())
				break
			}
		}
	}
	return resp, err
}

// watchLease runs a workload's watchers and lease traffic beside the
// clients, from the start of the measured phase to its end, and measures
// them: every event's latency from the ack of its write, each watcher's
// lag (revisions behind the leader, checked once a second), the members'
// catch-up reads and lease revokes.
type watchLease struct {
	spec workloads.Spec
	t    watchLeaseTarget
	clk  clock.Clock
	ring *revTimes
	ks   *workloads.KeySpace

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Watch.
	streams  []*wlStream
	startRev int64
	started  time.Time
	// lag is the largest and the summed lag of the last check, and when
	// every watcher was first caught up (UnixNano; 0: not yet).
	lagMax, lagSum, caughtUp atomic.Int64
	maxLag                   atomic.Int64

	// Lease traffic.
	granted, grantErrs, keysPut, putErrs, revoked, revokeErrs atomic.Int64
	renewals, renewErrs                                       atomic.Int64
	renewMu                                                   sync.Mutex
	renewHist                                                 *hdr.Histogram

	// Members' figures at the start.
	ws0 mvcc.WatchStats
	rs0 lease.RevokeStats
	// wsLast is the catch-up figures at the last tick.
	wsLast mvcc.WatchStats
}

// wlStream is one watch stream and the watchers on it.
type wlStream struct {
	ws       *mvcc.WatchStream
	watchers map[mvcc.WatchID]*wlWatcher
	ring     *revTimes
	clk      clock.Clock
	// liveFrom is the first revision written after the watchers started:
	// older events are the backlog of watchers started behind, counted but
	// not timed (their age is not a delivery latency).
	liveFrom int64

	mu              sync.Mutex
	hist, interval  *hdr.Histogram // event latency: the run's, the interval's
	events          int64
	backlog         int64
	unmatched       int64
	compacted       int64
	pending         []pendingEvent // events received before their write's ack was noted
	pendingOverflow int64
}

type wlWatcher struct {
	// seen is the revision the watcher has seen everything up to: its
	// last event's, or a progress notification's.
	seen atomic.Int64
}

type pendingEvent struct{ rev, at int64 }

// maxPending bounds a stream's events waiting for their write's ack time.
const maxPending = 1 << 16

// setupWatchLease checks that t serves what spec asks for and wraps its KV
// to time the acks of writes (before the preload and the clients).
func setupWatchLease(cfg Config, ks *workloads.KeySpace, t Target) (*watchLease, error) {
	spec := cfg.Workload
	if spec.Watch.Watchers == 0 && !spec.Leases.Active() {
		return nil, nil
	}
	wt, ok := t.(watchLeaseTarget)
	if !ok {
		where := "the " + cfg.Layer + " layer"
		if len(cfg.Endpoints) > 0 {
			where += " with --endpoints"
		}
		return nil, fmt.Errorf("%w: the workload's watch and leases run on the in-process cluster layer only, not on %s", ErrBadConfig, where)
	}
	w := &watchLease{spec: spec, t: wt, clk: cfg.Clock, ring: newRevTimes(), ks: ks, renewHist: newHist()}
	wt.wrapKV(func(kv KV) KV { return &ackKV{KV: kv, ring: w.ring, clk: cfg.Clock} })
	return w, nil
}

// start opens the watchers and starts the lease traffic.
func (w *watchLease) start(ctx context.Context) error {
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.ws0, w.rs0 = w.t.watchLeaseStats()
	w.wsLast = w.ws0
	w.started = w.clk.Now()
	if n := w.spec.Watch.Watchers; n > 0 {
		if err := w.startWatchers(); err != nil {
			w.stop()
			return err
		}
		w.wg.Add(1)
		go w.lagLoop()
	}
	l := w.spec.Leases
	if l.Rate > 0 {
		w.wg.Add(1)
		go w.churn()
	}
	for i := 0; i < l.KeepAlives; i++ {
		w.wg.Add(1)
		go w.keepAlive()
	}
	return nil
}

func (w *watchLease) startWatchers() error {
	spec := w.spec.Watch
	cur := w.t.currentRev()
	start := int64(0) // from the next revision
	if spec.StartBehind > 0 {
		start = max(cur-spec.StartBehind, 1)
	}
	w.startRev = start
	for i := 0; i < spec.Streams; i++ {
		ws, err := w.t.newWatchStream(w.ctx)
		if err != nil {
			return fmt.Errorf("bench: opening watch stream %d: %w", i, err)
		}
		w.streams = append(w.streams, &wlStream{ws: ws, watchers: map[mvcc.WatchID]*wlWatcher{}, ring: w.ring, clk: w.clk,
			liveFrom: cur + 1, hist: newHist(), interval: newHist()})
	}
	for i := 0; i < spec.Watchers; i++ {
		st := w.streams[i%len(w.streams)]
		key, end := w.ks.WatchRange(i, spec.Prefixes)
		id, err := st.ws.Watch(mvcc.AutoWatchID, key, end, start, mvcc.WatchOptions{})
		if err != nil {
			return fmt.Errorf("bench: watcher %d on [%q, %q): %w", i, key, end, err)
		}
		ww := &wlWatcher{}
		ww.seen.Store(cur)
		if start > 0 {
			ww.seen.Store(start - 1)
		}
		st.watchers[id] = ww
	}
	for _, st := range w.streams {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			st.receive()
		}()
	}
	return nil
}

// receive reads the stream's responses until it is closed.
func (st *wlStream) receive() {
	for r := range st.ws.Chan() {
		at := st.clk.Now().UnixNano()
		ww := st.watchers[r.WatchID]
		if r.WatchID == mvcc.InvalidWatchID {
			// A progress notification for the whole stream.
			for _, x := range st.watchers {
				raise(&x.seen, r.Revision)
			}
			continue
		}
		st.mu.Lock()
		if r.CompactRevision != 0 {
			st.compacted++
		}
		for i := range r.Events {
			st.timeEvent(r.Events[i].Kv.ModRevision, at)
		}
		st.mu.Unlock()
		if ww == nil {
			continue
		}
		if n := len(r.Events); n > 0 {
			raise(&ww.seen, r.Events[n-1].Kv.ModRevision)
		} else {
			raise(&ww.seen, r.Revision)
		}
	}
}

// timeEvent records the latency of an event of revision rev received at
// at, or keeps it until its write's ack is noted. st.mu is held.
func (st *wlStream) timeEvent(rev, at int64) {
	st.events++
	if rev < st.liveFrom {
		st.backlog++
		return
	}
	if ack, ok := st.ring.get(rev); ok {
		st.record(at - ack)
		return
	}
	if len(st.pending) >= maxPending {
		st.pendingOverflow++
		return
	}
	st.pending = append(st.pending, pendingEvent{rev, at})
}

// record adds one latency (0 when the event came before the ack, as etcd's
// benchmark tool counts it).
func (st *wlStream) record(ns int64) {
	ns = min(max(ns, 0), histHighestNs)
	_ = st.hist.RecordValue(ns)
	_ = st.interval.RecordValue(ns)
}

// resolve times the pending events whose acks are known now; with final,
// the others are counted unmatched (writes the runner did not make, such
// as the leader's revokes of expired leases, or acks lost to a failure).
func (st *wlStream) resolve(final bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	kept := st.pending[:0]
	for _, p := range st.pending {
		if ack, ok := st.ring.get(p.rev); ok {
			st.record(p.at - ack)
		} else if !final {
			kept = append(kept, p)
		} else {
			st.unmatched++
		}
	}
	st.pending = kept
	if final {
		st.unmatched += st.pendingOverflow
		st.pendingOverflow = 0
	}
}

func raise(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// lagCheck is how long the lag check waits for the progress notifications
// it asked for.
const lagCheck = 100 * time.Millisecond

// lagLoop checks the watchers' lag once a second: it notes the leader's
// revision, asks every stream for progress (answered only by a stream whose
// watchers are all synced) and, after lagCheck, takes each watcher's lag as
// that revision minus what it has seen.
func (w *watchLease) lagLoop() {
	defer w.wg.Done()
	tk := w.clk.NewTicker(time.Second)
	defer tk.Stop()
	for {
		rev := w.t.currentRev()
		for _, st := range w.streams {
			st.ws.RequestProgressAll()
		}
		tm := w.clk.NewTimer(lagCheck)
		select {
		case <-tm.C():
		case <-w.ctx.Done():
			tm.Stop()
			return
		}
		var lmax, lsum int64
		for _, st := range w.streams {
			for _, ww := range st.watchers {
				l := max(rev-ww.seen.Load(), 0)
				lmax = max(lmax, l)
				lsum += l
			}
		}
		w.lagMax.Store(lmax)
		w.lagSum.Store(lsum)
		raise(&w.maxLag, lmax)
		if lmax == 0 && w.caughtUp.Load() == 0 {
			w.caughtUp.Store(w.clk.Now().UnixNano())
		}
		select {
		case <-tk.C():
		case <-w.ctx.Done():
			return
		}
	}
}

// churnInFlight bounds the leases of the churn being set up or revoked at
// once.
const churnInFlight = 64

// churn grants Leases.Rate leases a second, puts KeysPerLease keys on each
// and revokes it after RevokeAfter (or lets it expire).
func (w *watchLease) churn() {
	defer w.wg.Done()
	l := w.spec.Leases
	gap := time.Duration(float64(time.Second) / l.Rate)
	sem := make(chan struct{}, churnInFlight)
	var inner sync.WaitGroup
	defer inner.Wait()
	val := make([]byte, 32)
	for i := 0; ; i++ {
		due := w.started.Add(time.Duration(i) * gap)
		if d := due.Sub(w.clk.Now()); d > 0 {
			tm := w.clk.NewTimer(d)
			select {
			case <-tm.C():
			case <-w.ctx.Done():
				tm.Stop()
				return
			}
		}
		select {
		case sem <- struct{}{}:
		case <-w.ctx.Done():
			return
		}
		inner.Add(1)
		go func() {
			defer inner.Done()
			defer func() { <-sem }()
			w.churnOne(l, val)
		}()
	}
}

func (w *watchLease) churnOne(l workloads.Leases, val []byte) {
	ctx := w.ctx
	id, err := w.t.leaseGrant(ctx, l.TTL)
	if err != nil {
		if ctx.Err() == nil {
			w.grantErrs.Add(1)
		}
		return
	}
	w.granted.Add(1)
	prefix := "lease/" + strconv.FormatInt(id, 16) + "/"
	for k := 0; k < l.KeysPerLease; k++ {
		rev, err := w.t.putLease(ctx, []byte(prefix+strconv.Itoa(k)), val, id)
		if err != nil {
			if ctx.Err() == nil {
				w.putErrs.Add(1)
			}
			return
		}
		w.ring.note(rev, w.clk.Now().UnixNano())
		w.keysPut.Add(1)
	}
	if l.RevokeAfter <= 0 {
		return
	}
	tm := w.clk.NewTimer(time.Duration(l.RevokeAfter * float64(time.Second)))
	select {
	case <-tm.C():
	case <-ctx.Done():
		tm.Stop()
		return
	}
	rev, err := w.t.leaseRevoke(ctx, id)
	switch {
	case err == nil:
		w.ring.note(rev, w.clk.Now().UnixNano())
		w.revoked.Add(1)
	case errors.Is(err, lease.ErrLeaseNotFound):
		// Expired first: the leader revoked it.
	case ctx.Err() == nil:
		w.revokeErrs.Add(1)
	}
}

// keepAlive grants a lease and renews it every TTL/3 until the run ends.
func (w *watchLease) keepAlive() {
	defer w.wg.Done()
	ctx, ttl := w.ctx, w.spec.Leases.TTL
	id, err := w.t.leaseGrant(ctx, ttl)
	if err != nil {
		if ctx.Err() == nil {
			w.grantErrs.Add(1)
		}
		return
	}
	w.granted.Add(1)
	every := time.Duration(ttl) * time.Second / 3
	tk := w.clk.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-tk.C():
		case <-ctx.Done():
			return
		}
		t0 := w.clk.Now()
		err := w.t.leaseRenew(ctx, id)
		d := w.clk.Since(t0)
		if err != nil {
			if ctx.Err() == nil {
				w.renewErrs.Add(1)
			}
			continue
		}
		w.renewals.Add(1)
		w.renewMu.Lock()
		_ = w.renewHist.RecordValue(min(int64(d), histHighestNs))
		w.renewMu.Unlock()
	}
}

// drainWait bounds how long stop waits for the watchers to see the last
// writes of the run before it closes them.
const drainWait = 2 * time.Second

// stop ends the lease traffic, gives the watchers up to drainWait to see
// the run's last revision, and closes them.
func (w *watchLease) stop() {
	if len(w.streams) > 0 {
		rev := w.t.currentRev()
		deadline := w.clk.Now().Add(drainWait)
		for w.clk.Now().Before(deadline) && !w.allSeen(rev) {
			for _, st := range w.streams {
				st.ws.RequestProgressAll()
			}
			tm := w.clk.NewTimer(10 * time.Millisecond)
			<-tm.C()
		}
	}
	w.cancel()
	for _, st := range w.streams {
		st.ws.Close()
	}
	w.wg.Wait()
	for _, st := range w.streams {
		st.resolve(true)
	}
}

func (w *watchLease) allSeen(rev int64) bool {
	for _, st := range w.streams {
		for _, ww := range st.watchers {
			if ww.seen.Load() < rev {
				return false
			}
		}
	}
	return true
}

// sample fills the watch fields of the interval sample that ends now: the
// events received in it, their latency p99, the lag of the last check and
// the catch-up bytes read.
func (w *watchLease) sample(smp *results.Sample) {
	if len(w.streams) > 0 {
		merged := newHist()
		for _, st := range w.streams {
			st.resolve(false)
			st.mu.Lock()
			merged.Merge(st.interval)
			st.interval.Reset()
			st.mu.Unlock()
		}
		smp.WatchEvents = merged.TotalCount()
		if merged.TotalCount() > 0 {
			smp.WatchEventP99Us = us(merged.ValueAtQuantile(99))
		}
		smp.WatchLagRevs = w.lagMax.Load()
		smp.WatchLagMeanRevs = float64(w.lagSum.Load()) / float64(w.spec.Watch.Watchers)
	}
	ws, _ := w.t.watchLeaseStats()
	smp.WatchCatchUpBytes = ws.Bytes - w.wsLast.Bytes
	w.wsLast = ws
}

// results turns the run into the result's watch and lease sections.
func (w *watchLease) results() (*results.WatchResult, *results.LeaseResult) {
	ws1, rs1 := w.t.watchLeaseStats()
	var wr *results.WatchResult
	if spec := w.spec.Watch; spec.Watchers > 0 {
		merged := newHist()
		wr = &results.WatchResult{Watchers: spec.Watchers, Streams: spec.Streams, Prefixes: spec.Prefixes, StartRev: w.startRev,
			MaxLagRevs: w.maxLag.Load(), CatchUpS: -1}
		for _, st := range w.streams {
			st.mu.Lock()
			merged.Merge(st.hist)
			wr.Events += st.events
			wr.BacklogEvents += st.backlog
			wr.Unmatched += st.unmatched
			wr.Compacted += st.compacted
			st.mu.Unlock()
		}
		wr.EventLatency = latency(merged)
		if at := w.caughtUp.Load(); at != 0 {
			wr.CatchUpS = time.Duration(at - w.started.UnixNano()).Seconds()
		}
		wr.SyncReads = ws1.SyncReads - w.ws0.SyncReads
		wr.RecordsRead = ws1.Records - w.ws0.Records
		wr.BytesRead = ws1.Bytes - w.ws0.Bytes
		wr.ScanS = time.Duration(ws1.ScanNanos - w.ws0.ScanNanos).Seconds()
	}
	var lr *results.LeaseResult
	if l := w.spec.Leases; l.Active() || rs1.Revokes > w.rs0.Revokes {
		lr = &results.LeaseResult{Granted: w.granted.Load(), GrantErrors: w.grantErrs.Load(), KeysPut: w.keysPut.Load(),
			PutErrors: w.putErrs.Load(), Revoked: w.revoked.Load(), RevokeErrors: w.revokeErrs.Load(),
			Renewals: w.renewals.Load(), RenewErrors: w.renewErrs.Load()}
		w.renewMu.Lock()
		lr.RenewLatency = latency(w.renewHist)
		w.renewMu.Unlock()
		lr.RevokesApplied = revokeApply(diffBucket(rs1.RevokeBucket, w.rs0.RevokeBucket), -1)
		for b := range rs1.Buckets {
			d := diffBucket(rs1.Buckets[b], w.rs0.Buckets[b])
			if d.Revokes > 0 {
				lr.RevokeApplyByKeys = append(lr.RevokeApplyByKeys, revokeApply(d, b))
			}
		}
	}
	return wr, lr
}

func diffBucket(a, b lease.RevokeBucket) lease.RevokeBucket {
	return lease.RevokeBucket{Revokes: a.Revokes - b.Revokes, Keys: a.Keys - b.Keys, Nanos: a.Nanos - b.Nanos}
}

// revokeApply is one row of revoke apply times; bucket -1 is every revoke.
func revokeApply(d lease.RevokeBucket, bucket int) results.RevokeApply {
	ra := results.RevokeApply{Revokes: d.Revokes, Keys: d.Keys}
	if bucket >= 0 {
		ra.KeysMin = int64(1) << bucket
		if bucket == 0 {
			ra.KeysMin = 0
		}
		ra.KeysMax = int64(1)<<(bucket+1) - 1
		if bucket == lease.RevokeBuckets-1 {
			ra.KeysMax = math.MaxInt64
		}
	}
	if d.Revokes > 0 {
		ra.MeanUs = float64(d.Nanos) / 1e3 / float64(d.Revokes)
	}
	if d.Keys > 0 {
		ra.UsPerKey = float64(d.Nanos) / 1e3 / float64(d.Keys)
	}
	return ra
}
