package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"etcdlab/internal/clock"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// DefaultQueueSize is the per-link queue length of the in-process network and
// the per-peer queue of TCP: etcd's rafthttp stream buffer holds 4096
// messages, and a full buffer drops rather than blocks the Ready loop.
const DefaultQueueSize = 4096

// NetworkOptions configure an in-process Network.
type NetworkOptions struct {
	// Seed derives every link's random source (loss and jitter draws), so a
	// run is deterministic by seed given the same message sequence. Tests
	// log it.
	Seed uint64
	// Clock times link delays. Default: clock.Real().
	Clock clock.Clock
	// QueueSize bounds each directed link's queue; a message arriving at a
	// full queue is dropped and reported unreachable. Default:
	// DefaultQueueSize.
	QueueSize int
}

// EnsureDefaults fills unset fields with their documented defaults.
func (o *NetworkOptions) EnsureDefaults() {
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
}

// Validate reports every invalid field at once.
func (o *NetworkOptions) Validate() error {
	var errs []error
	if o.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("%w: QueueSize %d is negative", ErrBadOption, o.QueueSize))
	}
	return errors.Join(errs...)
}

// LinkConfig shapes one directed link of the in-process network.
type LinkConfig struct {
	// Delay is the one-way latency added to every message.
	Delay time.Duration
	// Jitter adds a uniform extra delay in [0, Jitter]; with Jitter > 0
	// messages on a link may be reordered, as on a real network.
	Jitter time.Duration
	// Loss is the probability in [0, 1] that a message (or a whole snapshot)
	// is dropped.
	Loss float64
}

// Validate reports every invalid field at once.
func (c LinkConfig) Validate() error {
	var errs []error
	if c.Delay < 0 {
		errs = append(errs, fmt.Errorf("%w: link Delay %v is negative", ErrBadOption, c.Delay))
	}
	if c.Jitter < 0 {
		errs = append(errs, fmt.Errorf("%w: link Jitter %v is negative", ErrBadOption, c.Jitter))
	}
	if !(c.Loss >= 0 && c.Loss <= 1) { // also rejects NaN
		errs = append(errs, fmt.Errorf("%w: link Loss %v is outside [0, 1]", ErrBadOption, c.Loss))
	}
	return errors.Join(errs...)
}

// NetworkStats counts what the whole in-process network did.
type NetworkStats struct {
	// Queued messages were accepted onto a link; Delivered reached a handler.
	Queued, Delivered int64
	// Drops by cause.
	DroppedLoss, DroppedPartition, DroppedQueueFull, DroppedNoPeer int64
	// Snapshot outcomes as reported to senders.
	SnapshotsDelivered, SnapshotsFailed int64
}

type networkCounters struct {
	queued, delivered                                              atomic.Int64
	droppedLoss, droppedPartition, droppedQueueFull, droppedNoPeer atomic.Int64
	snapsDelivered, snapsFailed                                    atomic.Int64
}

// Network is an in-process network of raft nodes. Each directed link is a
// queue drained by its own goroutine; tests and experiments shape links at
// run time (delay, jitter, loss) and cut the network into partitions.
type Network struct {
	opts NetworkOptions
	clk  clock.Clock

	mu          sync.RWMutex // guards the fields below; order: mu, endpoint.lmu, link.mu
	nodes       map[uint64]*endpoint
	defaultLink LinkConfig
	linkCfg     map[[2]uint64]LinkConfig
	partitioned bool
	group       map[uint64]int
	isolated    map[uint64]bool

	c networkCounters
}

// NewNetwork returns an empty network. Options are defaulted and validated.
func NewNetwork(opts NetworkOptions) (*Network, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Network{
		opts:     opts,
		clk:      opts.Clock,
		nodes:    make(map[uint64]*endpoint),
		linkCfg:  make(map[[2]uint64]LinkConfig),
		isolated: make(map[uint64]bool),
	}, nil
}

// Seed returns the seed the network's random sources derive from.
func (n *Network) Seed() uint64 { return n.opts.Seed }

// Join attaches node id with handler h and returns its transport. Every
// joined node is a peer of every other (AddPeer/RemovePeer only mask that).
// Joining an id that is still joined closes the old endpoint first, as if
// the old process had died: a restart is Close (or not) then Join.
func (n *Network) Join(id uint64, h Handler) Transport {
	n.mu.RLock()
	old := n.nodes[id]
	n.mu.RUnlock()
	if old != nil {
		old.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ep := &endpoint{
		net:     n,
		id:      id,
		h:       h,
		ctx:     ctx,
		cancel:  cancel,
		rep:     newReporter(h),
		links:   make(map[uint64]*link),
		removed: make(map[uint64]bool),
	}
	n.mu.Lock()
	n.nodes[id] = ep
	n.mu.Unlock()
	return ep
}

// SetLink shapes the directed link from -> to, now and for later joins.
func (n *Network) SetLink(from, to uint64, cfg LinkConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.linkCfg[[2]uint64{from, to}] = cfg
	if ep := n.nodes[from]; ep != nil {
		ep.lmu.Lock()
		if l := ep.links[to]; l != nil {
			l.setConfig(cfg)
		}
		ep.lmu.Unlock()
	}
	return nil
}

// SetAllLinks shapes every link, replacing earlier per-link settings.
func (n *Network) SetAllLinks(cfg LinkConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.defaultLink = cfg
	clear(n.linkCfg)
	for _, ep := range n.nodes {
		ep.lmu.Lock()
		for _, l := range ep.links {
			l.setConfig(cfg)
		}
		ep.lmu.Unlock()
	}
	return nil
}

// Partition cuts the network into groups: messages flow only between
// members of the same group, and a node named in no group is cut off from
// everyone. It replaces any earlier partition; isolations stay.
func (n *Network) Partition(groups ...[]uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.partitioned = true
	n.group = make(map[uint64]int)
	for g, ids := range groups {
		for _, id := range ids {
			n.group[id] = g
		}
	}
}

// Isolate cuts node id off from every other node until Heal.
func (n *Network) Isolate(id uint64) {
	n.mu.Lock()
	n.isolated[id] = true
	n.mu.Unlock()
}

// Heal removes every partition and isolation. Link shapes stay.
func (n *Network) Heal() {
	n.mu.Lock()
	n.partitioned = false
	n.group = nil
	clear(n.isolated)
	n.mu.Unlock()
}

// Stats returns the network's cumulative counts.
func (n *Network) Stats() NetworkStats {
	return NetworkStats{
		Queued:             n.c.queued.Load(),
		Delivered:          n.c.delivered.Load(),
		DroppedLoss:        n.c.droppedLoss.Load(),
		DroppedPartition:   n.c.droppedPartition.Load(),
		DroppedQueueFull:   n.c.droppedQueueFull.Load(),
		DroppedNoPeer:      n.c.droppedNoPeer.Load(),
		SnapshotsDelivered: n.c.snapsDelivered.Load(),
		SnapshotsFailed:    n.c.snapsFailed.Load(),
	}
}

// allowedLocked says whether from may reach to now. n.mu must be held.
func (n *Network) allowedLocked(from, to uint64) bool {
	if from == to {
		return true
	}
	if n.isolated[from] || n.isolated[to] {
		return false
	}
	if !n.partitioned {
		return true
	}
	gf, okf := n.group[from]
	gt, okt := n.group[to]
	return okf && okt && gf == gt
}

func (n *Network) linkConfigLocked(from, to uint64) LinkConfig {
	if c, ok := n.linkCfg[[2]uint64{from, to}]; ok {
		return c
	}
	return n.defaultLink
}

// linkSeed derives a link's PCG seed from the network seed and the link's
// ends (splitmix64 finalizer), so links draw independent streams.
func linkSeed(seed, from, to uint64) (uint64, uint64) {
	mix := func(x uint64) uint64 {
		x += 0x9e3779b97f4a7c15
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
		x = (x ^ (x >> 27)) * 0x94d049bb133111eb
		return x ^ (x >> 31)
	}
	a := mix(seed ^ mix(from) ^ mix(to<<1|1))
	return a, mix(a)
}

// endpoint is one node's attachment to the Network; it is the node's
// Transport.
type endpoint struct {
	net    *Network
	id     uint64
	h      Handler
	ctx    context.Context // cancelled by Close: stops links, aborts streams
	cancel context.CancelFunc
	rep    *reporter

	// mu gates deliveries to this node: held shared while its handler runs,
	// taken exclusively by Close so no delivery runs after Close returns.
	mu     sync.RWMutex
	closed bool

	lmu     sync.Mutex
	links   map[uint64]*link // outgoing, by destination
	removed map[uint64]bool  // peers masked by RemovePeer

	wg        sync.WaitGroup // link and snapshot goroutines
	closeOnce sync.Once

	msgsSent, msgsDropped, msgsReceived atomic.Int64
	bytesSent, bytesReceived            atomic.Int64
	snapsSent, snapsReceived            atomic.Int64
}

var _ Transport = (*endpoint)(nil)

func (ep *endpoint) Send(msgs []raftpb.Message) {
	if ep.ctx.Err() != nil {
		ep.msgsDropped.Add(int64(len(msgs)))
		return
	}
	n := ep.net
	n.mu.RLock()
	defer n.mu.RUnlock()
	for i := range msgs {
		m := &msgs[i]
		if m.Type == raftpb.MsgSnap {
			// A MsgSnap without its image cannot be installed; make raft
			// retry through SendSnapshot rather than silently lose it.
			ep.msgsDropped.Add(1)
			ep.rep.snapshot(m.To, raft.SnapshotFailure)
			continue
		}
		l, ok := ep.route(m.To)
		if !ok {
			continue
		}
		l.enqueue(item{m: copyMessage(*m)})
	}
}

// route returns the link to peer to, or drops (reporting unreachable) when
// the peer is unknown, removed or cut off. n.mu must be held shared.
func (ep *endpoint) route(to uint64) (*link, bool) {
	n := ep.net
	ep.lmu.Lock()
	defer ep.lmu.Unlock()
	if n.nodes[to] == nil || ep.removed[to] {
		n.c.droppedNoPeer.Add(1)
		ep.msgsDropped.Add(1)
		ep.rep.unreachable(to)
		return nil, false
	}
	if !n.allowedLocked(ep.id, to) {
		n.c.droppedPartition.Add(1)
		ep.msgsDropped.Add(1)
		ep.rep.unreachable(to)
		return nil, false
	}
	l := ep.links[to]
	if l == nil {
		l = newLink(ep, to, n.linkConfigLocked(ep.id, to))
		ep.links[to] = l
		ep.wg.Add(1)
		go l.run()
	}
	return l, true
}

func (ep *endpoint) SendSnapshot(m raftpb.Message, image io.ReadCloser) {
	fail := func() {
		image.Close()
		ep.net.c.snapsFailed.Add(1)
		ep.rep.snapshot(m.To, raft.SnapshotFailure)
	}
	if ep.ctx.Err() != nil {
		image.Close()
		return
	}
	ep.net.mu.RLock()
	l, ok := ep.route(m.To)
	ep.net.mu.RUnlock()
	if !ok {
		fail()
		return
	}
	l.enqueue(item{m: copyMessage(m), snap: image})
}

func (ep *endpoint) AddPeer(id uint64, _ string) {
	ep.lmu.Lock()
	delete(ep.removed, id)
	ep.lmu.Unlock()
}

func (ep *endpoint) RemovePeer(id uint64) {
	ep.lmu.Lock()
	ep.removed[id] = true
	ep.lmu.Unlock()
}

// ActivePeers counts the peers this node can reach now: joined, not removed
// and not cut off by a partition (on an in-process network every such peer
// is connected, as rafthttp's active peers are). A node uses it to tell
// when its peers are up before it fast-forwards its election ticks.
func (ep *endpoint) ActivePeers() int {
	n := ep.net
	n.mu.RLock()
	defer n.mu.RUnlock()
	ep.lmu.Lock()
	defer ep.lmu.Unlock()
	cnt := 0
	for id := range n.nodes {
		if id != ep.id && !ep.removed[id] && n.allowedLocked(ep.id, id) {
			cnt++
		}
	}
	return cnt
}

func (ep *endpoint) Stats() Stats {
	return Stats{
		MsgsSent:          ep.msgsSent.Load(),
		MsgsDropped:       ep.msgsDropped.Load(),
		MsgsReceived:      ep.msgsReceived.Load(),
		BytesSent:         ep.bytesSent.Load(),
		BytesReceived:     ep.bytesReceived.Load(),
		SnapshotsSent:     ep.snapsSent.Load(),
		SnapshotsReceived: ep.snapsReceived.Load(),
	}
}

// Close leaves the network: messages to this node are dropped from now on,
// its outgoing links and snapshot streams stop, and no handler call for it
// runs after Close returns. A later Join with the same id is a restart.
func (ep *endpoint) Close() error {
	ep.closeOnce.Do(func() {
		n := ep.net
		n.mu.Lock()
		if n.nodes[ep.id] == ep {
			delete(n.nodes, ep.id)
		}
		n.mu.Unlock()
		ep.cancel()
		ep.mu.Lock() // waits for deliveries in progress to this node
		ep.closed = true
		ep.mu.Unlock()
		ep.wg.Wait()
		ep.rep.close()
	})
	return nil
}

// item is one queued message or snapshot on a link.
type item struct {
	at   time.Time // delivery time; zero means now
	seq  uint64
	m    raftpb.Message
	size int           // m.Size(), computed once
	snap io.ReadCloser // non-nil for a snapshot
}

func (a *item) before(b *item) bool {
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.seq < b.seq
}

// link is one directed link: a queue sorted by delivery time (FIFO unless
// jitter reorders) drained by one goroutine.
type link struct {
	from *endpoint
	to   uint64

	mu   sync.Mutex
	cfg  LinkConfig
	rng  *rand.Rand
	q    []item // q[head:] is pending, sorted by (at, seq)
	head int
	last time.Time // latest at queued; keeps FIFO when jitter is 0
	seq  uint64
	wake chan struct{}
}

func newLink(from *endpoint, to uint64, cfg LinkConfig) *link {
	s1, s2 := linkSeed(from.net.opts.Seed, from.id, to)
	return &link{
		from: from,
		to:   to,
		cfg:  cfg,
		rng:  rand.New(rand.NewPCG(s1, s2)),
		wake: make(chan struct{}, 1),
	}
}

func (l *link) setConfig(cfg LinkConfig) {
	l.mu.Lock()
	l.cfg = cfg
	l.mu.Unlock()
	l.signal()
}

func (l *link) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// enqueue applies loss and the queue bound, stamps the delivery time and
// queues it. Draws happen under l.mu in send order, so they are a pure
// function of the seed and the link's message sequence.
func (l *link) enqueue(it item) {
	ep, n := l.from, l.from.net
	l.mu.Lock()
	cfg := l.cfg
	lost := cfg.Loss > 0 && l.rng.Float64() < cfg.Loss
	full := !lost && len(l.q)-l.head >= n.opts.QueueSize
	if lost || full {
		l.mu.Unlock()
		if lost {
			n.c.droppedLoss.Add(1)
		} else {
			n.c.droppedQueueFull.Add(1)
			ep.rep.unreachable(l.to)
		}
		l.dropItem(&it, false)
		return
	}
	if it.snap == nil {
		it.size = it.m.Size()
	}
	d := cfg.Delay
	if cfg.Jitter > 0 {
		d += time.Duration(l.rng.Int64N(int64(cfg.Jitter) + 1))
	}
	if d > 0 {
		it.at = n.clk.Now().Add(d)
	}
	l.seq++
	it.seq = l.seq
	if cfg.Jitter == 0 && it.at.Before(l.last) {
		it.at = l.last
	}
	if it.at.After(l.last) {
		l.last = it.at
	}
	pending := l.q[l.head:]
	if len(pending) == 0 || !it.before(&pending[len(pending)-1]) {
		l.q = append(l.q, it)
	} else {
		i := l.head + sort.Search(len(pending), func(i int) bool { return it.before(&pending[i]) })
		l.q = append(l.q, item{})
		copy(l.q[i+1:], l.q[i:])
		l.q[i] = it
	}
	l.mu.Unlock()
	n.c.queued.Add(1)
	if it.snap == nil {
		ep.msgsSent.Add(1)
		ep.bytesSent.Add(int64(it.size))
	}
	l.signal()
}

// dropItem accounts for an item that will not be delivered. A lost message
// is not reported unreachable (raft's retries cover it, as on a real lossy
// network); the callers report the other causes.
func (l *link) dropItem(it *item, report bool) {
	ep := l.from
	if report {
		ep.rep.unreachable(l.to)
	}
	if it.snap != nil {
		it.snap.Close()
		ep.net.c.snapsFailed.Add(1)
		ep.rep.snapshot(l.to, raft.SnapshotFailure)
		return
	}
	ep.msgsDropped.Add(1)
}

const maxBatch = 256

func (l *link) run() {
	defer l.from.wg.Done()
	clk := l.from.net.clk
	stop := l.from.ctx.Done()
	var batch []item
	for {
		batch = batch[:0]
		var next time.Time
		l.mu.Lock()
		var now time.Time
		for l.head < len(l.q) && len(batch) < maxBatch {
			it := &l.q[l.head]
			if !it.at.IsZero() {
				if now.IsZero() {
					now = clk.Now()
				}
				if it.at.After(now) {
					next = it.at
					break
				}
			}
			batch = append(batch, *it)
			*it = item{}
			l.head++
		}
		if l.head == len(l.q) {
			l.q, l.head, l.last = l.q[:0], 0, time.Time{}
		} else if l.head >= 1024 && 2*l.head >= len(l.q) {
			k := copy(l.q, l.q[l.head:])
			clear(l.q[k:])
			l.q, l.head = l.q[:k], 0
		}
		l.mu.Unlock()
		if len(batch) > 0 {
			l.deliver(batch)
			continue
		}
		var timer clock.Timer
		var timerC <-chan time.Time
		if !next.IsZero() {
			var due bool
			timer, due = armTimer(clk, next)
			if due {
				continue
			}
			timerC = timer.C()
		}
		select {
		case <-stop:
			if timer != nil {
				timer.Stop()
			}
			l.mu.Lock()
			rest := l.q[l.head:]
			l.q, l.head = nil, 0
			l.mu.Unlock()
			for i := range rest {
				if rest[i].snap != nil {
					rest[i].snap.Close() // the sender is gone; nobody to report to
				}
			}
			return
		case <-l.wake:
		case <-timerC:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// armTimer starts a timer firing at the clock's time at, or reports it due.
// A fake clock may be advanced between reading Now and registering the
// timer, which would make the timer fire late by the advance; retry when
// the clock moved meanwhile. A real clock always moves a little, so give up
// after a few tries: the lateness is then a few nanoseconds.
func armTimer(clk clock.Clock, at time.Time) (clock.Timer, bool) {
	for try := 0; ; try++ {
		n1 := clk.Now()
		if !at.After(n1) {
			return nil, true
		}
		t := clk.NewTimer(at.Sub(n1))
		if try >= 3 || clk.Now().Equal(n1) {
			return t, false
		}
		t.Stop()
	}
}

func (l *link) deliver(batch []item) {
	src, n := l.from, l.from.net
	n.mu.RLock()
	dst := n.nodes[l.to]
	allowed := dst != nil && n.allowedLocked(src.id, l.to)
	n.mu.RUnlock()
	if !allowed {
		for i := range batch {
			if dst == nil {
				n.c.droppedNoPeer.Add(1)
			} else {
				n.c.droppedPartition.Add(1)
			}
			l.dropItem(&batch[i], true)
		}
		clear(batch)
		return
	}
	dst.mu.RLock()
	defer dst.mu.RUnlock()
	for i := range batch {
		it := &batch[i]
		if dst.closed {
			n.c.droppedNoPeer.Add(1)
			l.dropItem(it, true)
			continue
		}
		if it.snap != nil {
			src.wg.Add(1)
			go l.streamSnapshot(dst, it.m, it.snap)
			continue
		}
		size := it.size
		_ = dst.h.Process(dst.ctx, it.m) // an error is raft's to log; the network delivered
		n.c.delivered.Add(1)
		dst.msgsReceived.Add(1)
		dst.bytesReceived.Add(int64(size))
	}
	clear(batch)
}

var errStreamAbandoned = errors.New("transport: snapshot receiver stopped reading")

// streamSnapshot pipes image to the receiver's ProcessSnapshot on its own
// goroutine (a large image must not hold up the link's messages), then
// reports the outcome to the sender.
func (l *link) streamSnapshot(dst *endpoint, m raftpb.Message, image io.ReadCloser) {
	src, n := l.from, l.from.net
	defer src.wg.Done()
	pr, pw := io.Pipe()
	closeImage := sync.OnceFunc(func() { image.Close() })
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(pw, image)
		closeImage()
		pw.CloseWithError(err) // nil err: the reader sees EOF
		copied <- err
	}()
	// The sender closing aborts the stream: the receiver's reads fail, and
	// closing the image unblocks a copier waiting on a slow image.
	stopAbort := context.AfterFunc(src.ctx, func() {
		pr.CloseWithError(ErrClosed)
		closeImage()
	})
	var err error
	dst.mu.RLock()
	if dst.closed {
		err = ErrClosed
	} else {
		err = dst.h.ProcessSnapshot(dst.ctx, m, pr)
	}
	dst.mu.RUnlock()
	pr.CloseWithError(errStreamAbandoned) // unblocks the copier if the handler stopped early
	cerr := <-copied
	stopAbort()
	if err == nil && cerr == nil {
		n.c.snapsDelivered.Add(1)
		src.snapsSent.Add(1)
		dst.snapsReceived.Add(1)
		src.rep.snapshot(l.to, raft.SnapshotFinish)
		return
	}
	n.c.snapsFailed.Add(1)
	src.rep.snapshot(l.to, raft.SnapshotFailure)
}

var _ Caller = (*endpoint)(nil)

// Call hands req to peer to's CallHandler on the caller's goroutine, if the
// network lets this node reach that peer now (partitions and isolation
// apply, both ways; link delay, jitter and loss do not). The handler's
// context ends with ctx or when either end closes.
func (ep *endpoint) Call(ctx context.Context, to uint64, req []byte) ([]byte, error) {
	if ep.ctx.Err() != nil {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := ep.net
	n.mu.RLock()
	dst := n.nodes[to]
	ep.lmu.Lock()
	removed := ep.removed[to]
	ep.lmu.Unlock()
	ok := dst != nil && !removed && n.allowedLocked(ep.id, to) && n.allowedLocked(to, ep.id)
	n.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %d from %d", ErrUnreachable, to, ep.id)
	}
	ch, isCH := dst.h.(CallHandler)
	if !isCH {
		return nil, fmt.Errorf("%w: %v", ErrRemote, errNoCallHandler)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopDst := context.AfterFunc(dst.ctx, cancel)
	defer stopDst()
	stopSrc := context.AfterFunc(ep.ctx, cancel)
	defer stopSrc()
	resp, err := ch.HandleCall(cctx, ep.id, append([]byte(nil), req...))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %v", ErrRemote, err)
	}
	return resp, nil
}
