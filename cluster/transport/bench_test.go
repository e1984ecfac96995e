package transport

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// countHandler counts deliveries and wakes a waiting sender every 64.
type countHandler struct {
	n        atomic.Int64
	progress chan struct{}
}

func newCountHandler() *countHandler { return &countHandler{progress: make(chan struct{}, 1)} }

func (h *countHandler) Process(context.Context, raftpb.Message) error {
	if h.n.Add(1)%64 == 0 {
		select {
		case h.progress <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h *countHandler) ProcessSnapshot(_ context.Context, _ raftpb.Message, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (h *countHandler) ReportUnreachable(uint64)                   {}
func (h *countHandler) ReportSnapshot(uint64, raft.SnapshotStatus) {}

// waitFor blocks until the handler has seen at least n messages.
func (h *countHandler) waitFor(b *testing.B, n int64) {
	deadline := time.After(time.Minute)
	for h.n.Load() < n {
		select {
		case <-h.progress:
		case <-time.After(time.Millisecond): // the tail may not reach a multiple of 64
		case <-deadline:
			b.Fatalf("delivered %d of %d", h.n.Load(), n)
		}
	}
}

// pump sends total messages in batches of batch, keeping at most window
// undelivered so the bounded queues never drop (a drop would make the
// figure a measure of loss, not of throughput).
func pump(b *testing.B, tr Transport, h *countHandler, total, batch int, payload []byte) {
	const window = 2048
	msgs := make([]raftpb.Message, batch)
	for sent := 0; sent < total; {
		k := min(batch, total-sent)
		for i := 0; i < k; i++ {
			msgs[i] = msgApp(1, 2, uint64(sent+i), payload)
		}
		tr.Send(msgs[:k])
		sent += k
		if int64(sent)-h.n.Load() > window {
			h.waitFor(b, int64(sent-window/2))
		}
	}
	h.waitFor(b, int64(total))
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkInProcess(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("msgs=%d", batch), func(b *testing.B) {
			n, err := NewNetwork(NetworkOptions{Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			h := newCountHandler()
			t1 := n.Join(1, newCountHandler())
			t2 := n.Join(2, h)
			defer t1.Close()
			defer t2.Close()
			payload := make([]byte, 256)
			b.ResetTimer()
			pump(b, t1, h, b.N, batch, payload)
			b.StopTimer()
			reportRate(b)
			if st := t1.Stats(); st.MsgsDropped != 0 {
				b.Fatalf("dropped %d", st.MsgsDropped)
			}
		})
	}
}

func BenchmarkTCP(b *testing.B) {
	for _, size := range []int{256} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			h := newCountHandler()
			t2, err := NewTCP(TCPOptions{ID: 2, ListenAddr: "127.0.0.1:0", Handler: h})
			if err != nil {
				b.Fatal(err)
			}
			defer t2.Close()
			t1, err := NewTCP(TCPOptions{ID: 1, ListenAddr: "127.0.0.1:0", Handler: newCountHandler(),
				Peers: map[uint64]string{2: t2.Addr()}})
			if err != nil {
				b.Fatal(err)
			}
			defer t1.Close()
			payload := make([]byte, size)
			// Warm up: the first message dials.
			t1.Send([]raftpb.Message{msgApp(1, 2, 0, payload)})
			h.waitFor(b, 1)
			h.n.Store(0)
			b.SetBytes(int64(size))
			b.ResetTimer()
			pump(b, t1, h, b.N, 16, payload)
			b.StopTimer()
			reportRate(b)
			if st := t1.Stats(); st.MsgsDropped != 0 {
				b.Fatalf("dropped %d", st.MsgsDropped)
			}
		})
	}
}
