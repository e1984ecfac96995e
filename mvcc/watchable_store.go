package mvcc

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"etcdlab/engines/backend"
	"etcdlab/internal/clock"
)

// watchState is the watchable half of the store (etcd's watchableStore).
//
// Lock order: BatchTx lock, then mu, then the store's revMu, then the
// backend's read lock. A write txn notifies and moves the revision with mu
// held, so that a watcher registered under mu sees either the revision before
// the txn (and is notified of it) or after it (and starts past it), never a
// gap; the sync loop reads the backend with mu held, so no revision moves
// while it reads (writers wait, as in etcd).
type watchState struct {
	mu       sync.Mutex
	synced   watcherGroup
	unsynced watcherGroup
	victims  []watcherBatch
	victimc  chan struct{}

	// count is the number of watchers registered. A write txn reads it once
	// at its start to decide whether to keep its events: with no watchers the
	// write path costs one atomic load and one uncontended mutex.
	count atomic.Int64

	loops   sync.Once
	loopsWG sync.WaitGroup

	// Catch-up work since the store opened (WatchStats).
	syncReads, scanNanos, records, bytes, events atomic.Int64
}

// WatchStats is the catch-up work of the syncs of unsynced watchers since
// the store opened: the backend reads of the key bucket and what they gave.
type WatchStats struct {
	// SyncReads counts the syncs that read the key bucket.
	SyncReads int64
	// ScanNanos is the time spent in those reads (scan and decode), by the
	// store's clock.
	ScanNanos int64
	// Records and Bytes are the key-bucket records read and their key and
	// value bytes.
	Records, Bytes int64
	// Events counts the records read that are on a key some watcher of the
	// sync watches.
	Events int64
}

// WatchStats returns the catch-up work so far (safe to call at any time).
func (s *Store) WatchStats() WatchStats {
	ws := &s.watch
	return WatchStats{SyncReads: ws.syncReads.Load(), ScanNanos: ws.scanNanos.Load(),
		Records: ws.records.Load(), Bytes: ws.bytes.Load(), Events: ws.events.Load()}
}

func (ws *watchState) init() {
	ws.synced = newWatcherGroup()
	ws.unsynced = newWatcherGroup()
	ws.victimc = make(chan struct{}, 1)
}

// startWatchLoops starts the sync and victim loops on the first WatchStream,
// so a store nobody watches runs no goroutine for watch.
func (s *Store) startWatchLoops() {
	s.watch.loops.Do(func() {
		s.watch.loopsWG.Add(2)
		go s.syncWatchersLoop()
		go s.syncVictimsLoop()
	})
}

// watchKey registers a watcher (etcd's watchableStore.watch): synced when it
// starts at 0 or past the current revision, unsynced otherwise.
func (s *Store) watchKey(key, end []byte, startRev int64, id WatchID, opts WatchOptions, ch chan<- WatchResponse) *watcher {
	w := &watcher{key: key, end: end, startRev: startRev, minRev: startRev, id: id,
		noPut: opts.NoPut, noDelete: opts.NoDelete, ch: ch}
	ws := &s.watch
	ws.mu.Lock()
	s.revMu.RLock()
	cur := s.currentRev
	s.revMu.RUnlock()
	if startRev == 0 || startRev > cur {
		w.minRev = max(cur+1, startRev)
		ws.synced.add(w)
	} else {
		ws.unsynced.add(w)
	}
	ws.count.Add(1)
	ws.mu.Unlock()
	return w
}

// cancelWatcher removes w from whichever group holds it. Victims are moved
// with mu held, so w is always found where it is.
func (s *Store) cancelWatcher(w *watcher) {
	ws := &s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if w.ch == nil {
		return // already cancelled
	}
	if !ws.unsynced.delete(w) && !ws.synced.delete(w) && !w.compacted {
		for _, wb := range ws.victims {
			if _, ok := wb[w]; ok {
				delete(wb, w)
				break
			}
		}
	}
	w.ch = nil
	ws.count.Add(-1)
}

// notify sends the events of revision rev (one write txn) to the synced
// watchers; a watcher whose channel is full becomes a victim holding them.
// Called with mu held, before the revision moves (etcd's notify).
func (s *Store) notify(rev int64, evs []mvccpb.Event) {
	ws := &s.watch
	var victims watcherBatch
	for w, eb := range newWatcherBatch(&ws.synced, evs, s.cfg.WatchBatchMaxRevs) {
		if !w.send(WatchResponse{WatchID: w.id, Events: eb.evs, Revision: rev}) {
			w.victim = true
			ws.synced.delete(w)
			if victims == nil {
				victims = watcherBatch{}
			}
			victims[w] = eb
		}
		w.minRev = rev + 1
	}
	s.addVictims(victims)
}

func (s *Store) addVictims(v watcherBatch) {
	if len(v) == 0 {
		return
	}
	s.watch.victims = append(s.watch.victims, v)
	select {
	case s.watch.victimc <- struct{}{}:
	default:
	}
}

// syncWatchersLoop syncs unsynced watchers every WatchSyncInterval, or again
// at once (after a pause as long as the sync took) while it makes progress,
// as etcd's loop does.
func (s *Store) syncWatchersLoop() {
	defer s.watch.loopsWG.Done()
	c := s.cfg.Clock
	// The loop starts with the first stream rather than with the store, so
	// it waits an interval before its first sync: etcd's first pass, at
	// store start, finds no watcher either.
	first := c.NewTimer(s.cfg.WatchSyncInterval)
	select {
	case <-first.C():
	case <-s.stop:
		first.Stop()
		return
	}
	for {
		s.watch.mu.Lock()
		before := s.watch.unsynced.size()
		s.watch.mu.Unlock()
		start := c.Now()
		after := 0
		if before > 0 {
			after = s.syncWatchers()
		}
		wait := s.cfg.WatchSyncInterval
		if after != 0 && before > after {
			wait = c.Since(start)
		}
		if wait <= 0 {
			select {
			case <-s.stop:
				return
			default:
				continue
			}
		}
		t := c.NewTimer(wait)
		select {
		case <-t.C():
		case <-s.stop:
			t.Stop()
			return
		}
	}
}

// syncVictimsLoop retries victims every WatchVictimInterval while there are
// any, and at once when notify adds some.
func (s *Store) syncVictimsLoop() {
	defer s.watch.loopsWG.Done()
	for {
		for s.moveVictims() != 0 {
		}
		s.watch.mu.Lock()
		empty := len(s.watch.victims) == 0
		s.watch.mu.Unlock()
		var tc <-chan time.Time
		var t clock.Timer
		if !empty {
			t = s.cfg.Clock.NewTimer(s.cfg.WatchVictimInterval)
			tc = t.C()
		}
		select {
		case <-tc:
		case <-s.watch.victimc:
		case <-s.stop:
		}
		if t != nil {
			t.Stop()
		}
		select {
		case <-s.stop:
			return
		default:
		}
	}
}

// moveVictims retries the pending responses of the victims; a delivered one
// returns its watcher to synced or unsynced (etcd's moveVictims). Sends do not
// block, so it holds mu throughout and Cancel always finds the watcher.
func (s *Store) moveVictims() (moved int) {
	ws := &s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	victims := ws.victims
	ws.victims = nil
	s.revMu.RLock()
	cur := s.currentRev
	s.revMu.RUnlock()
	var still watcherBatch
	for _, wb := range victims {
		for w, eb := range wb {
			// The watcher has seen everything up to, not including, minRev.
			if !w.send(WatchResponse{WatchID: w.id, Events: eb.evs, Revision: w.minRev - 1}) {
				if still == nil {
					still = watcherBatch{}
				}
				still[w] = eb
				continue
			}
			moved++
			w.victim = false
			if eb.moreRev != 0 {
				w.minRev = eb.moreRev
			}
			if w.minRev <= cur {
				ws.unsynced.add(w)
			} else {
				ws.synced.add(w)
			}
		}
	}
	if len(still) > 0 {
		ws.victims = append(ws.victims, still)
	}
	return moved
}

// syncWatchers catches up to WatchMaxWatchersPerSync unsynced watchers from
// the backend (etcd's syncWatchers): watchers below the compaction revision
// get CompactRevision and leave; the others get the events of the revisions
// from the lowest minRev among them, read by scanning the key bucket, at most
// WatchBatchMaxRevs revisions per watcher per response. A watcher that got
// everything up to the current revision becomes synced. It returns how many
// watchers are still unsynced.
func (s *Store) syncWatchers() int {
	ws := &s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.unsynced.size() == 0 {
		return 0
	}
	s.revMu.RLock()
	cur, compactRev := s.currentRev, s.compactMainRev
	// The view is opened under revMu, so it holds exactly the revisions up to
	// cur; mu keeps writers from moving past cur until the events are sent.
	rtx := s.b.ReadTx()
	s.revMu.RUnlock()
	defer rtx.Close()

	g, minRev := ws.unsynced.choose(s.cfg.WatchMaxWatchersPerSync, cur, compactRev)
	// etcd reads every revision up to cur in one range; WatchSyncMaxRevs,
	// when set, bounds the read and the memory it takes.
	maxRev := cur + 1
	if lim := int64(s.cfg.WatchSyncMaxRevs); lim > 0 && minRev < math.MaxInt64-lim && minRev+lim < maxRev {
		maxRev = minRev + lim
	}
	var wb watcherBatch
	if g.size() > 0 {
		var err error
		wb, err = s.readBatches(rtx, minRev, maxRev, g)
		if err != nil {
			// A damaged backend: leave everyone unsynced; the next sync
			// retries and reads fail the same way for everyone.
			s.watchErr.Store(&err)
			return ws.unsynced.size()
		}
	}
	var victims watcherBatch
	for w := range g.watchers {
		if w.minRev < compactRev {
			continue // its compaction notice did not fit: retried next time
		}
		eb := wb[w]
		if eb == nil && maxRev <= cur {
			// Nothing for it in a truncated read: it stays unsynced, past
			// what was read (never moving back, if it was past it already).
			w.minRev = max(w.minRev, maxRev)
			continue
		}
		w.minRev = max(cur+1, w.minRev)
		if eb == nil {
			ws.synced.add(w)
			ws.unsynced.delete(w)
			continue
		}
		if eb.moreRev == 0 && maxRev <= cur {
			eb.moreRev = maxRev
		}
		if eb.moreRev != 0 {
			w.minRev = eb.moreRev
		}
		if !w.send(WatchResponse{WatchID: w.id, Events: eb.evs, Revision: cur}) {
			w.victim = true
			if victims == nil {
				victims = watcherBatch{}
			}
			victims[w] = eb
		} else if eb.moreRev != 0 {
			continue // more to read: stays unsynced
		} else {
			ws.synced.add(w)
		}
		ws.unsynced.delete(w)
	}
	s.addVictims(victims)
	return ws.unsynced.size()
}

// choose picks up to max watchers of g to sync (all of g when it has fewer),
// sends the compaction notice to those below compactRev, and returns the
// chosen group and their lowest minRev (etcd's watcherGroup.choose).
func (g *watcherGroup) choose(maxWatchers int, cur, compactRev int64) (*watcherGroup, int64) {
	chosen := g
	if g.size() > maxWatchers {
		ng := newWatcherGroup()
		for w := range g.watchers {
			if ng.size() >= maxWatchers {
				break
			}
			ng.add(w)
		}
		chosen = &ng
	}
	minRev := int64(math.MaxInt64)
	for w := range chosen.watchers {
		if w.minRev < compactRev {
			select {
			case w.ch <- WatchResponse{WatchID: w.id, CompactRevision: compactRev}:
				w.compacted = true
				g.delete(w)
				if chosen != g {
					chosen.delete(w)
				}
			default:
				// The channel is full: retried at the next sync.
			}
			continue
		}
		minRev = min(minRev, w.minRev)
	}
	return chosen, minRev
}

// readBatches reads the events of revisions [minRev, maxRev) on keys some
// watcher of g watches, by scanning the key bucket, and splits them among the
// watchers of g (etcd's rangeEvents, kvsToEvents and newWatcherBatch). With
// WatchSyncStopWhenFull, the scan stops as soon as every watcher of g has a
// full batch: every later event would be left out of every batch, so the
// batches are the same as those of a read to maxRev.
func (s *Store) readBatches(rtx *backend.ReadTx, minRev, maxRev int64, g *watcherGroup) (watcherBatch, error) {
	b := newBatcher(g, s.cfg.WatchBatchMaxRevs)
	if minRev >= maxRev {
		return b.wb, nil
	}
	start := s.cfg.Clock.Now()
	var records, bytes, events int64
	var derr error
	err := rtx.Scan(KeyBucket(), RevBytes(Revision{Main: max(minRev, 0)}, false), RevBytes(Revision{Main: maxRev}, false), 0,
		func(k, v []byte) bool {
			records++
			bytes += int64(len(k) + len(v))
			ev, err := decodeEvent(k, v, g)
			if err != nil {
				derr = err
				return false
			}
			if ev.Kv != nil {
				events++
				b.add(ev)
			}
			return !s.cfg.WatchSyncStopWhenFull || b.full < g.size()
		})
	ws := &s.watch
	ws.syncReads.Add(1)
	ws.scanNanos.Add(int64(s.cfg.Clock.Since(start)))
	ws.records.Add(records)
	ws.bytes.Add(bytes)
	ws.events.Add(events)
	if derr != nil {
		return nil, derr
	}
	if err != nil {
		return nil, fmt.Errorf("mvcc: scanning the key bucket for watchers: %w", err)
	}
	return b.wb, nil
}

// decodeEvent turns one key-bucket record into an event, or into nothing
// (Kv nil) when g is not nil and no watcher of g watches its key. A
// tombstone's record holds only the key: the event gets the revision as its
// ModRevision, as in etcd.
func decodeEvent(k, v []byte, g *watcherGroup) (mvccpb.Event, error) {
	rev, tomb, err := ParseRevBytes(k)
	if err != nil {
		return mvccpb.Event{}, fmt.Errorf("mvcc: reading events: %w", err)
	}
	kv := &mvccpb.KeyValue{}
	if err := kv.Unmarshal(v); err != nil {
		return mvccpb.Event{}, fmt.Errorf("%w: record at revision %v: %v", ErrCorrupt, rev, err)
	}
	if g != nil && !g.contains(kv.Key) {
		return mvccpb.Event{}, nil
	}
	if tomb {
		kv.ModRevision = rev.Main
		return mvccpb.Event{Type: mvccpb.DELETE, Kv: kv}, nil
	}
	return mvccpb.Event{Type: mvccpb.PUT, Kv: kv}, nil
}

// txnEvents reads back the events of revision rev from the write txn's own
// buffer: for a txn that began with no watcher and got one before it ended.
func txnEvents(tx *backend.BatchTx, rev int64) ([]mvccpb.Event, error) {
	var evs []mvccpb.Event
	var derr error
	err := tx.UnsafeScan(KeyBucket(), RevBytes(Revision{Main: rev}, false), RevBytes(Revision{Main: rev + 1}, false), 0,
		func(k, v []byte) bool {
			ev, err := decodeEvent(k, v, nil)
			if err != nil {
				derr = err
				return false
			}
			evs = append(evs, ev)
			return true
		})
	if derr != nil {
		return nil, derr
	}
	return evs, err
}

// progressIfSynced sends a progress notification (Revision = current) if
// every watcher of ws (compacted ones aside) is synced and has started, on the first of them with ID
// respID (etcd's progressIfSync). It reports whether it sent.
func (s *Store) progressIfSynced(watchers map[WatchID]*watcher, respID WatchID) bool {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	rev := s.Rev()
	for _, w := range watchers {
		if w.compacted {
			continue // done: its stream forgets it when it forwards the notice
		}
		if !s.watch.synced.has(w) || rev < w.startRev {
			return false
		}
	}
	for _, w := range watchers {
		w.send(WatchResponse{WatchID: respID, Revision: rev})
		break
	}
	return true
}

// WatchErr returns the backend error the sync loop last hit, if any.
func (s *Store) WatchErr() error {
	if p := s.watchErr.Load(); p != nil {
		return *p
	}
	return nil
}
