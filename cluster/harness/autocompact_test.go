package harness_test

import (
	"sync"
	"testing"
	"time"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
)

// TestAutoCompactionCluster runs a 3-node cluster with a 1s periodic
// retention: the leader alone requests compactions, every member compacts
// the same revision and emits one timed EventCompaction per compaction when
// its background part ends, with its figures; a defrag emits EventDefrag
// with the sizes before and after.
func TestAutoCompactionCluster(t *testing.T) {
	node := fastNode("bbolt")
	node.AutoCompactionRetention = "1s"
	var mu sync.Mutex
	var events []cluster.Event
	c := startCluster(t, 3, node, func(o *harness.Options) {
		o.OnEvent = func(e cluster.Event) {
			if e.Kind == cluster.EventCompaction || e.Kind == cluster.EventDefrag {
				mu.Lock()
				events = append(events, e)
				mu.Unlock()
			}
		}
	})
	leader := waitLeader(t, c)
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
	ctx := ctxT(t)
	for i := range 200 {
		if _, err := cl.Put(ctx, put(key(i%20), "v")); err != nil {
			t.Fatal(err)
		}
	}
	compactions := func() map[uint64]cluster.Event {
		mu.Lock()
		defer mu.Unlock()
		out := map[uint64]cluster.Event{}
		for _, e := range events {
			if e.Kind == cluster.EventCompaction && e.Values["revision"] > 1 {
				out[e.Node] = e // the first compacts revision 1, sampled at start
			}
		}
		return out
	}
	waitFor(t, "a compaction past the puts on every node", 20*time.Second, func() bool { return len(compactions()) == 3 })
	for id, e := range compactions() {
		if e.Values["finished"] != 1 || e.Values["batches"] < 1 || e.Values["keys_deleted"] < 1 || e.Duration <= 0 {
			t.Errorf("node %x: compaction event %v %v", id, e, e.Values)
		}
		if e.Values["keys_deleted"] > 0 && e.Values["keys_scanned"] < e.Values["keys_deleted"] {
			t.Errorf("node %x: scanned %v < deleted %v", id, e.Values["keys_scanned"], e.Values["keys_deleted"])
		}
	}
	for _, n := range c.Nodes() {
		// etcd's compaction figures, under its names.
		fams, err := n.Metrics().GatherServer()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, f := range fams {
			for _, m := range f.GetMetric() {
				got[f.GetName()] += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount()) + m.GetGauge().GetValue()
			}
		}
		for _, name := range []string{"etcd_debugging_mvcc_db_compaction_keys_total", "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds",
			"etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds", "etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds",
			"etcd_debugging_mvcc_db_compaction_last"} {
			if got[name] <= 0 {
				t.Errorf("node %x: %s = %v", n.ID(), name, got[name])
			}
		}
		done, failed := n.AutoCompactions()
		if n.ID() != leader && c.Leader() == leader && done+failed != 0 {
			t.Errorf("follower %x requested %d compactions", n.ID(), done+failed)
		}
		if n.ID() == leader && c.Leader() == leader && done == 0 {
			t.Errorf("leader %x requested none", n.ID())
		}
	}
	if err := c.Defrag(leader); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var d *cluster.Event
	for i := range events {
		if events[i].Kind == cluster.EventDefrag {
			d = &events[i]
		}
	}
	if d == nil || d.Node != leader || d.Duration <= 0 || d.Values["db_size_before_bytes"] <= 0 || d.Values["db_disk_size_after_bytes"] <= 0 {
		t.Fatalf("defrag event %v", d)
	}
}
