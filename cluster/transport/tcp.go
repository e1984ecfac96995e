package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"etcdlab/internal/clock"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Wire format. Every frame starts with a 16-byte header:
//
//	[0]     magic 0xE7
//	[1]     version 1
//	[2]     type: 1 message, 2 snapshot
//	[3]     reserved, 0
//	[4:12]  sender ID, little endian
//	[12:16] payload length, little endian; the payload is a marshalled
//	        raftpb.Message
//
// A stream connection carries message frames from one sender, one after
// another. A snapshot connection carries one snapshot frame, then the image
// in chunks ([4-byte length][bytes], a zero length ends it), and the
// receiver answers one byte: 1 saved, 0 failed. A call connection (Caller)
// carries one call frame whose payload is the callee's ID (8 bytes, little
// endian) then the request, and the callee answers one reply frame whose
// payload is a status byte (0 ok, 1 error) then the reply or the error's
// text.
const (
	frameMagic    = 0xE7
	frameVersion  = 1
	frameMessage  = 1
	frameSnapshot = 2
	frameCall     = 3
	frameReply    = 4
	headerSize    = 16

	ackOK   = 1
	ackFail = 0

	chunkSize    = 64 << 10
	maxChunkSize = 1 << 20
	bufSize      = 64 << 10
	maxWriteRun  = 512 // messages coalesced into one flush at most

	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// Defaults of TCPOptions.
const (
	DefaultDialTimeout  = time.Second
	DefaultMaxFrameSize = 64 << 20
)

// TCPOptions configure a TCP transport.
type TCPOptions struct {
	// ID is this node's raft ID (non-zero); it is sent in every frame header.
	ID uint64
	// ListenAddr is the host:port to bind (required); port 0 picks one, see
	// (*TCP).Addr. Bind only what the deployment asks for (tests use
	// 127.0.0.1).
	ListenAddr string
	// Listener, if set, is an already bound listener to serve on instead of
	// binding ListenAddr (which then only names it); the transport closes
	// it. A harness that binds every node's listener before any node dials
	// keeps an outgoing connection's ephemeral port from taking a port it
	// reserved for a node that has not started yet.
	Listener net.Listener
	// Handler receives messages and snapshots (required).
	Handler Handler
	// Peers maps peer IDs to their addresses; more can be added with
	// AddPeer.
	Peers map[uint64]string
	// DialTimeout bounds each connection attempt. Default:
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// Clock times reconnect backoff. Default: clock.Real().
	Clock clock.Clock
	// QueueSize bounds each peer's outgoing queue; a full queue drops and
	// reports unreachable. Default: DefaultQueueSize.
	QueueSize int
	// MaxFrameSize bounds a received message frame; a peer that sends a
	// larger one has its connection closed. Default: DefaultMaxFrameSize,
	// well above raft's MaxSizePerMsg (1 MiB) plus one 1.5 MiB request.
	MaxFrameSize int
	// Logf receives connection errors (bad frames, failed dials). Default:
	// discard; the counts are in FrameErrors and Stats either way.
	Logf func(format string, args ...any)
}

// EnsureDefaults fills unset fields with their documented defaults.
func (o *TCPOptions) EnsureDefaults() {
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxFrameSize == 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Validate reports every invalid field at once.
func (o *TCPOptions) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadOption}, args...)...))
	}
	if o.ID == 0 {
		bad("ID must be non-zero (raft's None)")
	}
	if o.ListenAddr == "" {
		bad("ListenAddr is empty")
	}
	if o.Handler == nil {
		bad("Handler is nil")
	}
	for id, addr := range o.Peers {
		if id == 0 || addr == "" {
			bad("peer %d has address %q", id, addr)
		}
	}
	if o.DialTimeout < 0 {
		bad("DialTimeout %v is negative", o.DialTimeout)
	}
	if o.QueueSize < 0 {
		bad("QueueSize %d is negative", o.QueueSize)
	}
	if o.MaxFrameSize < 0 || o.MaxFrameSize > 1<<31 {
		bad("MaxFrameSize %d is outside [0, 2 GiB]", o.MaxFrameSize)
	}
	return errors.Join(errs...)
}

// TCP is the transport between processes: one persistent outgoing
// connection per peer fed by a bounded queue, one short-lived connection per
// snapshot.
type TCP struct {
	opts   TCPOptions
	ln     net.Listener
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	rep    *reporter

	mu     sync.Mutex
	closed bool
	peers  map[uint64]*peer
	conns  map[net.Conn]struct{} // accepted connections

	wg sync.WaitGroup

	msgsSent, msgsDropped, msgsReceived atomic.Int64
	bytesSent, bytesReceived            atomic.Int64
	snapsSent, snapsReceived            atomic.Int64
	frameErrors                         atomic.Int64
}

var _ Transport = (*TCP)(nil)

// NewTCP binds opts.ListenAddr and starts serving and dialling peers.
func NewTCP(opts TCPOptions) (*TCP, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", opts.ListenAddr); err != nil {
			return nil, fmt.Errorf("transport: listen %s: %w", opts.ListenAddr, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &TCP{
		opts:   opts,
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		rep:    newReporter(opts.Handler),
		peers:  make(map[uint64]*peer),
		conns:  make(map[net.Conn]struct{}),
	}
	for id, addr := range opts.Peers {
		t.AddPeer(id, addr)
	}
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// Addr returns the bound listen address (useful with port 0).
func (t *TCP) Addr() string { return t.ln.Addr().String() }

// FrameErrors counts connections closed for bad or oversized frames.
func (t *TCP) FrameErrors() int64 { return t.frameErrors.Load() }

func (t *TCP) Send(msgs []raftpb.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range msgs {
		m := &msgs[i]
		if t.closed {
			t.msgsDropped.Add(1)
			continue
		}
		if m.Type == raftpb.MsgSnap {
			// Without its image a MsgSnap cannot be installed: make raft
			// retry through SendSnapshot.
			t.msgsDropped.Add(1)
			t.rep.snapshot(m.To, raft.SnapshotFailure)
			continue
		}
		p := t.peers[m.To]
		if p == nil {
			t.msgsDropped.Add(1)
			t.rep.unreachable(m.To)
			continue
		}
		select {
		case p.q <- copyMessage(*m):
		default:
			t.msgsDropped.Add(1)
			t.rep.unreachable(m.To)
		}
	}
}

// takePeer looks peer id up; when the transport is open and knows it, it
// also counts one more goroutine in t.wg, which the caller must end with
// t.wg.Done.
func (t *TCP) takePeer(id uint64) (p *peer, addr string, closed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, closed = t.peers[id], t.closed
	if p != nil {
		addr = p.address()
	}
	if !closed && p != nil {
		t.wg.Add(1)
	}
	return p, addr, closed
}

func (t *TCP) SendSnapshot(m raftpb.Message, image io.ReadCloser) {
	p, addr, closed := t.takePeer(m.To)
	if closed {
		image.Close()
		return
	}
	if p == nil {
		image.Close()
		t.rep.unreachable(m.To)
		t.rep.snapshot(m.To, raft.SnapshotFailure)
		return
	}
	go func() {
		defer t.wg.Done()
		closeImage := sync.OnceFunc(func() { image.Close() })
		// Close aborts a stream in progress, also one waiting on the image.
		stop := context.AfterFunc(t.ctx, closeImage)
		err := t.sendSnapshot(addr, copyMessage(m), image)
		stop()
		closeImage()
		if err != nil {
			t.opts.Logf("transport: snapshot to %d at %s: %v", m.To, addr, err)
			t.rep.snapshot(m.To, raft.SnapshotFailure)
			return
		}
		t.snapsSent.Add(1)
		t.rep.snapshot(m.To, raft.SnapshotFinish)
	}()
}

func (t *TCP) sendSnapshot(addr string, m raftpb.Message, image io.Reader) error {
	c, err := t.dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(t.ctx, func() { c.Close() }) // Close aborts a stream in progress
	defer stop()
	bw := bufio.NewWriterSize(c, bufSize)
	if _, err := writeFrame(bw, frameSnapshot, t.opts.ID, &m, nil); err != nil {
		return err
	}
	buf := make([]byte, 4+chunkSize)
	for {
		n, rerr := io.ReadFull(image, buf[4:])
		if n > 0 {
			binary.LittleEndian.PutUint32(buf, uint32(n))
			if _, err := bw.Write(buf[:4+n]); err != nil {
				return err
			}
			t.bytesSent.Add(int64(n))
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("reading the image: %w", rerr)
		}
	}
	binary.LittleEndian.PutUint32(buf, 0)
	if _, err := bw.Write(buf[:4]); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	var ack [1]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		return fmt.Errorf("waiting for the ack: %w", err)
	}
	if ack[0] != ackOK {
		return ErrSnapshotFailed
	}
	return nil
}

func (t *TCP) AddPeer(id uint64, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || id == 0 {
		return
	}
	if p := t.peers[id]; p != nil {
		p.setAddress(addr)
		return
	}
	p := &peer{t: t, id: id, addr: addr, q: make(chan raftpb.Message, t.opts.QueueSize), stop: make(chan struct{})}
	t.peers[id] = p
	t.wg.Add(1)
	go p.run()
}

func (t *TCP) RemovePeer(id uint64) {
	t.mu.Lock()
	p := t.peers[id]
	delete(t.peers, id)
	t.mu.Unlock()
	if p != nil {
		p.shutdown()
	}
}

func (t *TCP) Stats() Stats {
	return Stats{
		MsgsSent:          t.msgsSent.Load(),
		MsgsDropped:       t.msgsDropped.Load(),
		MsgsReceived:      t.msgsReceived.Load(),
		BytesSent:         t.bytesSent.Load(),
		BytesReceived:     t.bytesReceived.Load(),
		SnapshotsSent:     t.snapsSent.Load(),
		SnapshotsReceived: t.snapsReceived.Load(),
	}
}

// Close shuts the listener and every connection and waits for the
// transport's goroutines; no handler call runs after it returns.
func (t *TCP) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	peers := t.peers
	t.peers = map[uint64]*peer{}
	conns := t.conns
	t.conns = map[net.Conn]struct{}{}
	t.mu.Unlock()
	t.cancel()
	err := t.ln.Close()
	for _, p := range peers {
		p.shutdown()
	}
	for c := range conns {
		c.Close()
	}
	t.wg.Wait()
	t.rep.close()
	return err
}

func (t *TCP) dial(addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: t.opts.DialTimeout}
	return d.DialContext(t.ctx, "tcp", addr)
}

// peer is one outgoing stream: a bounded queue and the writer goroutine that
// owns the connection.
type peer struct {
	t    *TCP
	id   uint64
	q    chan raftpb.Message
	stop chan struct{}
	once sync.Once

	mu   sync.Mutex
	addr string
	conn net.Conn
}

func (p *peer) address() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

func (p *peer) setAddress(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if addr == p.addr {
		return
	}
	p.addr = addr
	if p.conn != nil {
		p.conn.Close() // the writer reconnects to the new address
	}
}

func (p *peer) shutdown() {
	p.once.Do(func() {
		close(p.stop)
		p.mu.Lock()
		if p.conn != nil {
			p.conn.Close() // unblocks a writer stuck on a full socket
		}
		p.mu.Unlock()
	})
}

func (p *peer) run() {
	t := p.t
	defer t.wg.Done()
	var (
		conn     net.Conn
		bw       = bufio.NewWriterSize(nil, bufSize)
		buf      []byte
		backoff  time.Duration
		nextDial time.Time
	)
	closeConn := func() {
		if conn != nil {
			conn.Close()
			p.mu.Lock()
			p.conn = nil
			p.mu.Unlock()
			conn = nil
		}
	}
	defer closeConn()
	for {
		var m raftpb.Message
		select {
		case <-p.stop:
			return
		case m = <-p.q:
		}
		if conn == nil {
			if !nextDial.IsZero() && t.opts.Clock.Now().Before(nextDial) {
				p.drop(1)
				continue
			}
			c, err := t.dial(p.address())
			if err != nil {
				backoff = min(max(2*backoff, minBackoff), maxBackoff)
				nextDial = t.opts.Clock.Now().Add(backoff)
				t.opts.Logf("transport: dial peer %d: %v (retry in %v)", p.id, err, backoff)
				p.drop(1)
				continue
			}
			p.mu.Lock()
			stopped := false
			select {
			case <-p.stop:
				stopped = true
			default:
				p.conn = c
			}
			p.mu.Unlock()
			if stopped {
				c.Close()
				return
			}
			conn = c
			backoff, nextDial = 0, time.Time{}
			bw.Reset(c)
			// The receiver never writes on a stream: a read returns only
			// when the connection dies, and closing it then makes the next
			// write fail fast instead of filling a dead socket.
			t.wg.Add(1)
			go func() {
				defer t.wg.Done()
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
		}
		n, bytes := 1, 0
		var err error
		var sz int
		sz, err = writeFrame(bw, frameMessage, t.opts.ID, &m, &buf)
		bytes += sz
	drain:
		for err == nil && n < maxWriteRun {
			select {
			case m = <-p.q:
				n++
				sz, err = writeFrame(bw, frameMessage, t.opts.ID, &m, &buf)
				bytes += sz
			default:
				break drain
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			t.opts.Logf("transport: write to peer %d: %v", p.id, err)
			closeConn()
			nextDial = t.opts.Clock.Now().Add(minBackoff)
			p.drop(n)
			continue
		}
		t.msgsSent.Add(int64(n))
		t.bytesSent.Add(int64(bytes))
	}
}

func (p *peer) drop(n int) {
	p.t.msgsDropped.Add(int64(n))
	p.t.rep.unreachable(p.id)
}

// writeFrame writes one header and marshalled message to w, marshalling
// into *scratch when given (reused across calls), and returns the payload
// size.
func writeFrame(w io.Writer, typ byte, from uint64, m *raftpb.Message, scratch *[]byte) (int, error) {
	size := m.Size()
	var b []byte
	if scratch != nil && cap(*scratch) >= headerSize+size {
		b = (*scratch)[:headerSize+size]
	} else {
		b = make([]byte, headerSize+size)
		if scratch != nil {
			*scratch = b
		}
	}
	b[0], b[1], b[2], b[3] = frameMagic, frameVersion, typ, 0
	binary.LittleEndian.PutUint64(b[4:12], from)
	binary.LittleEndian.PutUint32(b[12:16], uint32(size))
	if _, err := m.MarshalTo(b[headerSize:]); err != nil {
		return 0, fmt.Errorf("transport: marshal %v: %w", m.Type, err)
	}
	_, err := w.Write(b)
	return size, err
}

func (t *TCP) acceptLoop() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			t.opts.Logf("transport: accept: %v", err)
			continue
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			c.Close()
			return
		}
		t.conns[c] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serve(c)
	}
}

// frameReader decodes frames from one accepted connection.
type frameReader struct {
	br   *bufio.Reader
	max  int
	buf  []byte
	hdr  [headerSize]byte
	from uint64
	raw  []byte // a call frame's payload
}

// next reads one frame, checking it against the first frame's sender and
// type; io.EOF means a clean end between frames.
func (r *frameReader) next(wantType byte) (typ byte, m raftpb.Message, size int, err error) {
	if _, err = io.ReadFull(r.br, r.hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: truncated header", ErrBadFrame)
		}
		return
	}
	h := r.hdr[:]
	if h[0] != frameMagic || h[1] != frameVersion || h[3] != 0 {
		err = fmt.Errorf("%w: header % x (magic %#x version %d)", ErrBadFrame, h, h[0], h[1])
		return
	}
	typ = h[2]
	if typ != frameMessage && typ != frameSnapshot && typ != frameCall || wantType != 0 && typ != wantType {
		err = fmt.Errorf("%w: frame type %d", ErrBadFrame, typ)
		return
	}
	from := binary.LittleEndian.Uint64(h[4:12])
	if from == 0 {
		err = fmt.Errorf("%w: sender ID 0", ErrBadFrame)
		return
	}
	if r.from != 0 && from != r.from {
		err = fmt.Errorf("%w: sender %d on a stream from %d", ErrBadFrame, from, r.from)
		return
	}
	r.from = from
	size = int(binary.LittleEndian.Uint32(h[12:16]))
	if size > r.max {
		err = fmt.Errorf("%w: %d bytes from %d, limit %d", ErrFrameTooLarge, size, from, r.max)
		return
	}
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	b := r.buf[:size]
	if _, err = io.ReadFull(r.br, b); err != nil {
		err = fmt.Errorf("%w: truncated payload of %d bytes: %v", ErrBadFrame, size, err)
		return
	}
	if typ == frameCall {
		r.raw = append([]byte(nil), b...)
		return
	}
	if err = m.Unmarshal(b); err != nil { // Unmarshal copies entry data out of b
		err = fmt.Errorf("%w: message from %d: %v", ErrBadFrame, from, err)
		return
	}
	if m.From != from {
		err = fmt.Errorf("%w: message from %d in a frame from %d", ErrBadFrame, m.From, from)
	}
	return
}

func (t *TCP) serve(c net.Conn) {
	defer t.wg.Done()
	defer func() {
		c.Close()
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
	}()
	r := &frameReader{br: bufio.NewReaderSize(c, bufSize), max: t.opts.MaxFrameSize}
	typ, m, size, err := r.next(0)
	if err == nil && typ == frameCall {
		t.serveCall(c, r.from, r.raw)
		return
	}
	if err == nil && m.To != t.opts.ID {
		err = fmt.Errorf("%w: message for %d reached %d (peer address map wrong?)", ErrBadFrame, m.To, t.opts.ID)
	}
	if err != nil {
		t.connError(c, err)
		return
	}
	if typ == frameSnapshot {
		t.serveSnapshot(c, r, m)
		return
	}
	for {
		_ = t.opts.Handler.Process(t.ctx, m) // an error is raft's to log
		t.msgsReceived.Add(1)
		t.bytesReceived.Add(int64(size))
		_, m, size, err = r.next(frameMessage)
		if err == nil && m.To != t.opts.ID {
			err = fmt.Errorf("%w: message for %d reached %d", ErrBadFrame, m.To, t.opts.ID)
		}
		if err != nil {
			t.connError(c, err)
			return
		}
	}
}

// connError logs and counts why an accepted connection ends; a clean close
// by the peer or by Close is not an error.
func (t *TCP) connError(c net.Conn, err error) {
	if errors.Is(err, ErrBadFrame) || errors.Is(err, ErrFrameTooLarge) {
		t.frameErrors.Add(1)
		t.opts.Logf("transport: closing connection from %s: %v", c.RemoteAddr(), err)
		return
	}
	if err == io.EOF || errors.Is(err, net.ErrClosed) || t.ctx.Err() != nil {
		return
	}
	t.opts.Logf("transport: connection from %s: %v", c.RemoteAddr(), err)
}

func (t *TCP) serveSnapshot(c net.Conn, r *frameReader, m raftpb.Message) {
	cr := &chunkReader{r: r.br}
	err := t.opts.Handler.ProcessSnapshot(t.ctx, m, cr)
	if err == nil {
		// The handler must consume the image; anything left (or a broken
		// stream) means it did not see the whole thing.
		if n, derr := io.Copy(io.Discard, cr); derr != nil || n > 0 {
			err = fmt.Errorf("%w: handler left %d bytes unread (%v)", ErrSnapshotFailed, n, derr)
		}
	}
	ack := []byte{ackOK}
	if err != nil {
		ack[0] = ackFail
		// Count a broken stream from what the chunk reader saw, whatever
		// the handler made of the read error.
		if errors.Is(cr.err, ErrBadFrame) || errors.Is(cr.err, ErrFrameTooLarge) {
			t.frameErrors.Add(1)
		}
		t.opts.Logf("transport: snapshot from %d: %v", m.From, err)
	} else {
		t.snapsReceived.Add(1)
		t.bytesReceived.Add(cr.total)
	}
	_, _ = c.Write(ack)
}

// chunkReader decodes the chunked image of a snapshot connection.
type chunkReader struct {
	r     *bufio.Reader
	left  int // bytes left in the current chunk
	total int64
	done  bool
	err   error
}

func (cr *chunkReader) Read(p []byte) (int, error) {
	if cr.err != nil {
		return 0, cr.err
	}
	if cr.done {
		return 0, io.EOF
	}
	for cr.left == 0 {
		var h [4]byte
		if _, err := io.ReadFull(cr.r, h[:]); err != nil {
			cr.err = fmt.Errorf("%w: image truncated after %d bytes: %v", ErrBadFrame, cr.total, err)
			return 0, cr.err
		}
		n := int(binary.LittleEndian.Uint32(h[:]))
		if n == 0 {
			cr.done = true
			return 0, io.EOF
		}
		if n > maxChunkSize {
			cr.err = fmt.Errorf("%w: image chunk of %d bytes, limit %d", ErrFrameTooLarge, n, maxChunkSize)
			return 0, cr.err
		}
		cr.left = n
	}
	if len(p) > cr.left {
		p = p[:cr.left]
	}
	n, err := cr.r.Read(p)
	cr.left -= n
	cr.total += int64(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		cr.err = fmt.Errorf("%w: image truncated after %d bytes: %v", ErrBadFrame, cr.total, err)
		return n, cr.err
	}
	return n, nil
}

var _ Caller = (*TCP)(nil)

// Call sends req to peer to over a connection of its own and waits for the
// reply (see the wire format above).
func (t *TCP) Call(ctx context.Context, to uint64, req []byte) ([]byte, error) {
	// An ended context fails at once, as in process: the AfterFunc below
	// closes the connection from another goroutine, which a fast loopback
	// round trip can beat.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, addr, closed := t.takePeer(to)
	if closed {
		return nil, ErrClosed
	}
	if p == nil {
		return nil, fmt.Errorf("%w: %d is not a known peer", ErrUnreachable, to)
	}
	defer t.wg.Done()
	c, err := t.dial(addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %d at %s: %v", ErrUnreachable, to, addr, err)
	}
	defer c.Close()
	stopCtx := context.AfterFunc(ctx, func() { c.Close() })
	defer stopCtx()
	stopT := context.AfterFunc(t.ctx, func() { c.Close() })
	defer stopT()
	payload := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+len(req)), to)
	payload = append(payload, req...)
	if err := writeRawFrame(c, frameCall, t.opts.ID, payload); err != nil {
		return nil, t.callErr(ctx, to, err)
	}
	typ, _, reply, err := readRawFrame(bufio.NewReader(c), t.opts.MaxFrameSize)
	if err == nil && (typ != frameReply || len(reply) == 0) {
		err = fmt.Errorf("%w: reply of type %d and %d bytes", ErrBadFrame, typ, len(reply))
	}
	if err != nil {
		return nil, t.callErr(ctx, to, err)
	}
	if reply[0] != 0 {
		return nil, fmt.Errorf("%w: %s", ErrRemote, reply[1:])
	}
	return reply[1:], nil
}

func (t *TCP) callErr(ctx context.Context, to uint64, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if t.ctx.Err() != nil {
		return ErrClosed
	}
	return fmt.Errorf("%w: call to %d: %v", ErrUnreachable, to, err)
}

// serveCall answers one call frame from peer from on connection c.
func (t *TCP) serveCall(c net.Conn, from uint64, payload []byte) {
	var reply []byte
	var herr error
	switch h, ok := t.opts.Handler.(CallHandler); {
	case len(payload) < 8:
		t.frameErrors.Add(1)
		t.opts.Logf("transport: call from %d: %d-byte payload", from, len(payload))
		return
	case binary.LittleEndian.Uint64(payload) != t.opts.ID:
		herr = fmt.Errorf("call for %d reached %d (peer address map wrong?)", binary.LittleEndian.Uint64(payload), t.opts.ID)
	case !ok:
		herr = errNoCallHandler
	default:
		reply, herr = h.HandleCall(t.ctx, from, payload[8:])
	}
	out := []byte{0}
	if herr != nil {
		out = append([]byte{1}, herr.Error()...)
	} else {
		out = append(out, reply...)
	}
	if err := writeRawFrame(c, frameReply, t.opts.ID, out); err != nil {
		t.connError(c, err)
	}
}

// writeRawFrame writes one header and payload (not a raft message).
func writeRawFrame(w io.Writer, typ byte, from uint64, payload []byte) error {
	b := make([]byte, headerSize, headerSize+len(payload))
	b[0], b[1], b[2], b[3] = frameMagic, frameVersion, typ, 0
	binary.LittleEndian.PutUint64(b[4:12], from)
	binary.LittleEndian.PutUint32(b[12:16], uint32(len(payload)))
	_, err := w.Write(append(b, payload...))
	return err
}

// readRawFrame reads one header and its payload, whatever the type.
func readRawFrame(r io.Reader, maxSize int) (typ byte, from uint64, payload []byte, err error) {
	var h [headerSize]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	if h[0] != frameMagic || h[1] != frameVersion || h[3] != 0 {
		return 0, 0, nil, fmt.Errorf("%w: header % x", ErrBadFrame, h)
	}
	size := int(binary.LittleEndian.Uint32(h[12:16]))
	if size > maxSize {
		return 0, 0, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size, maxSize)
	}
	payload = make([]byte, size)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, 0, nil, fmt.Errorf("%w: truncated payload of %d bytes: %v", ErrBadFrame, size, err)
	}
	return h[2], binary.LittleEndian.Uint64(h[4:12]), payload, nil
}
