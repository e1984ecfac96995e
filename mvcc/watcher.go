package mvcc

import (
	"bytes"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// WatchID names a watcher within its WatchStream.
type WatchID int64

const (
	// AutoWatchID asks Watch to pick the ID (etcd's AutoWatchID).
	AutoWatchID WatchID = 0
	// InvalidWatchID is the ID of a stream-wide progress notification
	// (etcd's clientv3.InvalidWatchID), sent by RequestProgressAll.
	InvalidWatchID WatchID = -1
)

// WatchResponse is what a WatchStream delivers, as etcd's mvcc.WatchResponse.
//
//   - Events: the events of one or more whole revisions, in revision order
//     (a txn's events are never split between responses). The Kv records are
//     shared between the watchers of a stream and must not be modified.
//   - Revision: the store's revision when the response was made.
//   - CompactRevision: non-zero when the watcher's start revision had been
//     compacted; the watcher is cancelled and gets nothing more.
//
// A response with no events and no CompactRevision is a progress
// notification: the watcher (or, with WatchID InvalidWatchID, every watcher of
// the stream) has seen everything up to Revision.
type WatchResponse struct {
	WatchID         WatchID
	Events          []mvccpb.Event
	Revision        int64
	CompactRevision int64
}

// WatchOptions are the per-watcher options of etcd's WatchCreateRequest that
// the storage layer serves.
type WatchOptions struct {
	// NoPut and NoDelete drop put or delete events (etcd's NOPUT/NODELETE
	// filters). A response whose events are all filtered out is not sent.
	NoPut, NoDelete bool
	// PrevKV attaches to each event the key's previous record (read at
	// ModRevision-1, as etcd's v3rpc does; left nil when that revision was
	// compacted or the key did not exist).
	PrevKV bool
	// ProgressNotify asks for a progress notification every
	// Config.WatchProgressNotifyInterval in which the watcher got no events,
	// if it is synced then (etcd's progress_notify).
	ProgressNotify bool
}

// watcher is one watch of the store (etcd's watcher): a key or a range, the
// next revision it accepts, and the stream channel it sends to.
type watcher struct {
	key []byte
	// end: nil watches key alone; empty watches [key, +inf); else [key, end).
	end []byte

	// victim: the channel was full; the watcher sits in victims with the
	// response it could not get. compacted: it got its CompactRevision and
	// left every group.
	victim, compacted bool

	startRev int64
	// minRev is the lowest revision the watcher still has to receive.
	minRev int64
	id     WatchID

	noPut, noDelete bool
	ch              chan<- WatchResponse
}

func (w *watcher) isRange() bool { return w.end != nil }

func (w *watcher) matches(key []byte) bool {
	if w.end == nil {
		return bytes.Equal(w.key, key)
	}
	return bytes.Compare(key, w.key) >= 0 && (len(w.end) == 0 || bytes.Compare(key, w.end) < 0)
}

// send tries to deliver r without blocking, after the watcher's filters; a
// response left empty by the filters counts as delivered (etcd's send).
func (w *watcher) send(r WatchResponse) bool {
	progress := len(r.Events) == 0
	if (w.noPut || w.noDelete) && !progress {
		evs := make([]mvccpb.Event, 0, len(r.Events))
		for _, ev := range r.Events {
			if (w.noPut && ev.Type == mvccpb.PUT) || (w.noDelete && ev.Type == mvccpb.DELETE) {
				continue
			}
			evs = append(evs, ev)
		}
		r.Events = evs
	}
	if !progress && len(r.Events) == 0 && r.CompactRevision == 0 {
		return true
	}
	select {
	case w.ch <- r:
		return true
	default:
		return false
	}
}

// watcherGroup is a set of watchers indexed for event matching: key watchers
// by key (O(1) per event), range watchers in a set scanned per event. etcd
// keeps ranges in an interval tree; a linear scan is the same answer and is
// only slower with many range watchers of one store.
type watcherGroup struct {
	keys     map[string]map[*watcher]struct{}
	ranges   map[*watcher]struct{}
	watchers map[*watcher]struct{}
}

func newWatcherGroup() watcherGroup {
	return watcherGroup{
		keys:     map[string]map[*watcher]struct{}{},
		ranges:   map[*watcher]struct{}{},
		watchers: map[*watcher]struct{}{},
	}
}

func (g *watcherGroup) size() int { return len(g.watchers) }

func (g *watcherGroup) has(w *watcher) bool { _, ok := g.watchers[w]; return ok }

func (g *watcherGroup) add(w *watcher) {
	g.watchers[w] = struct{}{}
	if w.isRange() {
		g.ranges[w] = struct{}{}
		return
	}
	set := g.keys[string(w.key)]
	if set == nil {
		set = map[*watcher]struct{}{}
		g.keys[string(w.key)] = set
	}
	set[w] = struct{}{}
}

func (g *watcherGroup) delete(w *watcher) bool {
	if _, ok := g.watchers[w]; !ok {
		return false
	}
	delete(g.watchers, w)
	if w.isRange() {
		delete(g.ranges, w)
		return true
	}
	if set := g.keys[string(w.key)]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(g.keys, string(w.key))
		}
	}
	return true
}

// contains: some watcher of g watches key.
func (g *watcherGroup) contains(key []byte) bool {
	if len(g.keys[string(key)]) > 0 {
		return true
	}
	for w := range g.ranges {
		if w.matches(key) {
			return true
		}
	}
	return false
}

// each calls fn for every watcher of g watching key.
func (g *watcherGroup) each(key []byte, fn func(w *watcher)) {
	for w := range g.keys[string(key)] {
		fn(w)
	}
	for w := range g.ranges {
		if w.matches(key) {
			fn(w)
		}
	}
}

// eventBatch is one watcher's share of a run of events: at most maxRevs
// distinct revisions; moreRev is the first revision left out (0: none).
type eventBatch struct {
	evs     []mvccpb.Event
	revs    int
	moreRev int64
}

func (eb *eventBatch) add(ev mvccpb.Event, maxRevs int) {
	if eb.revs > maxRevs {
		return
	}
	if len(eb.evs) == 0 {
		eb.revs = 1
		eb.evs = append(eb.evs, ev)
		return
	}
	if ev.Kv.ModRevision > eb.evs[len(eb.evs)-1].Kv.ModRevision {
		eb.revs++
		if eb.revs > maxRevs {
			eb.moreRev = ev.Kv.ModRevision
			return
		}
	}
	eb.evs = append(eb.evs, ev)
}

type watcherBatch map[*watcher]*eventBatch

// newWatcherBatch splits evs (in revision order) among the watchers of g that
// watch their keys, skipping what a watcher has already had (below minRev).
func newWatcherBatch(g *watcherGroup, evs []mvccpb.Event, maxRevs int) watcherBatch {
	if g.size() == 0 {
		return nil
	}
	b := newBatcher(g, maxRevs)
	for _, ev := range evs {
		b.add(ev)
	}
	return b.wb
}

// batcher builds a watcherBatch one event at a time, in revision order
// (newWatcherBatch for events read as a stream); full counts the watchers
// whose batch is full (moreRev set): they take no more events.
type batcher struct {
	g       *watcherGroup
	maxRevs int
	wb      watcherBatch
	full    int
}

func newBatcher(g *watcherGroup, maxRevs int) *batcher {
	return &batcher{g: g, maxRevs: maxRevs, wb: watcherBatch{}}
}

func (b *batcher) add(ev mvccpb.Event) {
	b.g.each(ev.Kv.Key, func(w *watcher) {
		if ev.Kv.ModRevision < w.minRev {
			return
		}
		eb := b.wb[w]
		if eb == nil {
			eb = &eventBatch{}
			b.wb[w] = eb
		}
		wasFull := eb.moreRev != 0
		eb.add(ev, b.maxRevs)
		if !wasFull && eb.moreRev != 0 {
			b.full++
		}
	})
}
