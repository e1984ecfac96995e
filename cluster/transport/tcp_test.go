package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

func newTestTCP(t *testing.T, id uint64, addr string, h Handler) *TCP {
	t.Helper()
	tr, err := NewTCP(TCPOptions{ID: id, ListenAddr: addr, Handler: h, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTCPOptionsValidate(t *testing.T) {
	_, err := NewTCP(TCPOptions{Peers: map[uint64]string{0: "x"}, DialTimeout: -1, QueueSize: -1, MaxFrameSize: -1})
	if !errors.Is(err, ErrBadOption) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"ID", "ListenAddr", "Handler", "peer 0", "DialTimeout", "QueueSize", "MaxFrameSize"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestTCPThreeNodes(t *testing.T) {
	base := runtime.NumGoroutine()
	hs := map[uint64]*recHandler{}
	trs := map[uint64]*TCP{}
	for id := uint64(1); id <= 3; id++ {
		hs[id] = newRecHandler()
		trs[id] = newTestTCP(t, id, "127.0.0.1:0", hs[id])
	}
	for id, tr := range trs {
		for pid, ptr := range trs {
			if pid != id {
				tr.AddPeer(pid, ptr.Addr())
			}
		}
	}
	const count = 300
	payload := bytes.Repeat([]byte("x"), 100)
	for i := uint64(0); i < count; i++ {
		for from, tr := range trs {
			var batch []raftpb.Message
			for to := range trs {
				if to != from {
					batch = append(batch, msgApp(from, to, i, payload))
				}
			}
			tr.Send(batch)
		}
	}
	for to, h := range hs {
		next := map[uint64]uint64{}
		for k := 0; k < 2*count; k++ {
			m := recvMsg(t, h)
			if m.To != to || m.Index != next[m.From] || !bytes.Equal(m.Entries[0].Data, payload) {
				t.Fatalf("node %d got %v from %d, want index %d", to, m.Index, m.From, next[m.From])
			}
			next[m.From]++
		}
	}
	for id, tr := range trs {
		st := tr.Stats()
		if st.MsgsSent != 2*count || st.MsgsReceived != 2*count || st.MsgsDropped != 0 {
			t.Errorf("node %d stats %+v", id, st)
		}
	}
	// Unknown peer: dropped and reported.
	trs[1].Send([]raftpb.Message{msgApp(1, 9, 0, nil)})
	if id := recvUnreachable(t, hs[1]); id != 9 {
		t.Fatalf("unreachable %d", id)
	}
	for _, tr := range trs {
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
	}
	checkNoLeak(t, base)
}

func TestTCPReconnectAfterRestart(t *testing.T) {
	base := runtime.NumGoroutine()
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := newTestTCP(t, 1, "127.0.0.1:0", h1)
	t2 := newTestTCP(t, 2, "127.0.0.1:0", h2)
	addr := t2.Addr()
	t1.AddPeer(2, addr)
	t1.Send([]raftpb.Message{msgApp(1, 2, 1, nil)})
	recvMsg(t, h2)
	if err := t2.Close(); err != nil {
		t.Fatal(err)
	}
	h2b := newRecHandler()
	t2b := newTestTCP(t, 2, addr, h2b) // same address: a restarted process
	// The old connection is dead; raft would keep sending, so do we until
	// the writer notices, backs off and reconnects.
	deadline := time.After(waitLimit)
	for i := uint64(2); ; i++ {
		t1.Send([]raftpb.Message{msgApp(1, 2, i, nil)})
		select {
		case m := <-h2b.msgs:
			if m.From != 1 {
				t.Fatalf("got %v", m)
			}
			if t1.Stats().MsgsDropped == 0 {
				t.Log("no message was dropped across the restart")
			}
			t1.Close()
			t2b.Close()
			checkNoLeak(t, base)
			return
		case <-deadline:
			t.Fatalf("no reconnect: %+v", t1.Stats())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestTCPSnapshot(t *testing.T) {
	seed := testSeed(t)
	base := runtime.NumGoroutine()
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := newTestTCP(t, 1, "127.0.0.1:0", h1)
	t2 := newTestTCP(t, 2, "127.0.0.1:0", h2)
	t1.AddPeer(2, t2.Addr())
	img := randImage(seed, 8<<20)
	rc := &bytesReadCloser{Reader: bytes.NewReader(img), closed: make(chan struct{})}
	t1.SendSnapshot(snapMsg(1, 2), rc)
	select {
	case got := <-h2.images:
		if !bytes.Equal(got, img) {
			t.Fatalf("image differs: %d bytes, want %d", len(got), len(img))
		}
	case <-time.After(waitLimit):
		t.Fatal("no image")
	}
	if m := recvMsg(t, h2); m.Type != raftpb.MsgSnap || m.Snapshot.Metadata.Index != 100 {
		t.Fatalf("message %v", m)
	}
	if r := recvReport(t, h1); r != (snapResult{2, raft.SnapshotFinish}) {
		t.Fatalf("report %+v", r)
	}
	<-rc.closed
	if t1.Stats().SnapshotsSent != 1 || t2.Stats().SnapshotsReceived != 1 {
		t.Fatalf("stats %+v %+v", t1.Stats(), t2.Stats())
	}
	// The receiver fails to save it: the sender hears failure.
	h2.mu.Lock()
	h2.snapErr = errors.New("disk full")
	h2.mu.Unlock()
	t1.SendSnapshot(snapMsg(1, 2), &bytesReadCloser{Reader: bytes.NewReader(img[:1000]), closed: make(chan struct{})})
	if r := recvReport(t, h1); r != (snapResult{2, raft.SnapshotFailure}) {
		t.Fatalf("report %+v", r)
	}
	// Unknown peer.
	t1.SendSnapshot(snapMsg(1, 7), &bytesReadCloser{Reader: bytes.NewReader(nil), closed: make(chan struct{})})
	if r := recvReport(t, h1); r != (snapResult{7, raft.SnapshotFailure}) {
		t.Fatalf("report %+v", r)
	}
	t1.Close()
	t2.Close()
	checkNoLeak(t, base)
}

func TestTCPBadInput(t *testing.T) {
	seed := testSeed(t)
	base := runtime.NumGoroutine()
	h2 := newRecHandler()
	t2, err := NewTCP(TCPOptions{ID: 2, ListenAddr: "127.0.0.1:0", Handler: h2, Logf: t.Logf, MaxFrameSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(typ byte, from uint64, size uint32) []byte {
		b := make([]byte, headerSize)
		b[0], b[1], b[2] = frameMagic, frameVersion, typ
		binary.LittleEndian.PutUint64(b[4:], from)
		binary.LittleEndian.PutUint32(b[12:], size)
		return b
	}
	good := func(from, to uint64) []byte {
		m := msgApp(from, to, 5, nil)
		var buf bytes.Buffer
		if _, err := writeFrame(&buf, frameMessage, from, &m, nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	garbage := randImage(seed, 4096)
	cases := []struct {
		name string
		data []byte
	}{
		{"random", garbage},
		{"bad-version", append([]byte{frameMagic, 9}, garbage[:100]...)},
		{"bad-type", append(hdr(7, 1, 10), garbage[:10]...)},
		{"zero-sender", append(hdr(frameMessage, 0, 10), garbage[:10]...)},
		{"oversized", hdr(frameMessage, 1, 1<<31)},
		{"not-protobuf", append(hdr(frameMessage, 1, 64), bytes.Repeat([]byte{0xff}, 64)...)},
		{"truncated", append(hdr(frameMessage, 1, 64), garbage[:10]...)},
		{"wrong-recipient", good(1, 3)},
		{"sender-mismatch", append(good(1, 2), good(4, 2)...)},
		{"snapshot-oversized-chunk", append(append(hdr(frameSnapshot, 1, 0)[:12], good(1, 2)[12:]...), 0xff, 0xff, 0xff, 0x7f)},
	}
	for i, tc := range cases {
		c, err := net.Dial("tcp", t2.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(tc.data); err != nil {
			t.Fatal(err)
		}
		if tc.name == "truncated" {
			c.(*net.TCPConn).CloseWrite()
		}
		deadline := time.After(waitLimit)
		for t2.FrameErrors() < int64(i+1) {
			select {
			case <-deadline:
				t.Fatalf("%s: frame errors %d, want %d", tc.name, t2.FrameErrors(), i+1)
			case <-time.After(2 * time.Millisecond):
			}
		}
		c.Close()
		t.Logf("%s: rejected", tc.name)
	}
	// The sender-mismatch stream delivered its first, valid frame.
	if m := recvMsg(t, h2); m.From != 1 || m.Index != 5 {
		t.Fatalf("got %v", m)
	}
	// Still serving honest peers.
	h1 := newRecHandler()
	t1 := newTestTCP(t, 1, "127.0.0.1:0", h1)
	t1.AddPeer(2, t2.Addr())
	t1.Send([]raftpb.Message{msgApp(1, 2, 42, nil)})
	if m := recvMsg(t, h2); m.Index != 42 {
		t.Fatalf("got %v", m)
	}
	t1.Close()
	t2.Close()
	checkNoLeak(t, base)
}

// A message larger than the receiver's limit is refused, and the sender's
// stream reconnects for the messages after it.
func TestTCPOversizedMessage(t *testing.T) {
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := newTestTCP(t, 1, "127.0.0.1:0", h1)
	defer t1.Close()
	t2, err := NewTCP(TCPOptions{ID: 2, ListenAddr: "127.0.0.1:0", Handler: h2, Logf: t.Logf, MaxFrameSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer t2.Close()
	t1.AddPeer(2, t2.Addr())
	t1.Send([]raftpb.Message{msgApp(1, 2, 1, make([]byte, 128<<10))})
	deadline := time.After(waitLimit)
	for t2.FrameErrors() == 0 {
		select {
		case <-deadline:
			t.Fatal("oversized frame accepted")
		case <-time.After(2 * time.Millisecond):
		}
	}
	for i := uint64(2); ; i++ {
		t1.Send([]raftpb.Message{msgApp(1, 2, i, nil)})
		select {
		case m := <-h2.msgs:
			if len(m.Entries) != 0 {
				t.Fatalf("oversized message delivered")
			}
			return
		case <-deadline:
			t.Fatal("no delivery after the oversized frame")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestTCPListenError(t *testing.T) {
	_, err := NewTCP(TCPOptions{ID: 1, ListenAddr: "127.0.0.1:notaport", Handler: newRecHandler()})
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("got %v", err)
	}
	_ = fmt.Sprint()
}

func TestTCPCloseDuringSnapshot(t *testing.T) {
	base := runtime.NumGoroutine()
	h1, h2 := newRecHandler(), newRecHandler()
	t1 := newTestTCP(t, 1, "127.0.0.1:0", h1)
	t2 := newTestTCP(t, 2, "127.0.0.1:0", h2)
	t1.AddPeer(2, t2.Addr())
	pr, pw := io.Pipe()
	defer pw.Close()
	t1.SendSnapshot(snapMsg(1, 2), blockingImage{pr})
	expectNoMsg(t, h2, 20*time.Millisecond)
	done := make(chan struct{})
	go func() { t1.Close(); t2.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Close hung on a stalled snapshot")
	}
	if len(h2.images) != 0 {
		t.Fatal("a partial image was accepted")
	}
	checkNoLeak(t, base)
}
