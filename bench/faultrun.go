package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"etcdlab/bench/faults"
	"etcdlab/cluster"
	"etcdlab/internal/clock"
	"etcdlab/internal/diskfault"
	"etcdlab/internal/event"
	"etcdlab/results"
)

// FaultInjector is the optional capability of a Target that can suffer the
// faults of a schedule (Config.Faults): the in-process cluster. The runner
// decides when and what (runFaults); the target only knows how. Node IDs
// are raft IDs; 0 means none.
type FaultInjector interface {
	// Leader is the current leader; Follower the lowest-ID running
	// follower; Running every running node, by ID.
	Leader() uint64
	Follower() uint64
	Running() []uint64
	// Kill crashes a node (no clean stop). Failed reports whether a
	// running node stopped on a fatal error (a WAL write refused by a
	// full disk); Restart starts a killed node again (a failed one is
	// killed first) and returns the cluster's commit index at the time
	// (the point the node must reach to have caught up).
	Kill(id uint64) error
	Failed(id uint64) bool
	Restart(id uint64) (target uint64, err error)
	// Applied is a running node's applied index (0 if not running).
	Applied(id uint64) uint64
	// Isolate cuts a node off from the others; Heal ends every isolation.
	Isolate(id uint64) error
	Heal() error
	// SetLinks shapes every link (delay, loss) on top of the run's base
	// link delay; ResetLinks restores the base.
	SetLinks(delay time.Duration, loss float64) error
	ResetLinks() error
	// SetDisk sets the fault of a node's WAL disk (wal) or engine.
	SetDisk(id uint64, wal bool, f diskfault.Fault) error
}

// catchUpPoll is how often a restarted node's applied index is read.
const catchUpPoll = 5 * time.Millisecond

// faultRecord is one schedule entry as it happened.
type faultRecord struct {
	f        faults.Fault
	nodes    []uint64
	start    time.Duration
	end      time.Duration // -1: still in force
	err      []string
	catchUps []*catchUp
	crashed  []uint64      // fill-disk: nodes its full disk stopped, killed by watchFailures
	lifted   chan struct{} // closed when the fault is lifted
}

type catchUp struct {
	node    uint64
	target  uint64
	at      time.Time // wall time of the restart call
	mu      sync.Mutex
	took    time.Duration // -1 until reached
	errText string
}

// faultRun drives a schedule against inj during the measured phase.
type faultRun struct {
	sched faults.Schedule
	inj   FaultInjector
	clk   clock.Clock
	base  time.Time // the start of the measured phase
	emit  func(Event)

	mu      sync.Mutex
	recs    []*faultRecord
	killed  []*faultRecord // kills without +for, waiting for a restart
	links   []*faultRecord // partitions, delays, losses without +for, waiting for a heal
	wg      sync.WaitGroup
	stopped chan struct{}
}

func newFaultRun(sched faults.Schedule, inj FaultInjector, clk clock.Clock, base time.Time, emit func(Event)) *faultRun {
	return &faultRun{sched: sched, inj: inj, clk: clk, base: base, emit: emit, stopped: make(chan struct{})}
}

func (r *faultRun) now() time.Duration { return r.clk.Since(r.base) }

// wait waits until offset at of the measured phase; false if stopped first.
func (r *faultRun) wait(at time.Duration) bool {
	d := at - r.now()
	if d <= 0 {
		return true
	}
	t := r.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-r.stopped:
		return false
	}
}

// start runs the schedule in the background.
func (r *faultRun) start() {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for _, f := range r.sched {
			if !r.wait(f.At) {
				return
			}
			rec := &faultRecord{f: f, start: r.now(), end: -1, lifted: make(chan struct{})}
			r.mu.Lock()
			r.recs = append(r.recs, rec)
			r.mu.Unlock()
			r.apply(rec)
			if f.For > 0 {
				r.wg.Add(1)
				go func() {
					defer r.wg.Done()
					if r.wait(rec.start + f.For) {
						r.lift(rec)
					}
				}()
			}
		}
	}()
}

func (r *faultRun) note(rec *faultRecord, err error) {
	if err != nil {
		r.mu.Lock()
		rec.err = append(rec.err, err.Error())
		r.mu.Unlock()
	}
}

// pick returns the node(s) a fault hits now.
func (r *faultRun) pick(f faults.Fault) []uint64 {
	switch {
	case f.Kind == faults.KillLeader || f.Kind == faults.PartitionLeader || f.OnDisk() && f.Target == faults.TargetLeader:
		if l := r.inj.Leader(); l != 0 {
			return []uint64{l}
		}
	case f.Kind == faults.KillFollower || f.Kind == faults.PartitionFollower || f.OnDisk() && f.Target == faults.TargetFollower:
		if id := r.inj.Follower(); id != 0 {
			return []uint64{id}
		}
	case f.OnDisk() && f.Target == faults.TargetAll:
		return r.inj.Running()
	}
	return nil
}

func (r *faultRun) event(kind string, node uint64, detail string) {
	r.emit(Event{At: r.clk.Now(), Kind: kind, Node: int(node), Detail: detail})
}

// apply injects rec's fault.
func (r *faultRun) apply(rec *faultRecord) {
	f := rec.f
	r.event(event.Fault, 0, f.String())
	switch {
	case f.Kind == faults.Restart:
		r.mu.Lock()
		pending := r.killed
		r.killed = nil
		r.mu.Unlock()
		for _, k := range pending {
			r.restartAll(rec, k.nodes)
			r.mu.Lock()
			k.end = rec.start
			r.mu.Unlock()
		}
		rec.end = rec.start
		return
	case f.Kind == faults.Heal:
		r.mu.Lock()
		pending := r.links
		r.links = nil
		r.mu.Unlock()
		r.note(rec, r.inj.Heal())
		r.note(rec, r.inj.ResetLinks())
		r.mu.Lock()
		for _, l := range pending {
			l.end = rec.start
		}
		rec.end = rec.start
		r.mu.Unlock()
		return
	}
	rec.nodes = r.pick(f)
	needNode := f.Kills() || f.Partitions() || f.OnDisk()
	if needNode && len(rec.nodes) == 0 {
		r.note(rec, fmt.Errorf("no %s to hit at %v", strings.TrimPrefix(strings.TrimPrefix(f.Kind, "kill-"), "partition-"), rec.start))
		return
	}
	switch {
	case f.Kills():
		for _, id := range rec.nodes {
			r.note(rec, r.inj.Kill(id))
			r.event(event.NodeKilled, id, f.String())
		}
		if f.For == 0 {
			r.mu.Lock()
			r.killed = append(r.killed, rec)
			r.mu.Unlock()
		}
	case f.Partitions():
		for _, id := range rec.nodes {
			r.note(rec, r.inj.Isolate(id))
		}
	case f.Kind == faults.Delay:
		r.note(rec, r.inj.SetLinks(f.LinkDelay, 0))
	case f.Kind == faults.Loss:
		r.note(rec, r.inj.SetLinks(0, f.LossRate))
	case f.OnDisk():
		df := diskfault.Fault{SyncLatency: f.SyncLatency, WriteLatency: f.WriteLatency, NoSpace: f.Kind == faults.FillDisk}
		for _, id := range rec.nodes {
			r.note(rec, r.inj.SetDisk(id, f.Kind == faults.SlowDisk || f.Disk == faults.DiskWAL, df))
			if f.Kind == faults.SlowDisk {
				r.note(rec, r.inj.SetDisk(id, false, df))
			}
		}
		if f.Kind == faults.FillDisk {
			r.watchFailures(rec)
		}
	}
	if f.Links() && f.For == 0 {
		r.mu.Lock()
		r.links = append(r.links, rec)
		r.mu.Unlock()
	}
}

// failurePoll is how often the nodes under a full disk are checked for
// having stopped.
const failurePoll = 5 * time.Millisecond

// watchFailures crashes, while a full disk lasts, every node of rec that
// stopped on a write error: etcd exits when its WAL or backend cannot
// write, which fails its clients' requests at once, whereas a stopped
// in-process node would leave them waiting.
func (r *faultRun) watchFailures(rec *faultRecord) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			for _, id := range rec.nodes {
				if !slices.Contains(rec.crashedNodes(&r.mu), id) && r.inj.Failed(id) {
					r.note(rec, r.inj.Kill(id))
					r.event(event.NodeKilled, id, rec.f.String()+" (write failed)")
					r.mu.Lock()
					rec.crashed = append(rec.crashed, id)
					r.mu.Unlock()
				}
			}
			t := r.clk.NewTimer(failurePoll)
			select {
			case <-t.C():
			case <-rec.lifted:
				t.Stop()
				return
			case <-r.stopped:
				t.Stop()
				return
			}
		}
	}()
}

func (rec *faultRecord) crashedNodes(mu *sync.Mutex) []uint64 {
	mu.Lock()
	defer mu.Unlock()
	return append([]uint64(nil), rec.crashed...)
}

// lift ends rec's fault (its +for ran out, or the run ended).
func (r *faultRun) lift(rec *faultRecord) {
	f := rec.f
	r.mu.Lock()
	if rec.end >= 0 {
		r.mu.Unlock()
		return
	}
	rec.end = r.now()
	close(rec.lifted)
	r.mu.Unlock()
	switch {
	case f.Kills():
		r.restartAll(rec, rec.nodes)
	case f.Partitions():
		r.note(rec, r.inj.Heal())
	case f.Kind == faults.Delay || f.Kind == faults.Loss:
		r.note(rec, r.inj.ResetLinks())
	case f.OnDisk():
		for _, id := range rec.nodes {
			r.note(rec, r.inj.SetDisk(id, true, diskfault.Fault{}))
			r.note(rec, r.inj.SetDisk(id, false, diskfault.Fault{}))
		}
		// A full disk crashes the node that cannot write (etcd exits):
		// once there is space again, it is restarted, as an operator would.
		failed := rec.crashedNodes(&r.mu)
		for _, id := range rec.nodes {
			if !slices.Contains(failed, id) && r.inj.Failed(id) {
				failed = append(failed, id)
			}
		}
		r.restartAll(rec, failed)
	}
	r.event(event.FaultLifted, 0, f.String())
}

// restartAll restarts nodes and follows their catch-up in the background.
func (r *faultRun) restartAll(rec *faultRecord, nodes []uint64) {
	for _, id := range nodes {
		cu := &catchUp{node: id, at: r.clk.Now(), took: -1}
		target, err := r.inj.Restart(id)
		r.event(event.NodeRestarted, id, rec.f.String())
		cu.target = target
		r.mu.Lock()
		rec.catchUps = append(rec.catchUps, cu)
		r.mu.Unlock()
		if err != nil {
			cu.errText = err.Error()
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				if r.inj.Applied(id) >= cu.target {
					cu.mu.Lock()
					cu.took = r.clk.Since(cu.at)
					cu.mu.Unlock()
					return
				}
				t := r.clk.NewTimer(catchUpPoll)
				select {
				case <-t.C():
				case <-r.stopped:
					t.Stop()
					return
				}
			}
		}()
	}
}

// stop ends the schedule at the end of the measured phase: faults still in
// force on links and disks are lifted (so the run's close and checks see a
// whole network); killed nodes stay down. It waits for the catch-up
// watchers.
func (r *faultRun) stop() {
	close(r.stopped)
	r.wg.Wait()
	r.mu.Lock()
	recs := append([]*faultRecord(nil), r.recs...)
	r.mu.Unlock()
	end := r.now()
	for _, rec := range recs {
		if rec.end >= 0 {
			continue
		}
		if rec.f.Kills() {
			rec.end = end
			continue
		}
		r.liftQuiet(rec, end)
	}
}

// liftQuiet undoes a link or disk fault at the end of the run, without
// restarting anything.
func (r *faultRun) liftQuiet(rec *faultRecord, end time.Duration) {
	rec.end = end
	close(rec.lifted)
	switch {
	case rec.f.Links():
		r.note(rec, r.inj.Heal())
		r.note(rec, r.inj.ResetLinks())
	case rec.f.OnDisk():
		for _, id := range rec.nodes {
			r.note(rec, r.inj.SetDisk(id, true, diskfault.Fault{}))
			r.note(rec, r.inj.SetDisk(id, false, diskfault.Fault{}))
		}
	}
}

// results computes each entry's figures from the measured ops (sorted by
// end) and the run's events.
func (r *faultRun) results(ops []faults.Op, runEnd time.Duration, events []Event) []results.Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []results.Fault
	for _, rec := range r.recs {
		end := rec.end
		if end < 0 || end > runEnd {
			end = runEnd
		}
		fr := faults.Figures(ops, faults.Window{Start: rec.start, End: end}, runEnd)
		fr.Spec, fr.Kind, fr.Nodes = rec.f.String(), rec.f.Kind, rec.nodes
		fr.Error = strings.Join(rec.err, "; ")
		for _, cu := range rec.catchUps {
			cu.mu.Lock()
			c := results.CatchUp{Node: cu.node, TargetIndex: cu.target, CatchUpS: -1, Error: cu.errText}
			if cu.took >= 0 {
				c.CatchUpS = cu.took.Seconds()
			}
			cu.mu.Unlock()
			for _, e := range events {
				if e.Kind == event.SnapshotReceived && uint64(e.Node) == cu.node && !e.At.Before(cu.at) {
					c.SnapshotsReceived++
					c.SnapshotBytes += detailInt(e.Detail, "bytes")
				}
			}
			fr.CatchUp = append(fr.CatchUp, c)
		}
		out = append(out, fr)
	}
	return out
}

// bands are the timeline's fault samples: one per entry, from its start to
// its end (instant actions: start == end).
func (r *faultRun) bands(runEnd time.Duration) []results.Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []results.Sample
	for _, rec := range r.recs {
		end := rec.end
		if end < 0 || end > runEnd {
			end = runEnd
		}
		var node int
		if len(rec.nodes) > 0 {
			node = int(rec.nodes[0])
		}
		out = append(out, results.Sample{Type: results.SampleFault, T: rec.start.Seconds(), EndS: end.Seconds(), Kind: rec.f.Kind, Node: node, Detail: rec.f.String()})
	}
	return out
}

// detailInt reads key=N from an event's detail; 0 if absent.
func detailInt(detail, key string) int64 {
	for _, f := range strings.Fields(detail) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// errKinds classify errors for the fault figures, by the sentinel they
// wrap or, for errors that crossed a process boundary (--endpoints), by its
// message (etcd's client errors carry the same text).
var errKinds = []struct {
	err  error
	kind string
}{
	{cluster.ErrTimeout, "timeout"},
	{context.DeadlineExceeded, "timeout"},
	{cluster.ErrNoLeader, "no-leader"},
	{cluster.ErrNotLeader, "not-leader"},
	{cluster.ErrLeaderChanged, "leader-changed"},
	{cluster.ErrStopped, "stopped"},
	{cluster.ErrNoSpace, "nospace"},
	{cluster.ErrTooManyRequests, "too-many-requests"},
	{context.Canceled, "canceled"},
}

// errKind names an error's kind for the fault figures.
func errKind(err error) string {
	for _, k := range errKinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	msg := err.Error()
	for _, k := range errKinds {
		if strings.Contains(msg, k.err.Error()) {
			return k.kind
		}
	}
	return "other"
}

// opTrace is the per-client list of measured ops the fault figures need,
// kept only for runs with faults.
type opTrace struct {
	ops []faults.Op
	max int
}

// maxTracedOps bounds the memory of the op traces (about 40 bytes an op).
const maxTracedOps = 20_000_000

func mergeTraces(ts []*opTrace) []faults.Op {
	var all []faults.Op
	for _, t := range ts {
		if t != nil {
			all = append(all, t.ops...)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].End < all[j].End })
	return all
}
