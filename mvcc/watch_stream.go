package mvcc

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"etcdlab/internal/clock"
)

// Watch errors, with etcd's texts.
var (
	ErrWatcherNotExist    = errors.New("mvcc: watcher does not exist")
	ErrEmptyWatcherRange  = errors.New("mvcc: watcher range is empty")
	ErrWatcherDuplicateID = errors.New("mvcc: duplicate watch ID provided on the WatchStream")
	ErrWatchStreamClosed  = errors.New("mvcc: watch stream closed")
)

// WatchStream is a set of watchers sharing one response channel (etcd's
// mvcc.WatchStream plus the parts of v3rpc's serverWatchStream that are not
// about gRPC: prev_kv, periodic progress notification, deferred progress
// requests, cancellation after a compaction notice).
//
// The store sends into a channel of Config.WatchChanBufLen responses; a
// goroutine of the stream forwards them to Chan (or hands them to the
// deliver function of NewWatchStreamFunc), filling prev_kv on the way.
// A consumer that stops reading fills that buffer, and its watchers become
// victims, retried every WatchVictimInterval, as in etcd. Responses are never
// fragmented here: splitting a large response is v3rpc's business.
//
// Close every stream before closing the store: the forwarding goroutine
// lives until the stream is closed.
type WatchStream struct {
	s  *Store
	in chan WatchResponse
	// out is Chan; nil when deliver takes the responses.
	out     chan WatchResponse
	deliver func(WatchResponse) bool

	mu       sync.Mutex
	watchers map[WatchID]*streamWatcher
	nextID   WatchID
	closed   bool
	// deferredProgress: RequestProgressAll found a watcher unsynced; the
	// forwarder retries after each response it forwards and at each tick.
	deferredProgress bool

	stop chan struct{}
	done chan struct{}
}

type streamWatcher struct {
	w    *watcher
	opts WatchOptions
	// quiet: no events forwarded since the last progress tick.
	quiet bool
}

// NewWatchStream opens a watch stream on the store; its responses come on
// Chan.
func (s *Store) NewWatchStream() *WatchStream { return s.newWatchStream(nil) }

// NewWatchStreamFunc opens a watch stream that hands its responses to
// deliver instead of Chan (which stays nil): one at a time, in Chan's order,
// on the stream's own goroutine, never after Close has returned. It saves a
// consumer that sends them on (v3rpc's send loop) a goroutine hand-off per
// response. Once deliver returns false the stream delivers nothing more: its
// watchers' buffer fills and they become victims, as with a consumer that
// stopped reading Chan. A nil deliver gives a stream with Chan.
func (s *Store) NewWatchStreamFunc(deliver func(WatchResponse) bool) *WatchStream {
	return s.newWatchStream(deliver)
}

func (s *Store) newWatchStream(deliver func(WatchResponse) bool) *WatchStream {
	s.startWatchLoops()
	ws := &WatchStream{
		s:        s,
		in:       make(chan WatchResponse, s.cfg.WatchChanBufLen),
		deliver:  deliver,
		watchers: map[WatchID]*streamWatcher{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if deliver == nil {
		ws.out = make(chan WatchResponse)
	}
	go ws.forward(s.cfg.Clock, s.cfg.WatchProgressNotifyInterval)
	return ws
}

// Watch starts a watcher on key, or on [key, end) when end is set: end
// "\x00" means every key from key on (etcd's range_end conventions). startRev
// 0 watches from the next revision; an older revision catches up from the
// backend (ErrCompacted is not returned: a compacted start revision gets a
// response with CompactRevision and the watcher is cancelled, as in etcd); a
// future one waits for it. id AutoWatchID picks a free ID.
func (ws *WatchStream) Watch(id WatchID, key, end []byte, startRev int64, opts WatchOptions) (WatchID, error) {
	if len(end) != 0 && !(len(end) == 1 && end[0] == 0) && bytes.Compare(key, end) >= 0 {
		return -1, fmt.Errorf("%w: [%q, %q)", ErrEmptyWatcherRange, key, end)
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed {
		return -1, ErrWatchStreamClosed
	}
	if id == AutoWatchID {
		for ws.watchers[ws.nextID] != nil {
			ws.nextID++
		}
		id = ws.nextID
		ws.nextID++
	} else if ws.watchers[id] != nil {
		return -1, fmt.Errorf("%w: %d", ErrWatcherDuplicateID, id)
	}
	if startRev < 0 {
		startRev = 0
	}
	key = append([]byte(nil), key...)
	if e := rangeEnd(end); e != nil {
		end = append([]byte{}, e...)
	} else {
		end = nil
	}
	w := ws.s.watchKey(key, end, startRev, id, opts, ws.in)
	ws.watchers[id] = &streamWatcher{w: w, opts: opts, quiet: true}
	return id, nil
}

// Chan delivers the stream's responses. It is closed by Close. It is nil for
// a stream opened with NewWatchStreamFunc.
func (ws *WatchStream) Chan() <-chan WatchResponse { return ws.out }

// Cancel stops watcher id. Responses already queued for it may still arrive.
func (ws *WatchStream) Cancel(id WatchID) error {
	ws.mu.Lock()
	sw := ws.watchers[id]
	delete(ws.watchers, id)
	ws.mu.Unlock()
	if sw == nil {
		return fmt.Errorf("%w: %d", ErrWatcherNotExist, id)
	}
	ws.s.cancelWatcher(sw.w)
	return nil
}

// RequestProgress sends a progress notification for watcher id if it is
// synced (etcd's WatchStream.RequestProgress); otherwise nothing.
func (ws *WatchStream) RequestProgress(id WatchID) {
	ws.mu.Lock()
	sw := ws.watchers[id]
	ws.mu.Unlock()
	if sw == nil {
		return
	}
	ws.s.progressIfSynced(map[WatchID]*watcher{id: sw.w}, id)
}

// RequestProgressAll sends one progress notification, with WatchID
// InvalidWatchID, if every watcher of the stream is synced (etcd's
// RequestProgressAll, answering a WatchProgressRequest). If one is not, it
// reports false and the stream sends the notification as soon as all are, as
// etcd's v3rpc defers it.
func (ws *WatchStream) RequestProgressAll() bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.deferredProgress {
		return false
	}
	if ws.progressAllLocked() {
		return true
	}
	ws.deferredProgress = true
	return false
}

func (ws *WatchStream) progressAllLocked() bool {
	m := make(map[WatchID]*watcher, len(ws.watchers))
	for id, sw := range ws.watchers {
		m[id] = sw.w
	}
	return ws.s.progressIfSynced(m, InvalidWatchID)
}

// Rev is the store's current revision.
func (ws *WatchStream) Rev() int64 { return ws.s.Rev() }

// Close cancels every watcher and closes Chan, dropping undelivered
// responses.
func (ws *WatchStream) Close() {
	ws.mu.Lock()
	if ws.closed {
		ws.mu.Unlock()
		return
	}
	ws.closed = true
	watchers := ws.watchers
	ws.watchers = map[WatchID]*streamWatcher{}
	ws.mu.Unlock()
	for _, sw := range watchers {
		ws.s.cancelWatcher(sw.w)
	}
	close(ws.stop)
	<-ws.done
}

// forward moves responses from the store's channel to Chan (or deliver),
// filling prev_kv, and runs the periodic progress notifications (v3rpc's
// sendLoop).
func (ws *WatchStream) forward(c clock.Clock, interval time.Duration) {
	defer close(ws.done)
	if ws.out != nil {
		defer close(ws.out)
	}
	ticker := c.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case r := <-ws.in:
			r = ws.prepare(r)
			if ws.deliver != nil {
				if !ws.deliver(r) {
					<-ws.stop
					return
				}
			} else {
				select {
				case ws.out <- r:
				case <-ws.stop:
					return
				}
			}
			ws.mu.Lock()
			if ws.deferredProgress && ws.progressAllLocked() {
				ws.deferredProgress = false
			}
			ws.mu.Unlock()
		case <-ticker.C():
			ws.progressTick()
		case <-ws.stop:
			return
		}
	}
}

// prepare fills prev_kv, notes that the watcher was not quiet, and forgets a
// watcher that got its compaction notice (it is cancelled in the store).
func (ws *WatchStream) prepare(r WatchResponse) WatchResponse {
	ws.mu.Lock()
	sw := ws.watchers[r.WatchID]
	if sw != nil && r.CompactRevision != 0 {
		delete(ws.watchers, r.WatchID)
		ws.mu.Unlock()
		ws.s.cancelWatcher(sw.w)
		return r
	}
	prevKV := sw != nil && sw.opts.PrevKV
	if sw != nil && len(r.Events) > 0 {
		sw.quiet = false
	}
	ws.mu.Unlock()
	if prevKV {
		evs := make([]mvccpb.Event, len(r.Events))
		copy(evs, r.Events)
		for i := range evs {
			evs[i].PrevKv = ws.s.prevKV(evs[i].Kv.Key, evs[i].Kv.ModRevision-1)
		}
		r.Events = evs
	}
	return r
}

// progressTick: every ProgressNotify watcher quiet since the last tick gets
// a progress notification if synced (v3rpc's progress ticker).
func (ws *WatchStream) progressTick() {
	ws.mu.Lock()
	var ids []WatchID
	for id, sw := range ws.watchers {
		if !sw.opts.ProgressNotify {
			continue
		}
		if sw.quiet {
			ids = append(ids, id)
		}
		sw.quiet = true
	}
	if ws.deferredProgress && ws.progressAllLocked() {
		ws.deferredProgress = false
	}
	ws.mu.Unlock()
	for _, id := range ids {
		ws.RequestProgress(id)
	}
}

// prevKV reads key at rev, nil if it was absent, compacted or unreadable (as
// v3rpc, which drops prev_kv rather than fail the event).
func (s *Store) prevKV(key []byte, rev int64) *mvccpb.KeyValue {
	if rev <= 0 || s.rlock() != nil {
		return nil
	}
	defer s.mu.RUnlock()
	v, tx := s.openRead()
	defer tx.Close()
	kvs, _, err := s.rangeKeys(v, key, nil, rev, 1, false)
	if err != nil || len(kvs) == 0 {
		return nil
	}
	return &kvs[0]
}
