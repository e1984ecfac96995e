package cluster

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/internal/clock"
	"etcdlab/mvcc"
)

func TestParseCompactionRetention(t *testing.T) {
	for _, tc := range []struct {
		mode, retention string
		want            time.Duration
		wantErr         bool
	}{
		{"periodic", "0", 0, false},
		{"periodic", "", 0, false},
		{"periodic", "1", time.Hour, false},
		{"periodic", "5m", 5 * time.Minute, false},
		{"periodic", "1.5h", 90 * time.Minute, false},
		{"periodic", "-1", 0, true},
		{"periodic", "-5m", 0, true},
		{"periodic", "soon", 0, true},
		{"revision", "1000", 1000, false},
		{"revision", "0", 0, false},
		{"revision", "5m", 0, true}, // etcd would take 300e9 revisions
		{"", "1", 0, true},
		{"hourly", "1", 0, true},
	} {
		got, err := ParseCompactionRetention(tc.mode, tc.retention)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseCompactionRetention(%q, %q) = %v, %v; want %v, error %v", tc.mode, tc.retention, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadRetention) {
			t.Errorf("error %v does not wrap ErrBadRetention", err)
		}
	}
}

func TestAutoCompactionOptions(t *testing.T) {
	o := NodeOptions{AutoCompactionMode: "revision", AutoCompactionRetention: "10m"}
	err := o.ValidateTemplate()
	if !errors.Is(err, ErrBadOption) || !errors.Is(err, ErrBadRetention) {
		t.Fatalf("ValidateTemplate = %v, want ErrBadOption and ErrBadRetention", err)
	}
	o = NodeOptions{}
	o.EnsureDefaults()
	if o.AutoCompactionMode != "periodic" || o.AutoCompactionRetention != "0" {
		t.Fatalf("defaults %q %q, want etcd's periodic 0", o.AutoCompactionMode, o.AutoCompactionRetention)
	}
}

// fakeCompactTarget is etcd's fakeRevGetter and fakeCompactable in one:
// every Rev call returns the next revision (after SetRev, the one after
// it), every Compact is recorded.
type fakeCompactTarget struct {
	rev      atomic.Int64
	follower atomic.Bool
	fail     atomic.Bool
	mu       sync.Mutex
	compacts []int64
}

func (f *fakeCompactTarget) Rev() int64     { return f.rev.Add(1) }
func (f *fakeCompactTarget) IsLeader() bool { return !f.follower.Load() }
func (f *fakeCompactTarget) Compact(_ context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.compacts = append(f.compacts, r.Revision)
	if f.fail.Load() {
		return nil, errors.New("injected failure")
	}
	return &pb.CompactionResponse{}, nil
}

// take returns the compactions since the last take.
func (f *fakeCompactTarget) take() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.compacts
	f.compacts = nil
	return out
}

// compactorRig runs autoCompactLoop on a fake clock, one wait at a time.
type compactorRig struct {
	t    *testing.T
	clk  *clock.Fake
	ac   autoCompactor
	tg   *fakeCompactTarget
	stop chan struct{}
	done chan struct{}
}

// newCompactorRig starts the loop; its first sample (periodic mode) reads
// revision startRev+1.
func newCompactorRig(t *testing.T, mode string, retention time.Duration, startRev int64) *compactorRig {
	clk := clock.NewFake(time.Unix(1000, 0))
	r := &compactorRig{t: t, clk: clk, ac: newAutoCompactor(mode, retention, clk.Now()), tg: &fakeCompactTarget{},
		stop: make(chan struct{}), done: make(chan struct{})}
	r.tg.rev.Store(startRev)
	go func() {
		defer close(r.done)
		autoCompactLoop(r.ac, r.tg, clk, r.stop, nil)
	}()
	t.Cleanup(func() { close(r.stop); <-r.done })
	r.blocked()
	return r
}

// blocked waits until the loop waits on its timer (it has done everything
// the last wait's end asked of it).
func (r *compactorRig) blocked() {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.clk.Waiters() == 0 {
		if time.Now().After(deadline) {
			r.t.Fatal("the compactor loop never waited")
		}
		runtime.Gosched()
	}
}

// waits lets n waits of the loop elapse.
func (r *compactorRig) waits(n int) {
	r.t.Helper()
	for range n {
		r.clk.Advance(r.ac.wait())
		r.blocked()
	}
}

func (r *compactorRig) expect(what string, want ...int64) {
	r.t.Helper()
	if got := r.tg.take(); fmt.Sprint(got) != fmt.Sprint(want) {
		r.t.Fatalf("%s: compacted %v, want %v", what, got, want)
	}
}

// The periodic tests are etcd's (v3compactor/periodic_test.go), with its
// fake revision getter: each sample reads the next revision.
func TestPeriodicCompactorHourly(t *testing.T) {
	r := newCompactorRig(t, CompactorModePeriodic, 2*time.Hour, 0)
	if got := r.ac.wait(); got != 6*time.Minute {
		t.Fatalf("retry interval %v, want 6m (1h/10)", got)
	}
	retentions := r.ac.(*periodicCompactor).retentions // 2h/6m + 1 = 21
	r.waits(retentions - 2)
	r.expect("before 2h")
	r.waits(1)
	r.expect("at 2h", 1)
	for i := range 3 { // then every hour
		r.waits(9)
		r.expect(fmt.Sprintf("hour %d, early", i))
		r.waits(1)
		r.expect(fmt.Sprintf("hour %d", i), int64((i+1)*10))
	}
}

func TestPeriodicCompactorMinutes(t *testing.T) {
	r := newCompactorRig(t, CompactorModePeriodic, 5*time.Minute, 0)
	r.waits(r.ac.(*periodicCompactor).retentions - 1)
	r.expect("at 5m", 1)
	for i := range 5 { // every 5 minutes, the revision of 5 minutes ago
		r.waits(10)
		r.expect(fmt.Sprintf("period %d", i), int64((i+1)*10))
	}
}

// A follower samples revisions but does not compact (etcd's Pause); once
// it leads it compacts at the next check the oldest revision in its window.
func TestPeriodicCompactorFollower(t *testing.T) {
	r := newCompactorRig(t, CompactorModePeriodic, time.Hour, 0)
	r.tg.follower.Store(true)
	n := r.ac.(*periodicCompactor).retentions
	r.waits(n * 3)
	r.expect("as a follower")
	r.tg.follower.Store(false)
	r.waits(1)
	r.expect("leading", int64(1+2*n+1))
}

func TestPeriodicCompactorSkipsUnchangedRevision(t *testing.T) {
	r := newCompactorRig(t, CompactorModePeriodic, 5*time.Minute, 100)
	n := r.ac.(*periodicCompactor).retentions
	for range n - 1 {
		r.tg.rev.Store(100) // every sample reads 101
		r.waits(1)
	}
	r.expect("first", 101)
	for range 5 * 10 {
		r.tg.rev.Store(100)
		r.waits(1)
	}
	r.expect("revision unchanged")
	// The loop samples right after each check, so the window holds only
	// 102 and later one wait later than in etcd's test, whose fake sets
	// the revision before the sample of the same step.
	r.waits(n)
	r.expect("window still starts at 101")
	r.waits(1)
	r.expect("revision moved", 102)
}

// A failed compaction is retried at the next check, one retry interval
// later, with the window moved on; a success waits a whole interval.
func TestPeriodicCompactorRetry(t *testing.T) {
	r := newCompactorRig(t, CompactorModePeriodic, 10*time.Second, 0)
	if r.ac.wait() != time.Second {
		t.Fatalf("retry interval %v, want 1s", r.ac.wait())
	}
	r.tg.fail.Store(true)
	r.waits(10)
	r.expect("first, failing", 1)
	r.waits(2) // the window is full (11 samples) at the first retry
	r.expect("retries", 1, 2)
	r.tg.fail.Store(false)
	r.waits(1)
	r.expect("retry succeeds", 3)
	r.waits(9)
	r.expect("within the interval")
	r.waits(1)
	r.expect("next interval", 13)
}

// The revision tests are etcd's (v3compactor/revision_test.go): every 5
// minutes, the current revision minus the retention.
func TestRevisionCompactor(t *testing.T) {
	r := newCompactorRig(t, CompactorModeRevision, 10, 0)
	if r.ac.wait() != 5*time.Minute {
		t.Fatalf("interval %v, want 5m", r.ac.wait())
	}
	r.waits(1)
	r.expect("revision 1: nothing to compact")
	r.tg.rev.Store(99) // reads 100
	r.waits(1)
	r.expect("at 100", 90)
	r.tg.rev.Store(99)
	r.waits(1)
	r.expect("same revision again")
	r.tg.rev.Store(199)
	r.waits(1)
	r.expect("at 200", 190)
	r.tg.follower.Store(true)
	r.tg.rev.Store(299)
	r.waits(3)
	r.expect("as a follower")
	r.tg.follower.Store(false)
	r.tg.rev.Store(299)
	r.tg.fail.Store(true)
	r.waits(1)
	r.expect("failing", 290)
	r.tg.fail.Store(false)
	r.tg.rev.Store(299)
	r.waits(1)
	r.expect("retried after 5m", 290)
}

// ErrCompacted counts as a success: the revision is not asked for again.
func TestAutoCompactErrCompactedIsSuccess(t *testing.T) {
	ac := newAutoCompactor(CompactorModeRevision, 10, time.Unix(0, 0)).(*revisionCompactor)
	tg := &errTarget{err: fmt.Errorf("wrapped: %w", mvcc.ErrCompacted)}
	clk := clock.NewFake(time.Unix(0, 0))
	stop, done := make(chan struct{}), make(chan struct{})
	var reported []error
	go func() {
		defer close(done)
		autoCompactLoop(ac, tg, clk, stop, func(_ int64, err error) { reported = append(reported, err) })
	}()
	for clk.Waiters() == 0 {
		runtime.Gosched()
	}
	clk.Advance(revisionCompactInterval)
	for clk.Waiters() == 0 {
		runtime.Gosched()
	}
	close(stop)
	<-done
	if len(reported) != 1 || reported[0] != nil || ac.prev != 90 {
		t.Fatalf("reported %v, prev %d; want one success at 90", reported, ac.prev)
	}
}

type errTarget struct{ err error }

func (e *errTarget) Rev() int64     { return 100 }
func (e *errTarget) IsLeader() bool { return true }
func (e *errTarget) Compact(context.Context, *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	return nil, e.err
}
