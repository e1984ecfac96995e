package transport

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"etcdlab/internal/clock"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

func newTestNetwork(t *testing.T, opts NetworkOptions) *Network {
	t.Helper()
	n, err := NewNetwork(opts)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		n    int // number of problems reported
	}{
		{"queue", (&NetworkOptions{QueueSize: -1}).Validate(), 1},
		{"link-ok", LinkConfig{Delay: time.Millisecond, Jitter: time.Millisecond, Loss: 0.5}.Validate(), 0},
		{"link-all-bad", LinkConfig{Delay: -1, Jitter: -1, Loss: math.NaN()}.Validate(), 3},
		{"loss>1", LinkConfig{Loss: 1.5}.Validate(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.n == 0 {
				if tc.err != nil {
					t.Fatalf("unexpected error %v", tc.err)
				}
				return
			}
			if !errors.Is(tc.err, ErrBadOption) {
				t.Fatalf("error %v is not ErrBadOption", tc.err)
			}
			if got := len(tc.err.(interface{ Unwrap() []error }).Unwrap()); got != tc.n {
				t.Fatalf("%d problems reported, want %d: %v", got, tc.n, tc.err)
			}
		})
	}
	if _, err := NewNetwork(NetworkOptions{QueueSize: -3}); !errors.Is(err, ErrBadOption) {
		t.Fatalf("NewNetwork with a bad option: %v", err)
	}
}

func TestNetworkDeliveryOrder(t *testing.T) {
	base := runtime.NumGoroutine()
	const count = 5000
	// The queue holds everything: this test is about order, not overflow.
	n := newTestNetwork(t, NetworkOptions{Seed: testSeed(t), QueueSize: count})
	h1, h2 := newRecHandler(), newRecHandler()
	t1, t2 := n.Join(1, h1), n.Join(2, h2)
	var batch []raftpb.Message
	for i := uint64(0); i < count; i++ {
		batch = append(batch, msgApp(1, 2, i, []byte{byte(i)}))
		if len(batch) == 7 || i == count-1 {
			t1.Send(batch)
			// The transport owns a copy: clobbering the caller's slice
			// and its Entries headers must not change what is delivered.
			for j := range batch {
				batch[j].Entries[0].Index = 0
				batch[j].Index = 1 << 60
			}
			batch = batch[:0]
		}
	}
	for i := uint64(0); i < count; i++ {
		m := recvMsg(t, h2)
		if m.Index != i || m.Entries[0].Index != i+1 || m.Entries[0].Data[0] != byte(i) {
			t.Fatalf("message %d arrived as index %d entry %v", i, m.Index, m.Entries[0])
		}
	}
	st := t1.Stats()
	if st.MsgsSent != count || st.MsgsDropped != 0 || t2.Stats().MsgsReceived != count {
		t.Fatalf("stats: sender %+v receiver %+v", st, t2.Stats())
	}
	if st.BytesSent == 0 || st.BytesSent != t2.Stats().BytesReceived {
		t.Fatalf("bytes sent %d received %d", st.BytesSent, t2.Stats().BytesReceived)
	}
	t1.Close()
	t2.Close()
	checkNoLeak(t, base)
}

func TestNetworkDelayFakeClock(t *testing.T) {
	fc := clock.NewFake(time.Unix(1000, 0))
	n := newTestNetwork(t, NetworkOptions{Seed: testSeed(t), Clock: fc})
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := n.Join(1, h1)
	defer t1.Close()
	defer n.Join(2, h2).Close()
	if err := n.SetLink(1, 2, LinkConfig{Delay: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	t1.Send([]raftpb.Message{msgApp(1, 2, 1, nil)})
	expectNoMsg(t, h2, 20*time.Millisecond)
	fc.Advance(9 * time.Millisecond)
	t1.Send([]raftpb.Message{msgApp(1, 2, 2, nil)}) // due at 19ms
	expectNoMsg(t, h2, 20*time.Millisecond)
	fc.Advance(time.Millisecond)
	if m := recvMsg(t, h2); m.Index != 1 {
		t.Fatalf("got index %d, want 1", m.Index)
	}
	expectNoMsg(t, h2, 20*time.Millisecond)
	fc.Advance(9 * time.Millisecond)
	if m := recvMsg(t, h2); m.Index != 2 {
		t.Fatalf("got index %d, want 2", m.Index)
	}
	// Back to no delay: delivery needs no clock movement at all.
	if err := n.SetAllLinks(LinkConfig{}); err != nil {
		t.Fatal(err)
	}
	t1.Send([]raftpb.Message{msgApp(1, 2, 3, nil)})
	if m := recvMsg(t, h2); m.Index != 3 {
		t.Fatalf("got index %d, want 3", m.Index)
	}
}

// lossRun sends count messages over a lossy link and returns the indexes
// that arrived, in arrival order.
func lossRun(t *testing.T, seed uint64, cfg LinkConfig, count int, fc *clock.Fake) []uint64 {
	opts := NetworkOptions{Seed: seed, QueueSize: count} // no overflow drops
	if fc != nil {
		opts.Clock = fc
	}
	n := newTestNetwork(t, opts)
	h2 := newRecHandler()
	t1 := n.Join(1, newRecHandler())
	t2 := n.Join(2, h2)
	defer t1.Close()
	defer t2.Close()
	if err := n.SetLink(1, 2, cfg); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < count; i++ {
		t1.Send([]raftpb.Message{msgApp(1, 2, uint64(i), nil)})
	}
	if fc != nil {
		fc.Advance(cfg.Delay + cfg.Jitter)
	}
	deadline := time.After(waitLimit)
	var got []uint64
	for {
		st := n.Stats()
		if st.Delivered+st.DroppedLoss == int64(count) && len(h2.msgs) == int(st.Delivered) {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("stats %+v after the wait limit", st)
		case <-time.After(time.Millisecond):
		}
	}
	for len(h2.msgs) > 0 {
		got = append(got, (<-h2.msgs).Index)
	}
	return got
}

func TestNetworkLossRate(t *testing.T) {
	seed := testSeed(t)
	const count, loss = 20000, 0.3
	a := lossRun(t, seed, LinkConfig{Loss: loss}, count, nil)
	rate := 1 - float64(len(a))/count
	// Binomial sd = sqrt(0.3*0.7/20000) = 0.0032; allow 6 sd.
	if math.Abs(rate-loss) > 0.02 {
		t.Fatalf("loss rate %.4f, want about %.2f", rate, loss)
	}
	if !slices.IsSorted(a) {
		t.Fatal("loss without jitter reordered messages")
	}
	if b := lossRun(t, seed, LinkConfig{Loss: loss}, count, nil); !slices.Equal(a, b) {
		t.Fatal("same seed, same messages, different losses")
	}
}

func TestNetworkJitterDeterministic(t *testing.T) {
	seed := testSeed(t)
	cfg := LinkConfig{Delay: time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.1}
	run := func() []uint64 {
		return lossRun(t, seed, cfg, 2000, clock.NewFake(time.Unix(0, 0)))
	}
	a := run()
	if slices.IsSorted(a) {
		t.Fatal("jitter of 5ms over 2000 messages at one instant did not reorder")
	}
	if b := run(); !slices.Equal(a, b) {
		t.Fatal("same seed, same messages, different delivery order")
	}
}

func TestNetworkPartitionIsolateHeal(t *testing.T) {
	n := newTestNetwork(t, NetworkOptions{Seed: testSeed(t)})
	h := map[uint64]*recHandler{1: newRecHandler(), 2: newRecHandler(), 3: newRecHandler()}
	tr := map[uint64]Transport{}
	for id, hh := range h {
		tr[id] = n.Join(id, hh)
		defer tr[id].Close()
	}
	send := func(from, to, idx uint64) { tr[from].Send([]raftpb.Message{msgApp(from, to, idx, nil)}) }

	n.Partition([]uint64{1, 2}, []uint64{3})
	send(1, 3, 10)
	send(3, 1, 11)
	if id := recvUnreachable(t, h[1]); id != 3 {
		t.Fatalf("node 1 told %d unreachable, want 3", id)
	}
	if id := recvUnreachable(t, h[3]); id != 1 {
		t.Fatalf("node 3 told %d unreachable, want 1", id)
	}
	send(1, 2, 12)
	if m := recvMsg(t, h[2]); m.Index != 12 {
		t.Fatalf("inside a group: got %d", m.Index)
	}
	expectNoMsg(t, h[3], 10*time.Millisecond)
	expectNoMsg(t, h[1], 10*time.Millisecond)

	n.Heal()
	send(1, 3, 13)
	if m := recvMsg(t, h[3]); m.Index != 13 {
		t.Fatalf("after heal: got %d", m.Index)
	}

	n.Isolate(2)
	send(1, 2, 14)
	send(2, 3, 15)
	send(1, 3, 16)
	if m := recvMsg(t, h[3]); m.Index != 16 {
		t.Fatalf("isolation of 2 affected 1->3: got %d", m.Index)
	}
	expectNoMsg(t, h[2], 10*time.Millisecond)
	expectNoMsg(t, h[3], 10*time.Millisecond)
	n.Heal()
	send(2, 1, 17)
	if m := recvMsg(t, h[1]); m.Index != 17 {
		t.Fatalf("after heal: got %d", m.Index)
	}
	if st := n.Stats(); st.DroppedPartition != 4 {
		t.Fatalf("partition drops %d, want 4 (%+v)", st.DroppedPartition, st)
	}
}

// A partition that starts while messages are in flight drops them at
// delivery time, like a cable cut under a delayed packet.
func TestNetworkPartitionInFlight(t *testing.T) {
	fc := clock.NewFake(time.Unix(0, 0))
	n := newTestNetwork(t, NetworkOptions{Seed: testSeed(t), Clock: fc})
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := n.Join(1, h1)
	defer t1.Close()
	defer n.Join(2, h2).Close()
	if err := n.SetAllLinks(LinkConfig{Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	t1.Send([]raftpb.Message{msgApp(1, 2, 1, nil)})
	n.Isolate(2)
	fc.Advance(time.Second)
	if id := recvUnreachable(t, h1); id != 2 {
		t.Fatalf("unreachable %d", id)
	}
	expectNoMsg(t, h2, 10*time.Millisecond)
}

func snapMsg(from, to uint64) raftpb.Message {
	return raftpb.Message{Type: raftpb.MsgSnap, From: from, To: to, Term: 3,
		Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 100, Term: 3}}}
}

func randImage(seed uint64, size int) []byte {
	rng := newRNG(seed)
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestNetworkSnapshot(t *testing.T) {
	seed := testSeed(t)
	n := newTestNetwork(t, NetworkOptions{Seed: seed})
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := n.Join(1, h1)
	t2 := n.Join(2, h2)
	defer t1.Close()
	defer t2.Close()
	img := randImage(seed, 1<<20)
	rc := &bytesReadCloser{Reader: bytes.NewReader(img), closed: make(chan struct{})}
	t1.SendSnapshot(snapMsg(1, 2), rc)
	var got []byte
	select {
	case got = <-h2.images:
	case <-time.After(waitLimit):
		t.Fatal("no image")
	}
	if !bytes.Equal(got, img) {
		t.Fatalf("image differs: %d bytes, want %d", len(got), len(img))
	}
	if m := recvMsg(t, h2); m.Type != raftpb.MsgSnap || m.Snapshot.Metadata.Index != 100 {
		t.Fatalf("snapshot message %v", m)
	}
	if r := recvReport(t, h1); r != (snapResult{2, raft.SnapshotFinish}) {
		t.Fatalf("report %+v", r)
	}
	<-rc.closed
	if t1.Stats().SnapshotsSent != 1 || t2.Stats().SnapshotsReceived != 1 {
		t.Fatalf("stats %+v / %+v", t1.Stats(), t2.Stats())
	}

	// A receiver that rejects the image makes the sender see a failure.
	h2.mu.Lock()
	h2.snapErr = errors.New("disk full")
	h2.mu.Unlock()
	t1.SendSnapshot(snapMsg(1, 2), &bytesReadCloser{Reader: bytes.NewReader(img), closed: make(chan struct{})})
	if r := recvReport(t, h1); r != (snapResult{2, raft.SnapshotFailure}) {
		t.Fatalf("report %+v", r)
	}

	// A MsgSnap through Send has no image: refused with a failure report.
	t1.Send([]raftpb.Message{snapMsg(1, 2)})
	if r := recvReport(t, h1); r != (snapResult{2, raft.SnapshotFailure}) {
		t.Fatalf("report %+v", r)
	}
}

func TestNetworkSnapshotAcrossPartition(t *testing.T) {
	seed := testSeed(t)
	n := newTestNetwork(t, NetworkOptions{Seed: seed})
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := n.Join(1, h1)
	defer t1.Close()
	defer n.Join(2, h2).Close()
	n.Partition([]uint64{1}, []uint64{2})
	rc := &bytesReadCloser{Reader: bytes.NewReader(randImage(seed, 1<<20)), closed: make(chan struct{})}
	t1.SendSnapshot(snapMsg(1, 2), rc)
	if r := recvReport(t, h1); r != (snapResult{2, raft.SnapshotFailure}) {
		t.Fatalf("report %+v", r)
	}
	<-rc.closed
	select {
	case <-h2.images:
		t.Fatal("image crossed a partition")
	default:
	}
	// Total loss drops the whole snapshot.
	n.Heal()
	if err := n.SetLink(1, 2, LinkConfig{Loss: 1}); err != nil {
		t.Fatal(err)
	}
	t1.SendSnapshot(snapMsg(1, 2), &bytesReadCloser{Reader: bytes.NewReader(nil), closed: make(chan struct{})})
	if r := recvReport(t, h1); r != (snapResult{2, raft.SnapshotFailure}) {
		t.Fatalf("report %+v", r)
	}
}

func TestNetworkRestart(t *testing.T) {
	base := runtime.NumGoroutine()
	n := newTestNetwork(t, NetworkOptions{Seed: testSeed(t)})
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := n.Join(1, h1)
	t2 := n.Join(2, h2)
	t1.Send([]raftpb.Message{msgApp(1, 2, 1, nil)})
	recvMsg(t, h2)
	t2.Send([]raftpb.Message{msgApp(2, 1, 1, nil)})
	recvMsg(t, h1)
	if err := t2.Close(); err != nil {
		t.Fatal(err)
	}
	t2.Send([]raftpb.Message{msgApp(2, 1, 2, nil)}) // after Close: dropped
	t1.Send([]raftpb.Message{msgApp(1, 2, 2, nil)})
	if id := recvUnreachable(t, h1); id != 2 {
		t.Fatalf("unreachable %d", id)
	}
	expectNoMsg(t, h1, 10*time.Millisecond)
	h2b := newRecHandler()
	t2b := n.Join(2, h2b)
	t1.Send([]raftpb.Message{msgApp(1, 2, 3, nil)})
	if m := recvMsg(t, h2b); m.Index != 3 {
		t.Fatalf("restarted node got %d", m.Index)
	}
	if len(h2.msgs) != 0 {
		t.Fatal("old handler received after Close")
	}
	t2b.Send([]raftpb.Message{msgApp(2, 1, 4, nil)})
	if m := recvMsg(t, h1); m.Index != 4 {
		t.Fatalf("from restarted node got %d", m.Index)
	}
	// RemovePeer masks a live peer; AddPeer restores it.
	t1.RemovePeer(2)
	t1.Send([]raftpb.Message{msgApp(1, 2, 5, nil)})
	expectNoMsg(t, h2b, 10*time.Millisecond)
	t1.AddPeer(2, "")
	t1.Send([]raftpb.Message{msgApp(1, 2, 6, nil)})
	if m := recvMsg(t, h2b); m.Index != 6 {
		t.Fatalf("after AddPeer got %d", m.Index)
	}
	t1.Close()
	t2b.Close()
	t1.Close() // idempotent
	checkNoLeak(t, base)
}

func TestNetworkQueueFull(t *testing.T) {
	fc := clock.NewFake(time.Unix(0, 0))
	n := newTestNetwork(t, NetworkOptions{Seed: testSeed(t), Clock: fc, QueueSize: 10})
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := n.Join(1, h1)
	defer t1.Close()
	defer n.Join(2, h2).Close()
	if err := n.SetAllLinks(LinkConfig{Delay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 15; i++ {
		t1.Send([]raftpb.Message{msgApp(1, 2, uint64(i), nil)})
	}
	if id := recvUnreachable(t, h1); id != 2 {
		t.Fatalf("unreachable %d", id)
	}
	fc.Advance(time.Millisecond)
	for i := 0; i < 10; i++ {
		if m := recvMsg(t, h2); m.Index != uint64(i) {
			t.Fatalf("got %d want %d", m.Index, i)
		}
	}
	if st := n.Stats(); st.DroppedQueueFull != 5 || t1.Stats().MsgsDropped != 5 {
		t.Fatalf("stats %+v %+v", st, t1.Stats())
	}
}

// blockingImage never yields a byte until closed, like a backend snapshot
// whose writer stalls.
type blockingImage struct{ pr *io.PipeReader }

func (b blockingImage) Read(p []byte) (int, error) { return b.pr.Read(p) }
func (b blockingImage) Close() error               { return b.pr.Close() }

// Closing a sender in the middle of a stalled snapshot stream returns and
// leaves no goroutine behind; the receiver's handler sees a read error.
func TestNetworkCloseDuringSnapshot(t *testing.T) {
	base := runtime.NumGoroutine()
	n := newTestNetwork(t, NetworkOptions{Seed: testSeed(t)})
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := n.Join(1, h1)
	t2 := n.Join(2, h2)
	pr, pw := io.Pipe()
	defer pw.Close()
	t1.SendSnapshot(snapMsg(1, 2), blockingImage{pr})
	expectNoMsg(t, h2, 20*time.Millisecond)
	done := make(chan struct{})
	go func() { t1.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Close hung on a stalled snapshot")
	}
	if len(h2.images) != 0 {
		t.Fatal("a partial image was accepted")
	}
	t2.Close()
	checkNoLeak(t, base)
}
