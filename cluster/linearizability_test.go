package cluster_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
	"etcdlab/internal/lincheck"
)

var linVizDir = flag.String("lin-viz", "", "directory to keep porcupine visualizations of the linearizability tests (default: the test's temp dir, removed with it)")

// linNode is the node template for the linearizability tests: fast ticks,
// and a short request timeout so that a request stuck on a partitioned or
// killed node resolves (as unknown) within the run.
func linNode(engine string) cluster.NodeOptions {
	o := fastNode(engine)
	o.RequestTimeout = time.Second
	return o
}

// withUnsafeLocalReads turns on the test-only broken read path (see
// NodeOptions.unsafeLocalLinearizableReads).
func withUnsafeLocalReads(o cluster.NodeOptions) cluster.NodeOptions {
	cluster.SetUnsafeLocalLinearizableReads(&o)
	return o
}

// checkHistory runs porcupine over h and returns the result; the
// visualization goes to -lin-viz or the test's temp dir.
func checkHistory(t *testing.T, h *history) porcupine.CheckResult {
	t.Helper()
	ops := h.Operations()
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, 60*time.Second)
	t.Logf("porcupine: %s over %s", res, h.Summary())
	if res != porcupine.Ok || *linVizDir != "" {
		dir := *linVizDir
		if dir == "" {
			dir = t.TempDir()
		}
		name := strings.NewReplacer("/", "_", "=", "-").Replace(t.Name()) + ".html"
		path := filepath.Join(dir, name)
		if err := porcupine.VisualizePath(kvModel, info, path); err != nil {
			t.Logf("visualization: %v", err)
		} else {
			t.Logf("visualization: %s", path)
		}
	}
	return res
}

// TestLinearizability: concurrent clients (leader-bound and random-endpoint,
// so reads also go through followers' ReadIndex) put, get, delete and CAS a
// few keys of a 3-node cluster while a nemesis kills and restarts the
// leader, partitions the leader or a follower away, and heals; porcupine
// must find the history linearizable.
func TestLinearizability(t *testing.T) {
	engines := []string{"bbolt", "pebble"}
	dur := 20 * time.Second
	if testing.Short() {
		engines, dur = []string{"bbolt"}, 3*time.Second
	}
	for _, eng := range engines {
		t.Run("engine="+eng, func(t *testing.T) {
			h := runLinearizability(t, linNode(eng), dur)
			if res := checkHistory(t, h); res != porcupine.Ok {
				t.Fatalf("porcupine: history is %s, want Ok", res)
			}
		})
	}
}

// runLinearizability runs the random workload and the nemesis for dur on a
// 3-node cluster of o and returns the history.
func runLinearizability(t *testing.T, o cluster.NodeOptions, dur time.Duration) *history {
	seed := testSeed(t)
	c := startCluster(t, 3, o, nil)
	waitLeader(t, c)

	const clients, keys = 6, 3
	h := newHistory()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		policy := harness.PolicyLeader
		if i%2 == 1 {
			policy = harness.PolicyRandom
		}
		r := &recorder{h: h, kv: c.Client(harness.ClientOptions{Policy: policy, Seed: seed + uint64(i)}), client: i, name: policy.String()}
		rng := rand.New(rand.NewPCG(seed, uint64(i)+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			runWorkload(r, rng, keys, stop)
		}()
	}

	nem := rand.New(rand.NewPCG(seed, 0))
	actions := runNemesis(t, c, nem, dur)
	close(stop)
	wg.Wait()
	t.Logf("nemesis: %s", actions)

	st := h.Stats()
	reads, writes := st.Reads, st.Writes
	// A run where the faults left nothing to check proves nothing.
	if reads < 20 || writes < 20 {
		t.Fatalf("only %d reads and %d writes acknowledged: too few to check", reads, writes)
	}
	return h
}

// runWorkload issues random single-key operations until stop closes. Every
// written value is unique (client number and sequence).
func runWorkload(r *recorder, rng *rand.Rand, keys int, stop <-chan struct{}) {
	last := make(map[string]string) // the value this client last saw per key, for CAS
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		k := fmt.Sprintf("key%d", rng.IntN(keys))
		v := fmt.Sprintf("c%d.%d", r.client, seq)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		switch p := rng.IntN(100); {
		case p < 50:
			if got, err := r.Get(ctx, k); err == nil {
				last[k] = got
			}
		case p < 80:
			_ = r.Put(ctx, k, v)
		case p < 90:
			_ = r.Delete(ctx, k)
		default:
			_, _ = r.CAS(ctx, k, last[k], v)
		}
		cancel()
	}
}

// nemesisLog counts the faults a run injected.
type nemesisLog struct{ kills, leaderPartitions, followerPartitions, quiet int }

func (l nemesisLog) String() string {
	return fmt.Sprintf("%d leader kills, %d leader partitions, %d follower partitions, %d quiet periods",
		l.kills, l.leaderPartitions, l.followerPartitions, l.quiet)
}

// runNemesis injects faults for dur: kill the leader and restart it,
// partition the leader (or a follower) away from the others and heal, or
// stay quiet. The cluster is healed and whole when it returns.
func runNemesis(t *testing.T, c *harness.Cluster, rng *rand.Rand, dur time.Duration) nemesisLog {
	t.Helper()
	var log nemesisLog
	pause := func(lo, hi int) { <-time.After(time.Duration(lo+rng.IntN(hi-lo)) * time.Millisecond) }
	others := func(id uint64) []uint64 {
		var o []uint64
		for i := uint64(1); i <= 3; i++ {
			if i != id {
				o = append(o, i)
			}
		}
		return o
	}
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) {
		pause(100, 300)
		l := c.Leader()
		switch a := rng.IntN(4); {
		case a == 0 && l != 0:
			if err := c.Kill(l); err != nil {
				t.Fatalf("kill %d: %v", l, err)
			}
			log.kills++
			pause(100, 500)
			if err := c.Restart(l); err != nil {
				t.Fatalf("restart %d: %v", l, err)
			}
		case a == 1 && l != 0:
			c.Partition([]uint64{l}, others(l))
			log.leaderPartitions++
			pause(200, 800)
			c.Heal()
		case a == 2:
			f := uint64(1 + rng.IntN(3))
			if f == l {
				f = f%3 + 1
			}
			c.Partition([]uint64{f}, others(f))
			log.followerPartitions++
			pause(200, 800)
			c.Heal()
		default:
			log.quiet++
		}
	}
	c.Heal()
	return log
}

// TestLinearizabilityBrokenReadsCaught shows the checker is not vacuous:
// with the test-only hook that serves linearizable reads from the local
// store, a leader partitioned away from the majority answers reads with a
// value the majority has since overwritten, and porcupine must reject the
// history. The same scenario without the hook must be linearizable: the
// real read path refuses (no leader, timeout) instead of answering stale.
func TestLinearizabilityBrokenReadsCaught(t *testing.T) {
	for _, broken := range []bool{true, false} {
		t.Run(fmt.Sprintf("unsafe-local-reads=%v", broken), func(t *testing.T) {
			o := linNode("bbolt")
			want := porcupine.Ok
			if broken {
				o = withUnsafeLocalReads(o)
				want = porcupine.Illegal
			}
			h, servedOld := runStaleReadScenario(t, o)
			if broken && servedOld == 0 {
				t.Fatalf("the partitioned old leader served no read: the scenario did not exercise the broken path")
			}
			if res := checkHistory(t, h); res != want {
				t.Fatalf("porcupine: history is %s, want %s", res, want)
			}
		})
	}
	// The random workload of TestLinearizability with the hook on: reads
	// served by a partitioned old leader or by a follower that has not yet
	// applied an acknowledged write must make porcupine reject it too.
	t.Run("workload/unsafe-local-reads=true", func(t *testing.T) {
		h := runLinearizability(t, withUnsafeLocalReads(linNode("bbolt")), 3*time.Second)
		if res := checkHistory(t, h); res != porcupine.Illegal {
			t.Fatalf("porcupine: history is %s, want %s", res, porcupine.Illegal)
		}
	})
}

// runStaleReadScenario: write through the leader and read on it; partition
// it away; once the majority elected a new leader, write new values through
// the majority and read each on the old leader (and on the majority). It
// returns the history and how many reads the old leader answered.
func runStaleReadScenario(t *testing.T, o cluster.NodeOptions) (*history, int) {
	t.Helper()
	c := startCluster(t, 3, o, nil)
	old := waitLeader(t, c)
	var majority []uint64
	for i := uint64(1); i <= 3; i++ {
		if i != old {
			majority = append(majority, i)
		}
	}
	h := newHistory()
	oldNode := &recorder{h: h, kv: c.Node(old), client: 0, name: fmt.Sprintf("node %d (old leader)", old)}
	maj := &recorder{h: h, kv: c.Client(harness.ClientOptions{Policy: harness.PolicyLeader, Endpoints: majority}), client: 1, name: "majority client"}
	majRead := &recorder{h: h, kv: c.Client(harness.ClientOptions{Policy: harness.PolicyRoundRobin, Endpoints: majority}), client: 2, name: "majority reader"}

	ctx := ctxT(t)
	if err := oldNode.Put(ctx, "x", "v0"); err != nil {
		t.Fatalf("put v0: %v", err)
	}
	if v, err := oldNode.Get(ctx, "x"); err != nil || v != "v0" {
		t.Fatalf("read on the leader before the partition: %q, %v", v, err)
	}

	c.Partition([]uint64{old}, majority)
	waitFor(t, "a new leader in the majority", 20*time.Second, func() bool {
		for _, id := range majority {
			if n := c.Node(id); n != nil && n.IsLeader() && n.Term() > c.Node(old).Term() {
				return true
			}
		}
		return false
	})

	served := 0
	for i := 1; i <= 3; i++ {
		v := fmt.Sprintf("v%d", i)
		if err := maj.Put(ctx, "x", v); err != nil {
			t.Fatalf("put %s through the majority: %v", v, err)
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		got, err := oldNode.Get(rctx, "x")
		cancel()
		if err == nil {
			served++
			t.Logf("old leader %d answered get(x) = %q after put(x, %q) was acknowledged", old, got, v)
		} else {
			t.Logf("old leader %d refused get(x): %v", old, err)
		}
		if _, err := majRead.Get(ctx, "x"); err != nil {
			t.Logf("majority read: %v", err)
		}
	}
	c.Heal()
	return h, served
}

// TestLinearizabilityModel checks the model on hand-made histories, so a
// lenient model cannot pass the cluster tests by accepting everything.
func TestLinearizabilityModel(t *testing.T) {
	get := func(c int, k, v string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: lincheck.Input{Kind: lincheck.Get, Key: k}, Output: lincheck.Output{Value: v}, Call: call, Return: ret}
	}
	put := func(c int, k, v string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: lincheck.Input{Kind: lincheck.Put, Key: k, Value: v}, Output: lincheck.Output{}, Call: call, Return: ret}
	}
	unknownPut := func(c int, k, v string, call int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: lincheck.Input{Kind: lincheck.Put, Key: k, Value: v}, Output: lincheck.Output{Unknown: true}, Call: call, Return: math.MaxInt64}
	}
	cas := func(c int, k, exp, v string, ok bool, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: lincheck.Input{Kind: lincheck.CAS, Key: k, Expect: exp, Value: v}, Output: lincheck.Output{OK: ok}, Call: call, Return: ret}
	}
	del := func(c int, k string, n int64, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: lincheck.Input{Kind: lincheck.Delete, Key: k}, Output: lincheck.Output{Deleted: n}, Call: call, Return: ret}
	}
	for _, tc := range []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"read-own-write", []porcupine.Operation{put(0, "a", "1", 1, 2), get(0, "a", "1", 3, 4)}, porcupine.Ok},
		{"stale-read", []porcupine.Operation{put(0, "a", "1", 1, 2), put(0, "a", "2", 3, 4), get(1, "a", "1", 5, 6)}, porcupine.Illegal},
		{"concurrent-read-either", []porcupine.Operation{put(0, "a", "1", 1, 2), put(0, "a", "2", 3, 6), get(1, "a", "1", 4, 5)}, porcupine.Ok},
		{"read-from-nowhere", []porcupine.Operation{get(0, "a", "9", 1, 2)}, porcupine.Illegal},
		{"absent-initially", []porcupine.Operation{get(0, "a", "", 1, 2), put(0, "a", "1", 3, 4)}, porcupine.Ok},
		{"keys-independent", []porcupine.Operation{put(0, "a", "1", 1, 2), get(1, "b", "", 3, 4)}, porcupine.Ok},
		{"unknown-put-may-apply", []porcupine.Operation{unknownPut(0, "a", "1", 1), get(1, "a", "1", 5, 6)}, porcupine.Ok},
		{"unknown-put-may-not-apply", []porcupine.Operation{unknownPut(0, "a", "1", 1), get(1, "a", "", 5, 6)}, porcupine.Ok},
		{"unknown-put-not-before-call", []porcupine.Operation{get(1, "a", "1", 1, 2), unknownPut(0, "a", "1", 3)}, porcupine.Illegal},
		{"non-monotonic-reads", []porcupine.Operation{unknownPut(0, "a", "1", 1), get(1, "a", "1", 2, 3), get(1, "a", "", 4, 5)}, porcupine.Illegal},
		{"cas-ok", []porcupine.Operation{put(0, "a", "1", 1, 2), cas(1, "a", "1", "2", true, 3, 4), get(0, "a", "2", 5, 6)}, porcupine.Ok},
		{"cas-wrongly-ok", []porcupine.Operation{put(0, "a", "1", 1, 2), cas(1, "a", "0", "2", true, 3, 4)}, porcupine.Illegal},
		{"cas-wrongly-failed", []porcupine.Operation{put(0, "a", "1", 1, 2), cas(1, "a", "1", "2", false, 3, 4)}, porcupine.Illegal},
		{"cas-absent", []porcupine.Operation{cas(1, "a", "", "2", true, 1, 2), get(0, "a", "2", 3, 4)}, porcupine.Ok},
		{"delete", []porcupine.Operation{put(0, "a", "1", 1, 2), del(1, "a", 1, 3, 4), get(0, "a", "", 5, 6)}, porcupine.Ok},
		{"delete-count-wrong", []porcupine.Operation{del(1, "a", 1, 1, 2)}, porcupine.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := porcupine.CheckOperationsTimeout(kvModel, tc.ops, 10*time.Second); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestLinearizabilityHookTestOnly: the broken-read hook is set nowhere in
// the package's non-test code: it is only declared (options.go) and read
// (read.go).
func TestLinearizabilityHookTestOnly(t *testing.T) {
	const hook = "unsafeLocalLinearizableReads"
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	assign := regexp.MustCompile(hook + `\s*(:|=[^=])`)
	uses := map[string]int{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if c := strings.Index(line, "//"); c >= 0 {
				line = line[:c]
			}
			if !strings.Contains(line, hook) {
				continue
			}
			uses[name]++
			if assign.MatchString(line) {
				t.Errorf("%s:%d: %s is set in non-test code", name, i+1, hook)
			}
		}
	}
	if uses["options.go"] != 1 || uses["read.go"] != 1 || len(uses) != 2 {
		t.Errorf("%s appears in non-test files %v; want only its declaration in options.go and its check in read.go", hook, uses)
	}
}
