package cluster_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
	"etcdlab/internal/clock"
)

// TestInitialElectionTickAdvance: etcd's adjustTicks. A single member
// fast-forwards ElectionTicks-1 ticks at start whatever the knob says, and
// then leads within ElectionTicks ticks of a fake clock (raft's randomized
// timeout is ElectionTicks + [0, ElectionTicks) ticks; without the advance
// it would take at least ElectionTicks). Members of a three-node cluster on
// the in-process network fast-forward ElectionTicks-2 once their peers are
// reachable, and not at all with the knob off.
func TestInitialElectionTickAdvance(t *testing.T) {
	for _, off := range []bool{false, true} {
		name := "single/advance=on"
		if off {
			name = "single/advance=off"
		}
		t.Run(name, func(t *testing.T) {
			clk := clock.NewFake(time.Unix(1_700_000_000, 0))
			o := cluster.NodeOptions{Engine: "memory", TickInterval: 100 * time.Millisecond, NoInitialElectionTickAdvance: off}
			c := startCluster(t, 1, o, func(o *harness.Options) { o.Clock = clk })
			n := c.Node(1)
			if got := n.TestStats().TicksAdvanced.Load(); got != cluster.DefaultElectionTicks-1 {
				t.Fatalf("single member advanced %d ticks at start, want %d", got, cluster.DefaultElectionTicks-1)
			}
			settle(c)
			ticks := 0
			for !isRaftLeader(n) && ticks < 3*cluster.DefaultElectionTicks {
				// One tick at a time, each taken by the Ready loop before
				// the next (a tick nobody reads is dropped).
				taken := n.TestStats().Ticks.Load()
				clk.Advance(100 * time.Millisecond)
				ticks++
				waitFor(t, "the tick", 10*time.Second, func() bool { return n.TestStats().Ticks.Load() > taken })
				// The tick is counted when the loop takes it; the election
				// it may start is only visible once its Ready is handled.
				settle(c)
			}
			t.Logf("leader after %d ticks", ticks)
			if ticks > cluster.DefaultElectionTicks {
				t.Fatalf("single member led only after %d ticks, want at most %d", ticks, cluster.DefaultElectionTicks)
			}
		})
	}
	for _, off := range []bool{false, true} {
		name := "three/advance=on"
		if off {
			name = "three/advance=off"
		}
		t.Run(name, func(t *testing.T) {
			o := fastNode("memory")
			o.NoInitialElectionTickAdvance = off
			c := startCluster(t, 3, o, nil)
			waitLeader(t, c)
			want := int64(cluster.DefaultElectionTicks - 2)
			if off {
				want = 0
			}
			waitFor(t, "the tick advance", 10*time.Second, func() bool {
				for _, n := range c.Nodes() {
					if n.TestStats().TicksAdvanced.Load() != want {
						return false
					}
				}
				return true
			})
		})
	}
}

func isRaftLeader(n *cluster.Node) bool {
	n.RaftMu().Lock()
	defer n.RaftMu().Unlock()
	return n.RawNode().BasicStatus().RaftState == raft.StateLeader
}

// stallFS blocks the syncs of WAL files under one directory while armed,
// standing in for a slow disk under one node.
type stallFS struct {
	vfs.FS
	mu      sync.Mutex
	prefix  string        // files whose path starts with it stall; "" none
	cond    func() bool   // if set, a sync stalls only while it holds
	release chan struct{} // closed to let stalled syncs go
	stalled chan struct{} // gets a value when a sync stalls
}

func newStallFS(fs vfs.FS) *stallFS {
	return &stallFS{FS: fs, stalled: make(chan struct{}, 1)}
}

func (f *stallFS) arm(prefix string) { f.armIf(prefix, nil) }

func (f *stallFS) armIf(prefix string, cond func() bool) {
	f.mu.Lock()
	f.prefix, f.cond, f.release = prefix, cond, make(chan struct{})
	f.mu.Unlock()
}

func (f *stallFS) disarm() {
	f.mu.Lock()
	if f.release != nil {
		close(f.release)
	}
	f.prefix, f.cond, f.release = "", nil, nil
	f.mu.Unlock()
}

func (f *stallFS) wait(name string) {
	f.mu.Lock()
	prefix, cond, release := f.prefix, f.cond, f.release
	f.mu.Unlock()
	if prefix == "" || !strings.HasPrefix(name, prefix) || cond != nil && !cond() {
		return
	}
	select {
	case f.stalled <- struct{}{}:
	default:
	}
	<-release
}

func (f *stallFS) wrap(file vfs.File, err error, name string) (vfs.File, error) {
	if err != nil || !strings.Contains(name, "wal") {
		return file, err
	}
	return &stallFile{File: file, fs: f, name: name}, nil
}

func (f *stallFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.Create(name, c)
	return f.wrap(file, err, name)
}

func (f *stallFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	file, err := f.FS.OpenReadWrite(name, c, opts...)
	return f.wrap(file, err, name)
}

func (f *stallFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.ReuseForWrite(oldname, newname, c)
	return f.wrap(file, err, newname)
}

type stallFile struct {
	vfs.File
	fs   *stallFS
	name string
}

func (s *stallFile) Sync() error                  { s.fs.wait(s.name); return s.File.Sync() }
func (s *stallFile) SyncData() error              { s.fs.wait(s.name); return s.File.SyncData() }
func (s *stallFile) SyncTo(n int64) (bool, error) { s.fs.wait(s.name); return s.File.SyncTo(n) }

// TestHeartbeatLate: etcd's "leader failed to send out heartbeat on time"
// as EventHeartbeatLate. On a fake clock an idle healthy cluster, ticked one
// heartbeat interval at a time, never emits it; then the leader's WAL fsync
// stalls (a slow disk under the leader, through NodeOptions.FS) for 5
// heartbeat intervals, its Ready loop takes no ticks meanwhile, and its next
// heartbeat to each follower is late: one event per follower, from the
// leader, with the gap as its duration.
func TestHeartbeatLate(t *testing.T) {
	const tick = 100 * time.Millisecond
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	fs := newStallFS(vfs.Default)
	var mu sync.Mutex
	var late []cluster.Event
	o := cluster.NodeOptions{Engine: "memory", TickInterval: tick, FS: fs, NoInitialElectionTickAdvance: true}
	c := startCluster(t, 3, o, func(o *harness.Options) {
		o.Clock = clk
		o.OnEvent = func(e cluster.Event) {
			if e.Kind == cluster.EventHeartbeatLate {
				mu.Lock()
				late = append(late, e)
				mu.Unlock()
			}
		}
	})
	lateEvents := func() []cluster.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]cluster.Event(nil), late...)
	}
	advance := func(k int, skip uint64) {
		for i := 0; i < k; i++ {
			clk.Advance(tick)
			settleExcept(c, skip)
		}
	}
	for i := 0; c.Leader() == 0 && i < 6*cluster.DefaultElectionTicks; i++ {
		advance(1, 0)
	}
	lead := waitLeader(t, c)

	advance(3*cluster.DefaultElectionTicks, 0)
	if ev := lateEvents(); len(ev) != 0 {
		t.Fatalf("idle healthy cluster: %d heartbeat-late events, first %s", len(ev), ev[0])
	}

	fs.arm(c.NodeDir(lead))
	done := make(chan error, 1)
	ctx := ctxT(t)
	go func() {
		_, err := c.Node(lead).Put(ctx, &pb.PutRequest{Key: []byte("k"), Value: []byte("v")})
		done <- err
	}()
	select {
	case <-fs.stalled:
	case <-time.After(10 * time.Second):
		fs.disarm()
		t.Fatal("the leader's WAL sync never stalled")
	}
	advance(5, lead)
	fs.disarm()
	advance(2, 0)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "heartbeat-late events", 10*time.Second, func() bool { return len(lateEvents()) >= 2 })
	seen := map[string]bool{}
	for _, e := range lateEvents() {
		t.Log(e)
		if e.Node != lead || e.Duration <= 2*tick || !strings.Contains(e.Detail, "to=") {
			t.Errorf("unexpected event %s (leader %x)", e, lead)
		}
		seen[strings.Fields(e.Detail[strings.Index(e.Detail, "to="):])[0]] = true
	}
	if len(seen) != 2 {
		t.Errorf("heartbeat-late for %d followers, want 2", len(seen))
	}
	if got := cluster.EventHeartbeatLate.String(); got != "heartbeat-late" {
		t.Errorf("EventHeartbeatLate is named %q", got)
	}
}

// settleExcept is settle for every node but skip (0: none), whose Ready
// loop a test holds up.
func settleExcept(c *harness.Cluster, skip uint64) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		busy := false
		for _, n := range c.Nodes() {
			if n.ID() == skip {
				continue
			}
			n.RaftMu().Lock()
			if n.RawNode().HasReady() {
				busy = true
			}
			n.RaftMu().Unlock()
		}
		if !busy {
			<-time.After(time.Millisecond)
			return
		}
		<-time.After(100 * time.Microsecond)
	}
}
