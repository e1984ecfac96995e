package transport

import (
	"context"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/internal/testseed"
)

// testSeed: the shared -seed flag (internal/testseed).
func testSeed(t testing.TB) uint64 { t.Helper(); return testseed.Seed(t) }

func newRNG(seed uint64) *rand.Rand { return testseed.RNG(seed) }

type snapResult struct {
	id     uint64
	status raft.SnapshotStatus
}

// recHandler records everything a transport hands to a node. Channels are
// large so a handler never blocks a delivery goroutine in tests.
type recHandler struct {
	msgs    chan raftpb.Message
	unreach chan uint64
	reports chan snapResult
	images  chan []byte

	mu      sync.Mutex
	snapErr error // returned by ProcessSnapshot after reading the image
}

func newRecHandler() *recHandler {
	return &recHandler{
		msgs:    make(chan raftpb.Message, 1<<16),
		unreach: make(chan uint64, 1<<16),
		reports: make(chan snapResult, 64),
		images:  make(chan []byte, 64),
	}
}

func (h *recHandler) Process(_ context.Context, m raftpb.Message) error {
	h.msgs <- m
	return nil
}

func (h *recHandler) ProcessSnapshot(_ context.Context, m raftpb.Message, image io.Reader) error {
	b, err := io.ReadAll(image)
	if err != nil {
		return err
	}
	h.mu.Lock()
	serr := h.snapErr
	h.mu.Unlock()
	if serr != nil {
		return serr
	}
	h.images <- b
	h.msgs <- m
	return nil
}

func (h *recHandler) ReportUnreachable(id uint64) { h.unreach <- id }

func (h *recHandler) ReportSnapshot(id uint64, status raft.SnapshotStatus) {
	h.reports <- snapResult{id, status}
}

const waitLimit = 10 * time.Second

func recvMsg(t testing.TB, h *recHandler) raftpb.Message {
	t.Helper()
	select {
	case m := <-h.msgs:
		return m
	case <-time.After(waitLimit):
		t.Fatal("no message within the wait limit")
		return raftpb.Message{}
	}
}

// expectNoMsg waits a little real time and fails if a message arrives: it
// can pass by luck only if a delivery is slower than the grace period.
func expectNoMsg(t testing.TB, h *recHandler, grace time.Duration) {
	t.Helper()
	select {
	case m := <-h.msgs:
		t.Fatalf("unexpected message %v", m)
	case <-time.After(grace):
	}
}

func recvReport(t testing.TB, h *recHandler) snapResult {
	t.Helper()
	select {
	case r := <-h.reports:
		return r
	case <-time.After(waitLimit):
		t.Fatal("no snapshot report within the wait limit")
		return snapResult{}
	}
}

func recvUnreachable(t testing.TB, h *recHandler) uint64 {
	t.Helper()
	select {
	case id := <-h.unreach:
		return id
	case <-time.After(waitLimit):
		t.Fatal("no unreachable report within the wait limit")
		return 0
	}
}

// checkNoLeak fails if the goroutine count does not return to base within
// a bounded wait (goroutines of finished tests may still be exiting).
func checkNoLeak(t testing.TB, base int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for runtime.NumGoroutine() > base {
		select {
		case <-deadline:
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: %d > %d before\n%s", runtime.NumGoroutine(), base, buf[:n])
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func msgApp(from, to, index uint64, payload []byte) raftpb.Message {
	m := raftpb.Message{Type: raftpb.MsgApp, From: from, To: to, Term: 1, Index: index}
	if payload != nil {
		m.Entries = []raftpb.Entry{{Term: 1, Index: index + 1, Data: payload}}
	}
	return m
}

type bytesReadCloser struct {
	io.Reader
	closed chan struct{}
}

func (b *bytesReadCloser) Close() error {
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	return nil
}
