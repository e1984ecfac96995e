package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The process tests re-run this test binary as `etcdlab node`: with
// nodeEnv set, TestMain runs the CLI on its arguments instead of the tests,
// so the children go through the same flag parsing as the real command.
const nodeEnv = "ETCDLAB_TEST_RUN_CLI"

var seedFlag = flag.Uint64("seed", 0, "seed of the process tests (0: picked from the time and logged)")

func TestMain(m *testing.M) {
	if os.Getenv(nodeEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func testSeed(t *testing.T) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed=%d)", s, s)
	return s
}

// procCluster is a cluster of `etcdlab node` child processes on 127.0.0.1.
type procCluster struct {
	t      *testing.T
	dir    string
	names  []string
	client []string // client URLs
	peer   []string // peer URLs
	extra  []string // flags every node gets
	state  []string // --initial-cluster-state of each node
	mu     sync.Mutex
	cmds   []*exec.Cmd
	waits  []chan error
}

// reservePorts picks n free 127.0.0.1 ports (held open together so they
// differ, then released for the children to bind).
func reservePorts(t *testing.T, n int) []string {
	t.Helper()
	var ls []net.Listener
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return out
}

func newProcCluster(t *testing.T, n int, extra ...string) *procCluster {
	ports := reservePorts(t, 2*n)
	c := &procCluster{t: t, dir: t.TempDir(), extra: extra, cmds: make([]*exec.Cmd, n), waits: make([]chan error, n)}
	for i := range n {
		c.names = append(c.names, fmt.Sprintf("n%d", i+1))
		c.client = append(c.client, "http://"+ports[2*i])
		c.peer = append(c.peer, "http://"+ports[2*i+1])
		c.state = append(c.state, "new")
	}
	t.Cleanup(func() {
		for i := range c.names {
			c.kill(i)
		}
		if t.Failed() {
			for _, name := range c.names {
				b, _ := os.ReadFile(filepath.Join(c.dir, name+".log"))
				t.Logf("--- %s log:\n%s", name, b)
			}
		}
	})
	return c
}

// args are the exact flags node i is started with.
func (c *procCluster) args(i int) []string {
	var ic []string
	for j := range c.names {
		ic = append(ic, c.names[j]+"="+c.peer[j])
	}
	a := []string{"node",
		"--name", c.names[i],
		"--data-dir", filepath.Join(c.dir, c.names[i]),
		"--listen-client-urls", c.client[i],
		"--advertise-client-urls", c.client[i],
		"--listen-peer-urls", c.peer[i],
		"--initial-advertise-peer-urls", c.peer[i],
		"--initial-cluster", strings.Join(ic, ","),
		"--initial-cluster-state", c.state[i],
	}
	return append(a, c.extra...)
}

func (c *procCluster) start(i int) {
	c.t.Helper()
	log, err := os.OpenFile(filepath.Join(c.dir, c.names[i]+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], c.args(i)...)
	cmd.Env = append(os.Environ(), nodeEnv+"=1")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	w := make(chan error, 1)
	go func() { w <- cmd.Wait(); _ = log.Close() }()
	c.mu.Lock()
	c.cmds[i], c.waits[i] = cmd, w
	c.mu.Unlock()
}

// addMember makes room for one more node, started later with
// --initial-cluster-state existing once the cluster has added it.
func (c *procCluster) addMember() int {
	ports := reservePorts(c.t, 2)
	c.mu.Lock()
	defer c.mu.Unlock()
	i := len(c.names)
	c.names = append(c.names, fmt.Sprintf("n%d", i+1))
	c.client = append(c.client, "http://"+ports[0])
	c.peer = append(c.peer, "http://"+ports[1])
	c.state = append(c.state, "existing")
	c.cmds = append(c.cmds, nil)
	c.waits = append(c.waits, nil)
	return i
}

// kill sends SIGKILL to node i (a crash: nothing is flushed) and reaps it.
func (c *procCluster) kill(i int) {
	c.mu.Lock()
	cmd, w := c.cmds[i], c.waits[i]
	c.cmds[i] = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-w
}

// stop sends SIGTERM (Ctrl-C's path) and wants a clean exit with status 0.
func (c *procCluster) stop(i int) {
	c.t.Helper()
	c.mu.Lock()
	cmd, w := c.cmds[i], c.waits[i]
	c.cmds[i] = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-w:
		if err != nil {
			c.t.Errorf("%s after SIGTERM: %v (want exit status 0)", c.names[i], err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-w
		c.t.Errorf("%s did not stop within 30s of SIGTERM", c.names[i])
	}
}

func (c *procCluster) newClient(endpoints ...string) *clientv3.Client {
	c.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// leader waits until every running node reports the same leader and
// returns its index.
func (c *procCluster) leader(cli *clientv3.Client, running []int) int {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var lead uint64
		agree := true
		ids := make(map[uint64]int)
		for _, i := range running {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := cli.Status(ctx, c.client[i])
			cancel()
			if err != nil || st.Leader == 0 || (lead != 0 && st.Leader != lead) {
				agree = false
				break
			}
			lead = st.Leader
			ids[st.Header.MemberId] = i
		}
		if i, ok := ids[lead]; agree && ok {
			return i
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("no agreed leader within 20s")
	return -1
}

// converged waits until every node has applied the same revision, then
// checks their HashKV at it is equal, and returns the revision.
func (c *procCluster) converged(cli *clientv3.Client) int64 {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		revs := make([]int64, len(c.names))
		ok := true
		for i := range c.names {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := cli.Status(ctx, c.client[i])
			cancel()
			if err != nil {
				ok = false
				last = fmt.Sprintf("%s: %v", c.names[i], err)
				break
			}
			revs[i] = st.Header.Revision
			if st.RaftAppliedIndex != st.RaftIndex || revs[i] != revs[0] {
				ok = false
				last = fmt.Sprintf("revisions %v, %s applied %d of %d", revs, c.names[i], st.RaftAppliedIndex, st.RaftIndex)
			}
		}
		if ok {
			var hashes []uint32
			for i := range c.names {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				h, err := cli.HashKV(ctx, c.client[i], revs[0])
				cancel()
				if err != nil {
					c.t.Fatalf("hashkv on %s at %d: %v", c.names[i], revs[0], err)
				}
				hashes = append(hashes, h.Hash)
			}
			for i := range hashes {
				if hashes[i] != hashes[0] {
					c.t.Fatalf("HashKV at revision %d differs: %v", revs[0], hashes)
				}
			}
			c.t.Logf("converged at revision %d, HashKV %x on every node", revs[0], hashes[0])
			return revs[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("nodes did not converge within 30s: %s", last)
	return 0
}

// fastFlags: etcd's flags with a short tick so that elections are quick.
var fastFlags = []string{"--heartbeat-interval", "50", "--election-timeout", "500", "--backend-batch-interval", "10ms"}

// TestNodeFlagsMapped: etcd's flags land in the server and node options
// with etcd's meaning (heartbeat = one tick, election in ticks).
func TestNodeFlagsMapped(t *testing.T) {
	var f nodeFlags
	fl := pflag.NewFlagSet("node", pflag.ContinueOnError)
	f.register(fl)
	err := fl.Parse([]string{"--name", "a", "--data-dir", "/d",
		"--listen-client-urls", "http://127.0.0.1:1,http://127.0.0.1:2", "--listen-peer-urls", "http://127.0.0.1:3",
		"--initial-cluster", "a=http://127.0.0.1:3,b=http://127.0.0.1:4", "--initial-cluster-token", "tok",
		"--snapshot-count", "77", "--experimental-snapshot-catchup-entries", "7", "--raft-log-compaction", "3.5", "--quota-backend-bytes", "-1",
		"--backend-batch-interval", "3ms", "--backend-batch-limit", "9", "--heartbeat-interval", "20",
		"--election-timeout", "300", "--engine", "pebble", "--engine-opt", "cache-size=16MiB", "--max-request-bytes", "4096"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Node
	if cfg.Name != "a" || cfg.DataDir != "/d" || len(cfg.ListenClientURLs) != 2 || cfg.AdvertiseClientURLs[1] != "http://127.0.0.1:2" ||
		cfg.InitialAdvertisePeerURLs[0] != "http://127.0.0.1:3" || cfg.InitialClusterToken != "tok" || cfg.InitialClusterState != "new" {
		t.Errorf("server config: %+v", cfg)
	}
	if n.SnapshotCount != 77 || n.SnapshotCatchUpEntries != 7 || n.RaftLogCompaction != "3.5" || n.QuotaBytes != -1 || n.Backend.BatchInterval != 3*time.Millisecond ||
		n.Backend.BatchLimit != 9 || n.TickInterval != 20*time.Millisecond || n.HeartbeatTicks != 1 || n.ElectionTicks != 15 ||
		n.Engine != "pebble" || len(n.EngineOptions) != 1 || n.MaxRequestBytes != 4096 || cfg.API.MaxRequestBytes != 4096 {
		t.Errorf("node options: %s", n)
	}
}

// TestNodeFlagsRejected: bad `etcdlab node` flags exit with status 2 and
// say what is accepted.
func TestNodeFlagsRejected(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"node", "--listen-client-urls", "https://127.0.0.1:1"}, []string{"--listen-client-urls", "TLS is not supported", "http://host:port"}},
		{[]string{"node", "--initial-cluster-state", "old"}, []string{`"old"`, "new, existing"}},
		{[]string{"node", "--heartbeat-interval", "100", "--election-timeout", "200"}, []string{"--election-timeout 200ms", "5 times"}},
		{[]string{"node", "--name", "a", "--initial-cluster", "b=http://127.0.0.1:1"}, []string{`no member named "a"`}},
		{[]string{"node", "--engine", "leveldb"}, []string{"leveldb"}},
		{[]string{"node", "--listen-peer-urls", "127.0.0.1:2380"}, []string{"--listen-peer-urls", "scheme must be http"}},
		{[]string{"node", "--bogus"}, []string{"unknown flag: --bogus"}},
	} {
		code, _, stderr := run(t, tc.args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %s", tc.args, code, exitUsage, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr does not say %q:\n%s", tc.args, w, stderr)
			}
		}
	}
}

// TestProcessClusterFailover: three `etcdlab node` processes form a cluster
// from etcd's flags alone; etcd's client sees the members by name, the
// same leader on every endpoint, and fails over when the node it talks to
// (the leader) is SIGKILLed; the restarted node catches up to the same
// HashKV; SIGTERM stops every node with exit status 0.
func TestProcessClusterFailover(t *testing.T) {
	c := newProcCluster(t, 3, fastFlags...)
	for i := range 3 {
		c.start(i)
	}
	t.Logf("started: etcdlab %s", strings.Join(c.args(0), " "))
	admin := c.newClient(c.client...)
	lead := c.leader(admin, []int{0, 1, 2})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ml, err := admin.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, m := range ml.Members {
		if len(m.PeerURLs) != 1 {
			t.Fatalf("member %s has peer URLs %v", m.Name, m.PeerURLs)
		}
		names[m.Name] = m.PeerURLs[0]
	}
	for i, n := range c.names {
		if names[n] != c.peer[i] {
			t.Fatalf("member list %v, want %s at %s", ml.Members, n, c.peer[i])
		}
	}
	// The KV API across processes: a write through one member is read back
	// linearizably through another; txn, delete and compact as etcd's.
	p1, err := c.newClient(c.client[0]).Put(ctx, "x", "1")
	if err != nil {
		t.Fatal(err)
	}
	other := c.newClient(c.client[2])
	if g, err := other.Get(ctx, "x"); err != nil || len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "1" {
		t.Fatalf("linearizable get through another member: %v %v", g, err)
	}
	tr, err := other.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision("x"), "=", p1.Header.Revision)).
		Then(clientv3.OpPut("x", "2")).Commit()
	if err != nil || !tr.Succeeded {
		t.Fatalf("txn: %v %v", tr, err)
	}
	if d, err := admin.Delete(ctx, "x"); err != nil || d.Deleted != 1 {
		t.Fatalf("delete: %v %v", d, err)
	}
	if _, err := admin.Compact(ctx, tr.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, "x", clientv3.WithRev(p1.Header.Revision)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("read below the compaction on another member: %v", err)
	}
	if al, err := admin.AlarmList(ctx); err != nil || len(al.Alarms) != 0 {
		t.Fatalf("alarm list: %v %v", al, err)
	}
	for _, ep := range c.client {
		if _, err := admin.Defragment(ctx, ep); err != nil {
			t.Fatalf("defrag %s: %v", ep, err)
		}
	}

	// The client talks to the leader first; kill it under the client.
	order := append([]string{c.client[lead]}, c.client[(lead+1)%3], c.client[(lead+2)%3])
	cli := c.newClient(order...)
	if _, err := cli.Put(ctx, "before", "1"); err != nil {
		t.Fatal(err)
	}
	c.kill(lead)
	t.Logf("killed the leader %s", c.names[lead])
	start := time.Now()
	for i := range 20 {
		k := fmt.Sprintf("after%02d", i)
		var err error
		for try := 0; try < 50; try++ {
			pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
			_, err = cli.Put(pctx, k, k)
			pcancel()
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("put %s after the kill never succeeded: %v", k, err)
		}
	}
	t.Logf("20 puts through the failed-over client in %v", time.Since(start).Round(time.Millisecond))
	g, err := cli.Get(ctx, "", clientv3.WithPrefix())
	if err != nil || g.Count != 21 {
		t.Fatalf("linearizable get after failover: %v %v", g, err)
	}

	c.start(lead)
	c.converged(admin)
	st, err := admin.Status(ctx, c.client[lead])
	if err != nil || st.Header.MemberId != ml.Members[0].ID && st.Header.MemberId != ml.Members[1].ID && st.Header.MemberId != ml.Members[2].ID {
		t.Fatalf("restarted node status: %v %v", st, err)
	}
	// Quorum lost: stop two members cleanly; the last one reports no
	// leader, refuses writes with etcd's error and still serves
	// serializable reads.
	last := (lead + 1) % 3
	for i := range 3 {
		if i != last {
			c.stop(i)
		}
	}
	alone := c.newClient(c.client[last])
	deadline := time.Now().Add(20 * time.Second)
	for {
		sctx, scancel := context.WithTimeout(ctx, time.Second)
		st, err = alone.Status(sctx, c.client[last])
		scancel()
		if err == nil && st.Leader == 0 && len(st.Errors) == 1 && st.Errors[0] == "etcdserver: no leader" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last member still reports a leader: %+v %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = alone.Put(pctx, "no-quorum", "v")
	pcancel()
	if !errors.Is(err, rpctypes.ErrNoLeader) {
		t.Fatalf("put without quorum: %v, want %v", err, rpctypes.ErrNoLeader)
	}
	if g, err := alone.Get(ctx, "before", clientv3.WithSerializable()); err != nil || len(g.Kvs) != 1 {
		t.Fatalf("serializable get without quorum: %v %v", g, err)
	}
	gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = alone.Get(gctx, "before")
	gcancel()
	if err == nil {
		t.Fatal("a linearizable get succeeded without quorum")
	}
	c.stop(last)
}

// TestProcessCrashNoAckedWriteLost is issue 5's process-level crash test:
// nodes are child processes over TCP; writers put unique keys through
// etcd's client while one node (chosen by the seed) is SIGKILLed and
// restarted. Then every acknowledged put is read back linearizably with
// its value and its revision, no key was applied twice (version 1), and
// every node has the same revision and HashKV.
func TestProcessCrashNoAckedWriteLost(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rounds, phase := 1, 700*time.Millisecond
	if !testing.Short() {
		rounds, phase = 3, 2*time.Second
	}
	// A small snapshot count so that a restarted node replays a WAL behind
	// a snapshot, or gets one from the leader.
	// The engine is drawn from the seed: both durable engines must keep
	// every acknowledged write through a crash.
	engine := []string{"bbolt", "pebble"}[rng.IntN(2)]
	t.Logf("engine %s", engine)
	c := newProcCluster(t, 3, append([]string{"--engine", engine, "--snapshot-count", "300", "--experimental-snapshot-catchup-entries", "100"}, fastFlags...)...)
	for i := range 3 {
		c.start(i)
	}
	admin := c.newClient(c.client...)
	c.leader(admin, []int{0, 1, 2})
	cli := c.newClient(c.client...)

	type ack struct {
		val string
		rev int64
	}
	var (
		mu     sync.Mutex
		acked  = map[string]ack{}
		failed int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%d/%06d", w, i)
				v := fmt.Sprintf("%s@%d", k, seed)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				r, err := cli.Put(ctx, k, v)
				cancel()
				mu.Lock()
				if err == nil {
					acked[k] = ack{v, r.Header.Revision}
				} else {
					failed++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	for r := range rounds {
		time.Sleep(phase)
		victim := rng.IntN(3)
		if rng.IntN(2) == 0 {
			victim = c.leader(admin, []int{0, 1, 2})
		}
		c.kill(victim)
		t.Logf("round %d: SIGKILL %s under load", r, c.names[victim])
		time.Sleep(phase)
		c.start(victim)
		c.leader(admin, []int{0, 1, 2})
	}
	time.Sleep(phase)
	close(stop)
	wg.Wait()
	t.Logf("%d puts acknowledged, %d failed (ambiguous or rejected)", len(acked), failed)
	if len(acked) == 0 {
		t.Fatal("no put was acknowledged")
	}

	c.converged(admin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all, err := cli.Get(ctx, "w", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i, kv := range all.Kvs {
		got[string(kv.Key)] = i
		if kv.Version != 1 {
			t.Errorf("%s has version %d: a put was applied more than once", kv.Key, kv.Version)
		}
	}
	lost := 0
	for k, a := range acked {
		i, ok := got[k]
		switch {
		case !ok:
			lost++
			if lost < 10 {
				t.Errorf("acknowledged put %s (revision %d) is lost", k, a.rev)
			}
		case string(all.Kvs[i].Value) != a.val || all.Kvs[i].ModRevision != a.rev:
			t.Errorf("%s: value %q at revision %d, acknowledged %q at %d", k, all.Kvs[i].Value, all.Kvs[i].ModRevision, a.val, a.rev)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged puts lost", lost, len(acked))
	}
	// Each node on its own (serializable) has every acknowledged put too.
	for i := range c.names {
		one := c.newClient(c.client[i])
		g, err := one.Get(ctx, "w", clientv3.WithPrefix(), clientv3.WithSerializable(), clientv3.WithCountOnly())
		if err != nil || g.Count != int64(len(all.Kvs)) {
			t.Errorf("%s serves %v keys (%v), want %d", c.names[i], g, err, len(all.Kvs))
		}
	}
	for i := range 3 {
		c.stop(i)
	}
}

// TestProcessMemberAddJoin: etcdctl's member add, then a fourth process
// started with --initial-cluster-state existing joins as a learner with the
// ID the API gave it, catches up, is promoted, and holds the same data.
func TestProcessMemberAddJoin(t *testing.T) {
	c := newProcCluster(t, 3, fastFlags...)
	for i := range 3 {
		c.start(i)
	}
	admin := c.newClient(c.client...)
	c.leader(admin, []int{0, 1, 2})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 50 {
		if _, err := admin.Put(ctx, fmt.Sprintf("k%02d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	n4 := c.addMember()
	var add *clientv3.MemberAddResponse
	var err error
	for try := 0; try < 20; try++ { // a follower answers "not leader"; the client does not forward
		add, err = admin.MemberAddAsLearner(ctx, []string{c.peer[n4]})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("member add: %v", err)
	}
	c.start(n4)
	t.Logf("joined: etcdlab %s", strings.Join(c.args(n4), " "))
	one := c.newClient(c.client[n4])
	var st *clientv3.StatusResponse
	deadline := time.Now().Add(20 * time.Second)
	for {
		sctx, scancel := context.WithTimeout(ctx, time.Second)
		st, err = one.Status(sctx, c.client[n4])
		scancel()
		if err == nil && st.Header.Revision >= 51 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the joined member did not catch up: %v %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Header.MemberId != add.Member.ID || !st.IsLearner {
		t.Fatalf("joined member: ID %x learner %v, want ID %x from member add, a learner", st.Header.MemberId, st.IsLearner, add.Member.ID)
	}
	for try := 0; ; try++ {
		_, err = admin.MemberPromote(ctx, add.Member.ID)
		if err == nil {
			break
		}
		if try == 50 {
			t.Fatalf("promote: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ml, err := admin.MemberList(ctx)
	if err != nil || len(ml.Members) != 4 {
		t.Fatalf("member list after promote: %v %v", ml, err)
	}
	for _, m := range ml.Members {
		if m.IsLearner {
			t.Fatalf("a learner remains after promote: %v", m)
		}
	}
	if _, err := admin.Put(ctx, "after-join", "v"); err != nil {
		t.Fatal(err)
	}
	var cid uint64
	for i := range c.names {
		st, err := admin.Status(ctx, c.client[i])
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && st.Header.ClusterId != cid {
			t.Fatalf("%s reports cluster ID %x, %s %x", c.names[i], st.Header.ClusterId, c.names[0], cid)
		}
		cid = st.Header.ClusterId
	}
	c.converged(admin)
	for i := range c.names {
		c.stop(i)
	}
}
