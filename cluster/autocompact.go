package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/internal/clock"
	"etcdlab/mvcc"
)

// etcd's auto-compaction (server/etcdserver/api/v3compactor, release 3.6),
// as a state machine per mode that a loop on the node drives:
//
//   - periodic (--auto-compaction-mode periodic, retention a duration): the
//     current revision is sampled every retry interval, period/10 (period
//     capped at 1h), into a window of period/retry + 1 samples, so that its
//     oldest sample is the revision of one period ago. Nothing is compacted
//     during the first period; then, after each wait, the oldest sample is
//     compacted if the last success is at least the compaction interval ago
//     (the period, capped at 1h) and it differs from the last revision
//     compacted. A failure is retried at the next check (one retry interval
//     later) with the window moved on.
//   - revision (--auto-compaction-mode revision, retention a number of
//     revisions): every 5 minutes, compact at the current revision minus the
//     retention, unless that is ≤ 0 or the revision compacted last time; a
//     failure is retried 5 minutes later.
//
// Both treat ErrCompacted as a success, and both only compact on the leader:
// etcd pauses the compactor when its member is not the leader (and keeps
// sampling revisions while paused); the loop here checks leadership where
// etcd checks the pause flag, after each wait.

// Auto-compaction modes (NodeOptions.AutoCompactionMode), etcd's names.
const (
	CompactorModePeriodic = "periodic"
	CompactorModeRevision = "revision"
)

// Auto-compaction defaults, etcd's: periodic mode, retention "0" (off).
const (
	DefaultAutoCompactionMode      = CompactorModePeriodic
	DefaultAutoCompactionRetention = "0"
)

// Constants of etcd's compactors.
const (
	// revisionCompactInterval is the revision compactor's period
	// (revInterval).
	revisionCompactInterval = 5 * time.Minute
	// periodicRetryDivisor splits the period into sampling intervals
	// (retryDivisor).
	periodicRetryDivisor = 10
	// periodicMaxInterval caps the compaction and sampling intervals of the
	// periodic compactor: a retention above 1h still compacts every hour.
	periodicMaxInterval = time.Hour
)

// ErrBadRetention: --auto-compaction-retention cannot be read for the mode.
var ErrBadRetention = errors.New("cluster: bad auto-compaction retention")

// ParseCompactionRetention reads --auto-compaction-retention as etcd's
// parseCompactionRetention (server/embed/etcd.go) does: a non-negative bare
// integer is hours in periodic mode and revisions in revision mode;
// anything else must be a Go duration. The result is a duration in periodic
// mode and a revision count (as a time.Duration, as etcd carries it) in
// revision mode; 0 means off. Unlike etcd, a duration in revision mode is
// an error: etcd would take its nanoseconds as the revision count
// (docs/differences-from-etcd.md).
func ParseCompactionRetention(mode, retention string) (time.Duration, error) {
	if retention == "" {
		retention = DefaultAutoCompactionRetention
	}
	switch mode {
	case CompactorModePeriodic, CompactorModeRevision:
	case "":
		return 0, fmt.Errorf("%w: --auto-compaction-mode is undefined", ErrBadRetention)
	default:
		return 0, fmt.Errorf("%w: unknown --auto-compaction-mode %q (periodic or revision)", ErrBadRetention, mode)
	}
	if h, err := strconv.Atoi(retention); err == nil && h >= 0 {
		if mode == CompactorModeRevision {
			return time.Duration(h), nil
		}
		return time.Duration(h) * time.Hour, nil
	}
	if mode == CompactorModeRevision {
		return 0, fmt.Errorf("%w: %q: revision mode takes a number of revisions", ErrBadRetention, retention)
	}
	d, err := time.ParseDuration(retention)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %w", ErrBadRetention, retention, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%w: %q is negative", ErrBadRetention, retention)
	}
	return d, nil
}

// autoCompactor is one mode's decisions; autoCompactLoop does the waiting
// and the compacting. Calls come from one goroutine.
type autoCompactor interface {
	// wait is how long the loop waits before each check.
	wait() time.Duration
	// sample is called before each wait; periodic mode records the
	// current revision (rev is called only by the mode that reads it, at
	// the point etcd's compactor reads it).
	sample(rev func() int64)
	// due is asked after each wait (on the leader only) with the current
	// time and revision; it returns the revision to compact, if any.
	due(now time.Time, rev func() int64) (int64, bool)
	// done reports the outcome of compacting at rev (ErrCompacted already
	// counted as a success).
	done(now time.Time, rev int64, err error)
}

// newAutoCompactor returns the compactor for mode and a retention parsed by
// ParseCompactionRetention, or nil when the retention is 0 (off).
func newAutoCompactor(mode string, retention time.Duration, now time.Time) autoCompactor {
	if retention == 0 {
		return nil
	}
	if mode == CompactorModeRevision {
		return &revisionCompactor{retention: int64(retention)}
	}
	return newPeriodicCompactor(retention, now)
}

// periodicCompactor is etcd's Periodic.
type periodicCompactor struct {
	period, retry, interval time.Duration
	retentions              int
	revs                    []int64
	lastRev                 int64
	lastSuccess             time.Time
	// base is how long after the last success the next compaction may
	// come: the period at first, the compaction interval after that.
	base time.Duration
}

func newPeriodicCompactor(period time.Duration, now time.Time) *periodicCompactor {
	itv := min(period, periodicMaxInterval)
	p := &periodicCompactor{period: period, interval: itv, retry: itv / periodicRetryDivisor, lastSuccess: now, base: period}
	if p.retry <= 0 {
		p.retry = 1 // a period under 10ns: etcd's would spin; keep the loop's timer valid
	}
	p.retentions = int(period/p.retry) + 1
	p.revs = make([]int64, 0, p.retentions)
	return p
}

func (p *periodicCompactor) wait() time.Duration { return p.retry }

func (p *periodicCompactor) sample(rev func() int64) {
	p.revs = append(p.revs, rev())
	if len(p.revs) > p.retentions {
		p.revs = p.revs[1:] // revs[0] is the revision of one period ago
	}
}

func (p *periodicCompactor) due(now time.Time, _ func() int64) (int64, bool) {
	rev := p.revs[0]
	if now.Sub(p.lastSuccess) < p.base || rev == p.lastRev {
		return 0, false
	}
	// The first period waited, compact every interval from now on.
	p.base = p.interval
	return rev, true
}

func (p *periodicCompactor) done(now time.Time, rev int64, err error) {
	if err == nil {
		p.lastRev, p.lastSuccess = rev, now
	}
}

// revisionCompactor is etcd's Revision.
type revisionCompactor struct {
	retention int64
	prev      int64
}

func (r *revisionCompactor) wait() time.Duration { return revisionCompactInterval }
func (r *revisionCompactor) sample(func() int64) {}

func (r *revisionCompactor) due(_ time.Time, cur func() int64) (int64, bool) {
	rev := cur() - r.retention
	if rev <= 0 || rev == r.prev {
		return 0, false
	}
	return rev, true
}

func (r *revisionCompactor) done(_ time.Time, rev int64, err error) {
	if err == nil {
		r.prev = rev
	}
}

// compactTarget is what the auto-compaction loop needs of a node.
type compactTarget interface {
	Rev() int64
	IsLeader() bool
	Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error)
}

// autoCompactLoop runs ac against t until stop closes: sample, wait, and
// on the leader ask ac whether to compact and do it through raft (so every
// member compacts at the same revision), as etcd's compactor goroutine.
// Outcomes go to report (optional).
func autoCompactLoop(ac autoCompactor, t compactTarget, clk clock.Clock, stop <-chan struct{}, report func(rev int64, err error)) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		ac.sample(t.Rev)
		tm := clk.NewTimer(ac.wait())
		select {
		case <-stop:
			tm.Stop()
			return
		case <-tm.C():
		}
		if !t.IsLeader() {
			continue // etcd: paused on a member that does not lead
		}
		rev, ok := ac.due(clk.Now(), t.Rev)
		if !ok {
			continue
		}
		_, err := t.Compact(ctx, &pb.CompactionRequest{Revision: rev})
		if errors.Is(err, mvcc.ErrCompacted) {
			err = nil
		}
		ac.done(clk.Now(), rev, err)
		if report != nil {
			report(rev, err)
		}
	}
}

// startAutoCompaction starts the node's auto-compaction loop if its options
// ask for one (etcd starts it in NewServer when the retention is not 0).
func (n *Node) startAutoCompaction() {
	ret, err := ParseCompactionRetention(n.opts.AutoCompactionMode, n.opts.AutoCompactionRetention)
	if err != nil { // Validate rejected it already
		return
	}
	ac := newAutoCompactor(n.opts.AutoCompactionMode, ret, n.clk.Now())
	if ac == nil {
		return
	}
	n.loops.wg.Add(1)
	go func() {
		defer n.loops.wg.Done()
		autoCompactLoop(ac, n, n.clk, n.loops.stopc, func(rev int64, err error) {
			if err != nil {
				n.stats.autoCompactFailures.Add(1)
				return
			}
			n.stats.autoCompactions.Add(1)
		})
	}()
}
