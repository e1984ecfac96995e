package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/internal/clock"
	"etcdlab/mvcc"
	"etcdlab/results"
)

// Recoverer is the optional capability of a Target that can crash one of
// its replicas and bring it back: Recover kills a follower, restarts it and
// measures how long it takes to serve again and to catch up. The runner
// calls it after the measured phase (Config.MeasureRecovery), with no
// client load, so it costs the measured figures nothing.
type Recoverer interface {
	Recover(ctx context.Context) (*results.Recovery, error)
}

// QuotaRecoverer is the optional capability of a Target with a backend
// quota: RecoverQuota runs etcd's way out of NOSPACE (compact at the
// current revision, defragment every member, disarm) when the alarm is
// raised and returns nil, nil when it is not. The runner calls it after the
// measured phase (Config.QuotaRecovery).
type QuotaRecoverer interface {
	RecoverQuota(ctx context.Context) (*results.QuotaRecovery, error)
}

var (
	_ Recoverer      = (*clusterTarget)(nil)
	_ QuotaRecoverer = (*clusterTarget)(nil)
)

// recoveryWait bounds each wait of a recovery phase: a node that does not
// serve or catch up within it is reported as an error, not waited on
// forever.
const recoveryWait = 2 * time.Minute

// recoveryPoll is how often the recovery phases look at a node's state;
// it bounds their time resolution.
const recoveryPoll = time.Millisecond

// sleep waits d on the target's clock, or until ctx ends.
func (t *clusterTarget) sleep(ctx context.Context, d time.Duration) error {
	tm := t.clk.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Recover kills the lowest-ID follower (a crash: its unsynced backend
// writes are dropped, as with SIGKILL), restarts it from its data directory
// and measures (a) the time until it serves a serializable read — opening
// the engine, loading the snapshot, replaying the WAL, rebuilding the index
// — and (b) the time until its applied index reaches the leader's commit
// index. No client writes run meanwhile, so the commit index read before the
// restart is the one to reach.
func (t *clusterTarget) Recover(ctx context.Context) (*results.Recovery, error) {
	ctx, cancel := context.WithTimeout(ctx, recoveryWait)
	defer cancel()
	leader := t.c.Leader()
	if leader == 0 {
		return nil, errors.New("bench: recovery: no leader")
	}
	var follower uint64
	for _, n := range t.c.Nodes() {
		if n.ID() != leader {
			follower = n.ID()
			break
		}
	}
	if follower == 0 {
		return nil, errors.New("bench: recovery needs a follower to restart (nodes >= 2)")
	}
	if err := t.c.Kill(follower); err != nil {
		return nil, fmt.Errorf("bench: recovery: kill node %d: %w", follower, err)
	}
	ln := t.c.Node(leader)
	if ln == nil {
		return nil, fmt.Errorf("bench: recovery: leader %d stopped", leader)
	}
	rec := &results.Recovery{Node: follower, Method: "kill", LeaderCommit: ln.CommittedIndex()}
	start := t.clk.Now()
	if err := t.c.Restart(follower); err != nil {
		return nil, fmt.Errorf("bench: recovery: restart node %d: %w", follower, err)
	}
	n := t.c.Node(follower)
	if n == nil {
		return nil, fmt.Errorf("bench: recovery: node %d not running after restart", follower)
	}
	rec.AppliedAtStart = n.AppliedIndex()
	rec.RestoreS = n.RestoreDuration().Seconds()
	for {
		if _, err := n.Range(ctx, &pb.RangeRequest{Key: []byte("etcdlab-health"), Serializable: true}); err == nil {
			break
		}
		if err := t.sleep(ctx, recoveryPoll); err != nil {
			return nil, fmt.Errorf("bench: recovery: node %d does not serve reads after %v: %w", follower, t.clk.Since(start), err)
		}
	}
	rec.RestartS = t.clk.Since(start).Seconds()
	for n.AppliedIndex() < rec.LeaderCommit {
		if err := n.Err(); err != nil {
			return nil, fmt.Errorf("bench: recovery: node %d failed while catching up: %w", follower, err)
		}
		if err := t.sleep(ctx, recoveryPoll); err != nil {
			return nil, fmt.Errorf("bench: recovery: node %d applied %d of %d after %v: %w",
				follower, n.AppliedIndex(), rec.LeaderCommit, t.clk.Since(start), err)
		}
	}
	rec.CatchUpS = t.clk.Since(start).Seconds()
	return rec, nil
}

// noSpaceRaised reports whether any running node holds the NOSPACE alarm
// (alarms are replicated, so one node's view is the cluster's).
func (t *clusterTarget) noSpaceRaised() bool {
	for _, n := range t.c.Nodes() {
		for _, a := range n.AlarmList() {
			if a.Alarm == pb.AlarmType_NOSPACE {
				return true
			}
		}
	}
	return false
}

// maxDBSize is the largest node's backend size.
func (t *clusterTarget) maxDBSize() int64 {
	var m int64
	for _, n := range t.c.Nodes() {
		m = max(m, n.BackendSize())
	}
	return m
}

// RecoverQuota runs etcd's NOSPACE procedure when the alarm is raised:
// compact at the current revision and wait for the physical deletion on
// every node (CompactS covers all of them),
// defragment each node in ID order (one after another, as `etcdctl defrag
// --cluster`), disarm every alarm, then put a test key. While the defrags
// run, a reader sends serializable and linearizable gets alternately to the
// node being defragmented and records their latency. A failed step is
// recorded in Error and ends the procedure; the figures up to it are kept.
func (t *clusterTarget) RecoverQuota(ctx context.Context) (*results.QuotaRecovery, error) {
	if !t.noSpaceRaised() {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, recoveryWait)
	defer cancel()
	q := &results.QuotaRecovery{DBSizeBefore: t.maxDBSize(), DefragNodeS: map[string]float64{}}
	start := t.clk.Now()
	fail := func(step string, err error) (*results.QuotaRecovery, error) {
		q.Error = fmt.Sprintf("%s: %v", step, err)
		q.TotalS = t.clk.Since(start).Seconds()
		q.DBSizeAfter = t.maxDBSize()
		return q, nil
	}

	ln := t.c.Node(t.c.Leader())
	if ln == nil {
		return fail("compact", errors.New("no leader"))
	}
	rev := ln.Rev()
	step := t.clk.Now()
	if _, err := t.client.Compact(ctx, &pb.CompactionRequest{Revision: rev, Physical: true}); err != nil &&
		!errors.Is(err, mvcc.ErrCompacted) {
		return fail("compact", err)
	}
	// Physical waits on the member that served the request only; the
	// others apply the compaction and delete in the background. Defragging
	// a member before it has deleted would free nothing, so wait for each.
	for _, n := range t.c.Nodes() {
		if err := n.WaitCompacted(ctx, rev); err != nil {
			return fail(fmt.Sprintf("compaction on node %d", n.ID()), err)
		}
	}
	q.CompactS = t.clk.Since(step).Seconds()

	rd := newDefragReader(t.clk)
	for _, n := range t.c.Nodes() {
		stop := rd.start(ctx, n)
		step := t.clk.Now()
		err := t.c.Defrag(n.ID())
		d := t.clk.Since(step).Seconds()
		stop()
		q.DefragNodeS[strconv.FormatUint(n.ID(), 10)] = d
		q.DefragS += d
		if err != nil {
			rd.fill(q)
			return fail(fmt.Sprintf("defrag node %d", n.ID()), err)
		}
	}
	rd.fill(q)
	q.DBSizeAfter = t.maxDBSize()

	step = t.clk.Now()
	if err := t.client.AlarmDisarm(ctx, nil); err != nil {
		return fail("disarm", err)
	}
	q.DisarmS = t.clk.Since(step).Seconds()
	_, err := t.client.Put(ctx, &pb.PutRequest{Key: []byte("etcdlab-quota-recovery"), Value: []byte("ok")})
	q.TotalS = t.clk.Since(start).Seconds()
	q.WritesOKAfter = err == nil
	q.Rearmed = t.noSpaceRaised()
	if err != nil {
		q.Error = fmt.Sprintf("test put after disarm: %v", err)
	}
	return q, nil
}

// defragReader issues gets against the node under defrag and keeps their
// latencies by consistency.
type defragReader struct {
	clk  clock.Clock
	mu   sync.Mutex
	lat  map[string]*hdr.Histogram
	errs int64
}

func newDefragReader(clk clock.Clock) *defragReader {
	return &defragReader{clk: clk, lat: map[string]*hdr.Histogram{"serializable": newHist(), "linearizable": newHist()}}
}

// start begins reading from n and returns a function that stops the reader
// and waits for it.
func (r *defragReader) start(ctx context.Context, n *cluster.Node) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	running := make(chan struct{})
	go func() {
		defer wg.Done()
		close(running)
		for i := 0; ctx.Err() == nil; i++ {
			ser := i%2 == 0
			t0 := r.clk.Now()
			_, err := n.Range(ctx, &pb.RangeRequest{Key: []byte("etcdlab-health"), Serializable: ser})
			d := r.clk.Since(t0)
			if err != nil && ctx.Err() != nil {
				return // cut off by the end of the defrag, not failed by it
			}
			r.mu.Lock()
			if err != nil {
				r.errs++
			} else {
				name := "linearizable"
				if ser {
					name = "serializable"
				}
				_ = r.lat[name].RecordValue(clampNs(int64(d)))
			}
			r.mu.Unlock()
		}
	}()
	<-running // the defrag starts once the reader is under way
	return func() { cancel(); wg.Wait() }
}

func (r *defragReader) fill(q *results.QuotaRecovery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q.DuringDefragErrors = r.errs
	for name, h := range r.lat {
		if h.TotalCount() == 0 {
			continue
		}
		if q.DuringDefrag == nil {
			q.DuringDefrag = map[string]results.OpStats{}
		}
		l := latency(h)
		q.DuringDefrag[name] = results.OpStats{Count: h.TotalCount(), P50Us: l.P50Us, P90Us: l.P90Us, P99Us: l.P99Us,
			P999Us: l.P999Us, MaxUs: l.MaxUs, MeanUs: l.MeanUs}
	}
}
