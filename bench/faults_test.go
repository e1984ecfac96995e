package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"etcdlab/bench/faults"
	"etcdlab/cluster"
	"etcdlab/internal/clock"
	"etcdlab/internal/diskfault"
	"etcdlab/results"
)

// TestFaultsKillLeaderRun is a short in-process run with the leader killed
// and restarted during the measured phase: the result must carry both
// schedule entries with their figures, the restart's catch-up of the node
// that was killed, the fault bands on the timeline, and a porcupine verdict
// of "ok" over a history that holds reads and writes.
func TestFaultsKillLeaderRun(t *testing.T) {
	sched, err := faults.Parse("kill-leader@1s,restart@2500ms")
	if err != nil {
		t.Fatal(err)
	}
	spec := smallSpec(t, "ycsb-a", 200)
	cfg := Config{Layer: LayerCluster, Node: cluster.NodeOptions{Engine: "bbolt"}, Nodes: 3, Workload: spec, Seed: seed(t), Clients: 4,
		Duration: 4 * time.Second, FsyncProbe: -1, Faults: sched, LinCheck: LinCheck{Share: 0.2}}
	o, err := RunToDir(context.Background(), cfg, filepath.Join(t.TempDir(), "r"))
	if err != nil {
		t.Fatal(err)
	}
	r := o.Result
	if r.Config.Faults != "kill-leader@1s,restart@2.5s" {
		t.Errorf("config.faults %q", r.Config.Faults)
	}
	if len(r.Faults) != 2 {
		t.Fatalf("%d fault entries, want 2: %+v", len(r.Faults), r.Faults)
	}
	kill, restart := r.Faults[0], r.Faults[1]
	if kill.Kind != faults.KillLeader || len(kill.Nodes) != 1 || kill.Nodes[0] == 0 || kill.Error != "" {
		t.Fatalf("kill entry: %+v", kill)
	}
	if kill.StartS < 1 || kill.EndS < kill.StartS || restart.StartS != kill.EndS || restart.StartS < 2.5 {
		t.Errorf("windows: kill [%v, %v], restart at %v", kill.StartS, kill.EndS, restart.StartS)
	}
	if kill.Basis != "writes" || kill.DuringOps == 0 || kill.UnavailableS <= 0 || kill.PreFaultOpsS <= 0 {
		t.Errorf("kill figures: %+v", kill)
	}
	if len(restart.CatchUp) != 1 || restart.CatchUp[0].Node != kill.Nodes[0] || restart.CatchUp[0].Error != "" || restart.CatchUp[0].TargetIndex == 0 {
		t.Errorf("restart catch-up: %+v (killed node %v)", restart.CatchUp, kill.Nodes)
	}
	if r.Events["node-killed"] != 1 || r.Events["node-restarted"] != 1 {
		t.Errorf("events: %v", r.Events)
	}
	l := r.Linearizability
	if l == nil || l.Verdict != "ok" || l.Reads == 0 || l.Writes == 0 || l.Keys == 0 {
		t.Fatalf("linearizability: %+v", l)
	}
	var bands []results.Sample
	for _, s := range o.Timeline {
		if s.Type == results.SampleFault {
			bands = append(bands, s)
		}
	}
	if len(bands) != 2 || bands[0].Kind != faults.KillLeader || bands[0].EndS <= bands[0].T {
		t.Fatalf("fault samples on the timeline: %+v", bands)
	}
	// The run's totals survive the killed node's counters going away.
	if r.Disk.WALBytes <= 0 || r.Fsyncs.WAL <= 0 {
		t.Errorf("wal bytes %d, fsyncs %d", r.Disk.WALBytes, r.Fsyncs.WAL)
	}
}

// TestFaultsBadConfig: faults that make no sense for the run are refused
// before it starts, each named.
func TestFaultsBadConfig(t *testing.T) {
	kill, err := faults.Parse("kill-leader@1s")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"mvcc layer", Config{Layer: LayerMVCC, Faults: kill}, "faults need the cluster layer"},
		{"one node", Config{Layer: LayerCluster, Nodes: 1, Faults: kill}, "kill-leader@1s on 1 node"},
		{"endpoints", Config{Layer: LayerCluster, Endpoints: []string{"127.0.0.1:2379"}, Faults: kill}, "not supported with --endpoints yet"},
		{"after the end", Config{Layer: LayerCluster, Nodes: 3, Duration: time.Second, Faults: kill}, "starts at or after the end"},
		{"lin share", Config{Layer: LayerCluster, Nodes: 3, LinCheck: LinCheck{Share: 2}}, "lin-share 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.EnsureDefaults()
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.want)
			}
			if len(tc.cfg.Faults) > 0 && !errors.Is(err, faults.ErrBadSchedule) {
				t.Fatalf("error %v does not wrap faults.ErrBadSchedule", err)
			}
		})
	}
}

// fakeInjector logs the calls the fault driver makes.
type fakeInjector struct {
	mu     sync.Mutex
	log    []string
	leader uint64
	failed map[uint64]bool
}

func (f *fakeInjector) add(format string, a ...any) {
	f.mu.Lock()
	f.log = append(f.log, fmt.Sprintf(format, a...))
	f.mu.Unlock()
}

func (f *fakeInjector) Leader() uint64           { return f.leader }
func (f *fakeInjector) Follower() uint64         { return 2 }
func (f *fakeInjector) Running() []uint64        { return []uint64{1, 2, 3} }
func (f *fakeInjector) Kill(id uint64) error     { f.add("kill %d", id); return nil }
func (f *fakeInjector) Failed(id uint64) bool    { return f.failed[id] }
func (f *fakeInjector) Applied(id uint64) uint64 { return 100 }
func (f *fakeInjector) Isolate(id uint64) error  { f.add("isolate %d", id); return nil }
func (f *fakeInjector) Heal() error              { f.add("heal"); return nil }
func (f *fakeInjector) ResetLinks() error        { f.add("reset-links"); return nil }
func (f *fakeInjector) Restart(id uint64) (uint64, error) {
	f.add("restart %d", id)
	return 50, nil
}
func (f *fakeInjector) SetLinks(d time.Duration, loss float64) error {
	f.add("links %v %v", d, loss)
	return nil
}
func (f *fakeInjector) SetDisk(id uint64, wal bool, df diskfault.Fault) error {
	f.add("disk %d wal=%v %+v", id, wal, df)
	return nil
}

// TestFaultDriver: the driver applies each entry to the node its kind
// names and undoes it at the right step: a kill with +for restarts the
// node, a restart every pending kill, a fill-disk clears the disk,
// crashes the node its full disk stopped at once and restarts it when
// lifted, faults still on at the end are
// lifted (kills stay).
func TestFaultDriver(t *testing.T) {
	sched, err := faults.Parse("kill-leader@0s,restart@10ms,partition-follower@20ms+10ms,fill-disk@40ms+10ms,delay=5ms@60ms,kill-follower@70ms")
	if err != nil {
		t.Fatal(err)
	}
	inj := &fakeInjector{leader: 1, failed: map[uint64]bool{1: true}}
	clk := clock.Real()
	var evMu sync.Mutex
	var events []string
	fr := newFaultRun(sched, inj, clk, clk.Now(), func(e Event) {
		evMu.Lock()
		events = append(events, e.Kind)
		evMu.Unlock()
	})
	fr.start()
	// Wait for every entry to have been applied and the timed ones lifted
	// (no timing is asserted: only what was called, in which order).
	for {
		inj.mu.Lock()
		n := len(inj.log)
		inj.mu.Unlock()
		if n >= 11 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	fr.stop()
	want := []string{
		"kill 1", "restart 1",
		"isolate 2", "heal",
		"disk 1 wal=true {SyncLatency:0s WriteLatency:0s NoSpace:true}", "kill 1", // the full disk stopped node 1: crashed at once
		"disk 1 wal=true {SyncLatency:0s WriteLatency:0s NoSpace:false}", "disk 1 wal=false {SyncLatency:0s WriteLatency:0s NoSpace:false}", "restart 1",
		"links 5ms 0", "kill 2",
		"heal", "reset-links", // the delay, lifted at the end
	}
	// Lifts run on timers of their own, so only the order each entry
	// imposes on its own calls is certain.
	got := slices.Clone(inj.log)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("calls:\n%s\nwant (in any order):\n%s", strings.Join(inj.log, "\n"), strings.Join(want, "\n"))
	}
	before := func(a, b string) {
		ia, ib := slices.Index(inj.log, a), slices.Index(inj.log, b)
		if ia < 0 || ib < 0 || ia > ib {
			t.Errorf("%q should come before %q: %v", a, b, inj.log)
		}
	}
	before("kill 1", "restart 1")
	before("isolate 2", "heal")
	before("disk 1 wal=true {SyncLatency:0s WriteLatency:0s NoSpace:true}", "disk 1 wal=true {SyncLatency:0s WriteLatency:0s NoSpace:false}")
	before("links 5ms 0", "reset-links")
	rs := fr.results(nil, time.Second, nil)
	if len(rs) != len(sched) {
		t.Fatalf("%d results for %d entries", len(rs), len(sched))
	}
	if rs[0].EndS != rs[1].StartS || len(rs[1].CatchUp) != 1 || rs[1].CatchUp[0].TargetIndex != 50 || rs[1].CatchUp[0].CatchUpS < 0 {
		t.Errorf("kill/restart: %+v / %+v", rs[0], rs[1])
	}
	if len(rs[3].CatchUp) != 1 || rs[3].CatchUp[0].Node != 1 {
		t.Errorf("fill-disk did not restart the crashed node: %+v", rs[3])
	}
	if rs[4].EndS < rs[4].StartS || rs[5].EndS < rs[5].StartS || rs[4].EndS > 1 {
		t.Errorf("faults in force at the end end with the run: delay %+v, kill %+v", rs[4], rs[5])
	}
	if len(fr.bands(time.Second)) != len(sched) {
		t.Errorf("bands: %+v", fr.bands(time.Second))
	}
}
