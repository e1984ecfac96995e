package harness_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
)

// BenchmarkPut measures put throughput and latency through the whole
// pipeline (proposal, raft, WAL fsync, apply) with etcd's benchmark shape:
// 8-byte keys, 256-byte values, N concurrent clients sending to the leader.
// Metrics: puts/s, p50-ns, p99-ns, and puts per WAL fsync on the leader.
func BenchmarkPut(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		for _, engine := range []string{"bbolt", "pebble"} {
			for _, clients := range []int{1, 1000} {
				name := fmt.Sprintf("nodes=%d/engine=%s/op=put/clients=%d", nodes, engine, clients)
				b.Run(name, func(b *testing.B) { benchPut(b, nodes, engine, clients, 256) })
			}
		}
	}
}

// BenchmarkPutValue1K has the bench preload's shape (1 KiB values, 128
// concurrent writers) on 1 and 3 nodes. On one machine the 3-node figure
// pays for three WALs' fsyncs and three backends; msgs/put (about 8: a
// MsgApp and a MsgAppResp per follower for the entry, and again for the
// commit index) and drops (0) show replication stays pipelined.
// TestReplicationStaysPipelined checks the same without timing.
func BenchmarkPutValue1K(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		name := fmt.Sprintf("nodes=%d/engine=bbolt/op=put/value=1024/clients=128", nodes)
		b.Run(name, func(b *testing.B) { benchPut(b, nodes, "bbolt", 128, 1024) })
	}
}

func benchCluster(b *testing.B, nodes int, engine string) (*harness.Cluster, *cluster.Node) {
	b.Helper()
	c, err := harness.Start(harness.Options{Nodes: nodes, Dir: b.TempDir(), Node: cluster.NodeOptions{Engine: engine}, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for c.Leader() == 0 {
		if time.Now().After(deadline) {
			b.Fatal("no leader")
		}
		<-time.After(10 * time.Millisecond)
	}
	l := c.Node(c.Leader())
	// Wait for the leader's first commit in its term.
	ctx := context.Background()
	if _, err := l.Put(ctx, &pb.PutRequest{Key: []byte("warmup"), Value: []byte("x")}); err != nil {
		b.Fatal(err)
	}
	return c, l
}

func benchKey(i uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, i%100000)
	return k
}

func benchPut(b *testing.B, nodes int, engine string, clients, valueSize int) {
	c, l := benchCluster(b, nodes, engine)
	value := make([]byte, valueSize)
	ctx := context.Background()
	var next atomic.Int64
	hists := make([]*hdrhistogram.Histogram, clients)
	var failed atomic.Int64
	syncs0 := l.WALStats().Syncs
	net0 := c.Network().Stats()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		hists[c] = newHist()
		wg.Add(1)
		go func(h *hdrhistogram.Histogram) {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := l.Put(ctx, &pb.PutRequest{Key: benchKey(uint64(i)), Value: value}); err != nil {
					failed.Add(1)
					continue
				}
				_ = h.RecordValue(time.Since(t0).Nanoseconds())
			}
		}(hists[c])
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d puts failed", f)
	}
	reportLatency(b, hists, elapsed)
	if syncs := l.WALStats().Syncs - syncs0; syncs > 0 {
		b.ReportMetric(float64(b.N)/float64(syncs), "puts/fsync")
	}
	if nodes > 1 {
		net1 := c.Network().Stats()
		b.ReportMetric(float64(net1.Queued-net0.Queued)/float64(b.N), "msgs/put")
		drops := net1.DroppedQueueFull - net0.DroppedQueueFull + net1.DroppedNoPeer - net0.DroppedNoPeer
		b.ReportMetric(float64(drops), "drops")
	}
}

func reportLatency(b *testing.B, hists []*hdrhistogram.Histogram, elapsed time.Duration) {
	all := newHist()
	for _, h := range hists {
		all.Merge(h)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(all.ValueAtQuantile(50)), "p50-ns")
	b.ReportMetric(float64(all.ValueAtQuantile(99)), "p99-ns")
}

// BenchmarkGet measures reads of one key by concurrent clients, linearizable
// (ReadIndex) or serializable (local).
func BenchmarkGet(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		for _, cons := range []string{"l", "s"} {
			for _, clients := range []int{1, 100} {
				name := fmt.Sprintf("nodes=%d/engine=bbolt/op=get/consistency=%s/clients=%d", nodes, cons, clients)
				b.Run(name, func(b *testing.B) { benchGet(b, nodes, cons == "s", clients) })
			}
		}
	}
}

func benchGet(b *testing.B, nodes int, serializable bool, clients int) {
	_, l := benchCluster(b, nodes, "bbolt")
	ctx := context.Background()
	k := benchKey(7)
	if _, err := l.Put(ctx, &pb.PutRequest{Key: k, Value: make([]byte, 256)}); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var failed atomic.Int64
	hists := make([]*hdrhistogram.Histogram, clients)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		hists[c] = newHist()
		wg.Add(1)
		go func(h *hdrhistogram.Histogram) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if _, err := l.Range(ctx, &pb.RangeRequest{Key: k, Serializable: serializable}); err != nil {
					failed.Add(1)
					continue
				}
				_ = h.RecordValue(time.Since(t0).Nanoseconds())
			}
		}(hists[c])
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d gets failed", f)
	}
	reportLatency(b, hists, elapsed)
}

// newHist records nanoseconds from 1ns to 60s with 3 significant digits.
func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, int64(60*time.Second), 3) }
