package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"etcdlab/cluster"
	"etcdlab/internal/clock"
	"etcdlab/internal/event"
	"etcdlab/results"
	"etcdlab/workloads"
)

// TestRecorderStall checks the stall figure: the longest run of whole
// milliseconds without a completion that overlaps each interval, a run
// crossing an interval boundary counted from its start in the later one.
func TestRecorderStall(t *testing.T) {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	for _, tc := range []struct {
		name  string
		done  [][]float64 // per client, completion times in ms
		ends  []float64   // interval ends in ms
		stall []float64
		from  []float64 // stall starts in ms
		list  string    // the last interval's Stalls
	}{
		{name: "steady", done: [][]float64{seq(0.5, 1000, 1)}, ends: []float64{1000}, stall: []float64{0}, from: []float64{0}},
		{name: "gap inside", done: [][]float64{append(seq(0.5, 300, 1), seq(550.5, 1000, 1)...)}, ends: []float64{1000}, stall: []float64{250},
			from: []float64{300}, list: "[{0.3 250}]"},
		{name: "two gaps", done: [][]float64{append(append(seq(0.5, 300, 1), seq(320.5, 600, 1)...), seq(700.5, 1000, 1)...)}, ends: []float64{1000},
			stall: []float64{100}, from: []float64{600}, list: "[{0.3 20} {0.6 100}]"},
		// Two clients: one's gap is covered by the other's completions.
		{name: "covered by another client", done: [][]float64{append(seq(0.5, 300, 1), seq(550.5, 1000, 1)...), seq(0.5, 1000, 2)},
			ends: []float64{1000}, stall: []float64{1}, from: []float64{301}},
		{name: "across a boundary", done: [][]float64{append(seq(0.5, 900, 1), seq(1300.5, 2000, 1)...)}, ends: []float64{1000, 2000},
			stall: []float64{100, 400}, from: []float64{900, 900}},
		{name: "no completions", done: [][]float64{nil}, ends: []float64{1000, 2000}, stall: []float64{1000, 2000}, from: []float64{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(len(tc.done), []workloads.OpKind{workloads.OpPut}, false)
			var got, from []float64
			var list []results.Stall
			start := 0.0
			for _, end := range tc.ends {
				for c, times := range tc.done {
					for _, d := range times {
						if d >= start && d < end {
							r.clients[c].record(workloads.OpPut, time.Microsecond, 0, ms(d), false, 1)
						}
					}
				}
				smp := r.rotate(ms(start), ms(end))
				got, from, list = append(got, smp.StallMs), append(from, smp.StallStartS*1e3), smp.Stalls
				start = end
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.stall) || fmt.Sprint(from) != fmt.Sprint(tc.from) {
				t.Fatalf("stall %v ms from %v ms, want %v from %v", got, from, tc.stall, tc.from)
			}
			if tc.list != "" && fmt.Sprint(list) != tc.list {
				t.Fatalf("stalls listed %v, want %s", list, tc.list)
			}
		})
	}
}

// seq returns from, from+step, ... below to.
func seq(from, to, step float64) []float64 {
	var out []float64
	for v := from; v < to; v += step {
		out = append(out, v)
	}
	return out
}

// TestMaintenanceRun runs the in-process cluster with auto-compaction and a
// scheduled defrag, and the mvcc layer with a scheduled defrag, and checks
// that both land on the timeline as bands with their figures and in
// Result.Maintenance, and that intervals carry the CPU figure.
func TestMaintenanceRun(t *testing.T) {
	for _, tc := range []struct {
		layer, engine string
		compactions   bool
	}{
		{LayerCluster, "bbolt", true},
		{LayerMVCC, "pebble", false},
	} {
		t.Run(tc.layer+"/"+tc.engine, func(t *testing.T) {
			if testing.Short() && tc.layer == LayerCluster {
				t.Skip("a 4-second run of 3 goroutine-heavy nodes: not in -short")
			}
			node := cluster.NodeOptions{Engine: tc.engine}
			if tc.compactions {
				node.AutoCompactionRetention = "1s"
			}
			cfg := Config{Layer: tc.layer, Nodes: 1, Workload: smallSpec(t, "ycsb-a", 200), Seed: seed(t), Clients: 2,
				Duration: 4 * time.Second, DefragInterval: time.Second, Node: node, FsyncProbe: -1}
			o, err := RunToDir(context.Background(), cfg, filepath.Join(t.TempDir(), "r"))
			if err != nil {
				t.Fatal(err)
			}
			m := o.Result.Maintenance
			if m == nil || m.Defrag == nil || m.Defrag.Count < 2 || m.DefragRounds < 2 || len(m.DefragErrors) > 0 {
				t.Fatalf("maintenance %+v", m)
			}
			if tc.compactions && (m.Compaction == nil || m.Compaction.Count < 1) {
				t.Fatalf("no compaction in %+v", m)
			}
			if o.Result.Config.DefragIntervalS != 1 {
				t.Fatalf("defrag interval recorded as %v", o.Result.Config.DefragIntervalS)
			}
			bands, cpu := 0, 0
			for _, s := range o.Timeline {
				if s.Type == results.SampleEvent && event.Timed(s.Kind) {
					if s.EndS <= s.T || len(s.Values) == 0 {
						t.Fatalf("timed event without a span or figures: %+v", s)
					}
					bands++
				}
				if s.Type == results.SampleInterval && s.CPUPct > 0 {
					cpu++
				}
			}
			if bands < m.Defrag.Count || cpu == 0 {
				t.Fatalf("%d bands, %d intervals with CPU", bands, cpu)
			}
			for _, e := range m.Events {
				if e.Kind == results.MaintenanceDefrag && (e.DBSizeBeforeBytes <= 0 || e.DiskSizeAfterBytes <= 0 || e.During.Intervals == 0) {
					t.Fatalf("defrag event %+v", e)
				}
			}
		})
	}
}

func TestDefragIntervalValidation(t *testing.T) {
	cfg := Config{Layer: LayerCluster, Endpoints: []string{"127.0.0.1:1"}, Workload: smallSpec(t, "ycsb-a", 10), Clients: 1,
		Duration: time.Second, DefragInterval: time.Second}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err == nil {
		t.Fatal("--defrag-interval with --endpoints accepted")
	}
	cfg = Config{Layer: LayerMVCC, Workload: smallSpec(t, "ycsb-a", 10), Clients: 1, Duration: time.Second,
		Node: cluster.NodeOptions{AutoCompactionRetention: "5m"}}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err == nil {
		t.Fatal("auto-compaction on the mvcc layer accepted")
	}
}

// TestEventLogKeepsTimedEvents: past maxEvents the log keeps only counts,
// except for compactions and defrags, which the maintenance figures need.
func TestEventLogKeepsTimedEvents(t *testing.T) {
	l := &eventLog{counts: map[string][]time.Time{}}
	at := time.Unix(100, 0)
	for range maxEvents {
		l.emit(Event{At: at, Kind: event.BackendCommit})
	}
	l.emit(Event{At: at, Kind: event.BackendCommit})
	l.emit(Event{At: at, Kind: event.Compaction, Dur: time.Second})
	counts, kept := l.since(at)
	if counts[event.BackendCommit] != maxEvents+1 || counts[event.Compaction] != 1 {
		t.Fatalf("counts %v", counts)
	}
	if last := kept[len(kept)-1]; len(kept) != maxEvents+1 || last.Kind != event.Compaction || last.Dur != time.Second {
		t.Fatalf("kept %d events, last %+v", len(kept), kept[len(kept)-1])
	}
}

// fakeDefrag counts defragAll calls and fails the ones asked to.
type fakeDefrag struct {
	mu    sync.Mutex
	calls int
	fail  bool
	block chan struct{} // if set, each call waits on it
}

func (f *fakeDefrag) defragAll(context.Context) error {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail {
		return errors.New("injected")
	}
	return nil
}

func (f *fakeDefrag) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

// TestDefragSchedule drives the scheduled defrag on a fake clock: one round
// per interval, failures recorded, stop waits for a round in progress.
func TestDefragSchedule(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	fd := &fakeDefrag{}
	s := startDefragSchedule(fd, 10*time.Second, clk)
	waitTicker := func() {
		for clk.Waiters() == 0 {
			runtime.Gosched()
		}
	}
	waitTicker()
	clk.Advance(9 * time.Second)
	if fd.count() != 0 {
		t.Fatal("defragged before the interval")
	}
	clk.Advance(time.Second)
	waitCalls(t, fd, 1)
	fd.mu.Lock()
	fd.fail = true
	fd.mu.Unlock()
	clk.Advance(10 * time.Second)
	waitCalls(t, fd, 2)
	fd.block = make(chan struct{})
	clk.Advance(10 * time.Second)
	stopped := make(chan struct{})
	var runs int
	var errs []string
	go func() { runs, errs = s.stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop did not wait for the round in progress")
	case <-time.After(20 * time.Millisecond):
	}
	close(fd.block)
	<-stopped
	if runs != 3 || len(errs) != 1 {
		t.Fatalf("runs %d errors %v, want 3 runs and 1 error", runs, errs)
	}
}

func waitCalls(t *testing.T, fd *fakeDefrag, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for fd.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d defrag rounds, want %d", fd.count(), n)
		}
		runtime.Gosched()
	}
}

// TestStallListBounded: an interval lists at most stallListMax stalls, the
// longest, in time order.
func TestStallListBounded(t *testing.T) {
	r := newRecorder(1, []workloads.OpKind{workloads.OpPut}, false)
	at := 0.0
	for i := range 20 { // a completion, then a gap of 10+i ms
		r.clients[0].record(workloads.OpPut, time.Microsecond, 0, time.Duration(at*float64(time.Millisecond)), false, 1)
		at += float64(11 + i)
	}
	r.clients[0].record(workloads.OpPut, time.Microsecond, 0, time.Duration(at*float64(time.Millisecond)), false, 1)
	smp := r.rotate(0, time.Duration(at+1)*time.Millisecond)
	if len(smp.Stalls) != stallListMax || smp.StallMs != 29 {
		t.Fatalf("%d stalls, longest %v: %v", len(smp.Stalls), smp.StallMs, smp.Stalls)
	}
	for i := 1; i < len(smp.Stalls); i++ {
		if smp.Stalls[i].StartS <= smp.Stalls[i-1].StartS || smp.Stalls[i].Ms < 14 {
			t.Fatalf("stalls not the longest in time order: %v", smp.Stalls)
		}
	}
}
