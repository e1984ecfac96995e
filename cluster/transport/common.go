package transport

import (
	"errors"
	"sync"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Sentinel errors. Callers match them with errors.Is; the transports wrap
// them with the detail (peer, size, ...).
var (
	// ErrClosed is returned for work on a closed transport or network.
	ErrClosed = errors.New("transport: closed")
	// ErrBadOption reports an invalid option value.
	ErrBadOption = errors.New("transport: bad option")
	// ErrBadFrame reports a TCP frame that is not ours (magic, version,
	// type) or is malformed; the connection is closed.
	ErrBadFrame = errors.New("transport: bad frame")
	// ErrFrameTooLarge reports a frame over the size limit; the connection
	// is closed rather than allocating what a peer claims.
	ErrFrameTooLarge = errors.New("transport: frame too large")
	// ErrSnapshotFailed reports a snapshot the receiver did not accept.
	ErrSnapshotFailed = errors.New("transport: snapshot failed")
)

// copyMessage gives the transport its own Message and Entries slice header:
// the sender's raft may reuse its slices after Advance. Entry data bytes are
// shared, as raft never mutates entries it handed out.
func copyMessage(m raftpb.Message) raftpb.Message {
	if len(m.Entries) > 0 {
		m.Entries = append([]raftpb.Entry(nil), m.Entries...)
	}
	return m
}

// reporter delivers ReportUnreachable and ReportSnapshot to a handler from
// its own goroutine, never on the caller of Send: the caller is usually the
// node's Ready loop, and a handler that feeds reports back into that loop
// would deadlock if called synchronously. Pending unreachable reports for
// the same peer merge, which rate-limits them while a peer stays down.
type reporter struct {
	h       Handler
	mu      sync.Mutex
	unreach map[uint64]struct{}
	snaps   []snapReport
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

type snapReport struct {
	id     uint64
	status raft.SnapshotStatus
}

func newReporter(h Handler) *reporter {
	r := &reporter{
		h:       h,
		unreach: make(map[uint64]struct{}),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go r.run()
	return r
}

func (r *reporter) unreachable(id uint64) {
	r.mu.Lock()
	_, pending := r.unreach[id]
	if !pending {
		r.unreach[id] = struct{}{}
	}
	r.mu.Unlock()
	if !pending {
		r.signal()
	}
}

func (r *reporter) snapshot(id uint64, status raft.SnapshotStatus) {
	r.mu.Lock()
	r.snaps = append(r.snaps, snapReport{id, status})
	r.mu.Unlock()
	r.signal()
}

func (r *reporter) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *reporter) run() {
	defer close(r.done)
	var ids []uint64
	var snaps []snapReport
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		}
		r.mu.Lock()
		ids = ids[:0]
		for id := range r.unreach {
			ids = append(ids, id)
		}
		clear(r.unreach)
		snaps = append(snaps[:0], r.snaps...)
		r.snaps = r.snaps[:0]
		r.mu.Unlock()
		for _, id := range ids {
			r.h.ReportUnreachable(id)
		}
		for _, s := range snaps {
			r.h.ReportSnapshot(s.id, s.status)
		}
	}
}

// close stops the reporter; reports still pending are discarded, as the
// node they were for is shutting down.
func (r *reporter) close() {
	close(r.stop)
	<-r.done
}
