package cluster_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
	"etcdlab/cluster/transport"
	"etcdlab/internal/clock"
)

// orderCheck wraps a node's transport and checks, for every MsgAppResp a
// follower sends, that the entries it acknowledges are already durable: the
// node appends to MemoryStorage only after wal.Save returned, so its last
// index bounds what the WAL holds (pitfall 1: acknowledging before fsync).
type orderCheck struct {
	transport.Transport
	c      *harness.Cluster
	id     uint64
	acks   *atomic.Int64
	failMu *sync.Mutex
	fails  *[]string
}

func (o *orderCheck) Send(msgs []raftpb.Message) {
	n := o.c.Node(o.id)
	for _, m := range msgs {
		if m.Type != raftpb.MsgAppResp || m.Reject || n == nil {
			continue
		}
		o.acks.Add(1)
		if last := n.RaftLogStats().LastIndex; last < m.Index {
			o.failMu.Lock()
			*o.fails = append(*o.fails, "ack before durable")
			o.failMu.Unlock()
		}
	}
	o.Transport.Send(msgs)
}

func TestFollowerAcksAfterWALSave(t *testing.T) {
	var acks atomic.Int64
	var mu sync.Mutex
	var fails []string
	var c *harness.Cluster
	var cmu sync.Mutex
	c = startCluster(t, 3, fastNode("memory"), func(o *harness.Options) {
		o.WrapTransport = func(id uint64, tr transport.Transport) transport.Transport {
			cmu.Lock()
			defer cmu.Unlock()
			return &orderCheck{Transport: tr, c: nil, id: id, acks: &acks, failMu: &mu, fails: &fails}
		}
	})
	// The wrappers were built before Start returned: point them at c.
	for _, n := range c.Nodes() {
		n.Transport().(*orderCheck).c = c
	}
	waitLeader(t, c)
	ctx := ctxT(t)
	for i := 0; i < 200; i++ {
		if _, err := c.Nodes()[i%3].Put(ctx, put(key(i), "v")); err != nil {
			t.Fatal(err)
		}
	}
	if acks.Load() == 0 {
		t.Fatalf("no MsgAppResp observed")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(fails) > 0 {
		t.Fatalf("%d acknowledgements before the WAL save (of %d)", len(fails), acks.Load())
	}
}

// TestElectionFakeClock drives raft by a fake clock: no leader before the
// election timeout, one within two, and after the leader is isolated the
// others elect a new one while the old one steps down (CheckQuorum). The
// initial tick advance is off so that raft's own timeout is what counts
// (TestInitialElectionTickAdvance covers it).
func TestElectionFakeClock(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	node := cluster.NodeOptions{Engine: "memory", TickInterval: 100 * time.Millisecond, NoInitialElectionTickAdvance: true}
	c := startCluster(t, 3, node, func(o *harness.Options) { o.Clock = clk })
	tick := func(k int) {
		for i := 0; i < k; i++ {
			clk.Advance(100 * time.Millisecond)
			// Let the loops consume the tick before the next one: a tick
			// nobody reads is dropped, as with time.Ticker.
			settle(c)
		}
	}
	tick(cluster.DefaultElectionTicks - 1)
	if l := c.Leader(); l != 0 {
		t.Fatalf("leader %d before the election timeout", l)
	}
	deadline := 4 * cluster.DefaultElectionTicks
	ticks := cluster.DefaultElectionTicks - 1
	for c.Leader() == 0 && ticks < deadline {
		tick(1)
		ticks++
	}
	old := c.Leader()
	if old == 0 {
		t.Fatalf("no leader after %d ticks", ticks)
	}
	t.Logf("leader %d after %d ticks", old, ticks)
	c.Network().Isolate(old)
	for i := 0; i < 6*cluster.DefaultElectionTicks; i++ {
		tick(1)
		if nl := c.Leader(); nl != 0 && nl != old && !c.Node(old).IsLeader() {
			t.Logf("new leader %d, old one stepped down, after %d more ticks", nl, i+1)
			return
		}
	}
	t.Fatalf("no new leader after isolating %d (leader now %d, old leads: %v)", old, c.Leader(), c.Node(old).IsLeader())
}

// settle waits until no node has raft work pending (bounded), so that a
// fake-clock test advances time only once the cluster is quiet.
func settle(c *harness.Cluster) { settleExcept(c, 0) }
