package mvcc

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"etcdlab/internal/clock"
)

// TestWatchModel checks watch delivery against an oracle on every engine. A
// writer goroutine runs random puts, deletes, delete-ranges, multi-op txns
// and compactions (at revisions whose txn only put, see below) and records
// each revision's events as the oracle computes them from its own map; the
// test goroutine meanwhile opens watchers on keys, ranges and everything,
// from revision 0, from old revisions (caught up from the backend while the
// writer goes on) and with filters, on streams whose consumers are sometimes
// slow (tiny channel buffers, so watchers become victims), and cancels some;
// a syncer goroutine runs the sync and victim passes. At the end every
// watcher must have received exactly the oracle's events for its keys from
// its start revision, in order, each once, each revision in one response;
// a cancelled watcher a prefix of them; a watcher left behind by a compaction
// a prefix and then its CompactRevision.
//
// Compaction revisions are chosen among put-only revisions because etcd
// lets a watcher start at the compaction revision itself, whose tombstones
// the compaction may remove (etcd's behaviour, kept here).
func TestWatchModel(t *testing.T) {
	seed := testSeed(t)
	steps := 400
	if testing.Short() {
		steps = 150
	}
	for _, name := range testEngineNames() {
		t.Run("engine="+name, func(t *testing.T) {
			for i := uint64(0); i < 3; i++ {
				runWatchModel(t, name, seed+i, steps)
			}
		})
	}
}

var wmKeys = []string{"a", "b", "c", "d", "e", "f", "g", "h"}

type modelRev struct {
	rev     int64
	evs     []mvccpb.Event
	putOnly bool
}

type modelWatcher struct {
	id            WatchID
	stream        int
	key, end      []byte // as passed to Watch
	start         int64  // startRev passed
	before, after int64  // store revision around Watch (for start 0)
	opts          WatchOptions
	cancelled     bool

	got       []mvccpb.Event
	responses [][]int64 // revisions of each response
	compact   int64
}

func (m *modelWatcher) matches(key []byte) bool {
	switch {
	case len(m.end) == 0:
		return bytes.Equal(key, m.key)
	case len(m.end) == 1 && m.end[0] == 0:
		return bytes.Compare(key, m.key) >= 0
	}
	return bytes.Compare(key, m.key) >= 0 && bytes.Compare(key, m.end) < 0
}

func runWatchModel(t *testing.T, engineName string, seed uint64, steps int) {
	t.Logf("engine=%s seed=%d", engineName, seed)
	rng := newRand(seed)
	cfg := Config{
		Clock:                   clock.NewFake(time.Unix(0, 0)),
		WatchChanBufLen:         1 + rng.IntN(3),
		WatchMaxWatchersPerSync: 1 + rng.IntN(4),
		WatchBatchMaxRevs:       1 + rng.IntN(4),
		WatchSyncMaxRevs:        []int{0, 3, 7}[rng.IntN(3)],
		WatchSyncStopWhenFull:   rng.IntN(2) == 0,
		CompactionBatchLimit:    3,
		CompactionSleepInterval: 1,
	}
	s := openStore(t, engineName, t.TempDir(), cfg)
	defer func() { _ = s.Close() }()

	var (
		mu      sync.Mutex
		history []modelRev
	)
	// Writer.
	wrng := newRand(seed ^ 0xabcdef)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		live := map[string]string{}
		lastCompact := int64(0)
		for i := 0; i < steps; i++ {
			k := wmKeys[wrng.IntN(len(wmKeys))]
			var evs []mvccpb.Event
			var rev int64
			putOnly := false
			switch op := wrng.IntN(10); {
			case op < 5:
				v := fmt.Sprintf("v%d", i)
				resp, err := s.Put(&pb.PutRequest{Key: []byte(k), Value: []byte(v)})
				if err != nil {
					panic(err)
				}
				rev, putOnly = resp.Header.Revision, true
				evs = append(evs, putEvent(k, v, rev))
				live[k] = v
			case op < 7:
				end := wmKeys[min(len(wmKeys)-1, wrng.IntN(len(wmKeys)))]
				if end <= k {
					end = ""
				}
				resp, err := s.DeleteRange(&pb.DeleteRangeRequest{Key: []byte(k), RangeEnd: []byte(end)})
				if err != nil {
					panic(err)
				}
				rev = resp.Header.Revision
				for _, lk := range sortedKeys(live) {
					if lk == k || (end != "" && lk > k && lk < end) {
						evs = append(evs, mvccpb.Event{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte(lk), ModRevision: rev}})
						delete(live, lk)
					}
				}
			case op < 9:
				// A txn: puts on distinct keys then maybe a delete of another.
				perm := wrng.Perm(len(wmKeys))
				n := 1 + wrng.IntN(3)
				var ops []*pb.RequestOp
				var pending []func(rev int64)
				for j := 0; j < n; j++ {
					pk, v := wmKeys[perm[j]], fmt.Sprintf("t%d.%d", i, j)
					ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(pk), Value: []byte(v)}}})
					pending = append(pending, func(rev int64) { evs = append(evs, putEvent(pk, v, rev)); live[pk] = v })
				}
				putOnly = true
				if dk := wmKeys[perm[n]]; wrng.IntN(2) == 0 {
					ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte(dk)}}})
					pending = append(pending, func(rev int64) {
						if _, ok := live[dk]; ok {
							evs = append(evs, mvccpb.Event{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte(dk), ModRevision: rev}})
							delete(live, dk)
							putOnly = false
						}
					})
				}
				resp, err := s.Txn(&pb.TxnRequest{Success: ops})
				if err != nil {
					panic(err)
				}
				rev = resp.Header.Revision
				for _, f := range pending {
					f(rev)
				}
			default:
				if wrng.IntN(4) != 0 {
					continue // compactions: about 2.5% of the steps
				}
				// Compact at a put-only revision past the last compaction.
				mu.Lock()
				var cands []int64
				for _, h := range history {
					if h.putOnly && h.rev > lastCompact && h.rev < s.Rev()-20 {
						cands = append(cands, h.rev)
					}
				}
				mu.Unlock()
				if len(cands) > 0 {
					c := cands[wrng.IntN(len(cands))]
					if _, err := s.Compact(c); err != nil {
						panic(err)
					}
					lastCompact = c
				}
				continue
			}
			mu.Lock()
			if len(evs) > 0 {
				history = append(history, modelRev{rev: rev, evs: evs, putOnly: putOnly})
			}
			mu.Unlock()
			if i%8 == 0 {
				runtime.Gosched()
			}
		}
	}()

	// Syncer.
	stopSync := make(chan struct{})
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		for {
			select {
			case <-stopSync:
				return
			default:
			}
			s.syncWatchers()
			s.moveVictims()
			runtime.Gosched()
		}
	}()

	// Streams and their consumers.
	const nstreams = 3
	streams := make([]*WatchStream, nstreams)
	var wmu sync.Mutex // guards the modelWatchers' received data
	byStream := make([]map[WatchID]*modelWatcher, nstreams)
	finalSeen := make([]chan int64, nstreams)
	var consumers sync.WaitGroup
	for i := range streams {
		streams[i] = s.NewWatchStream()
		byStream[i] = map[WatchID]*modelWatcher{}
		finalSeen[i] = make(chan int64, 16)
		slow := i == 0
		consumers.Add(1)
		go func(i int) {
			defer consumers.Done()
			n := 0
			for r := range streams[i].Chan() {
				if r.WatchID == InvalidWatchID {
					select {
					case finalSeen[i] <- r.Revision:
					default:
					}
					continue
				}
				wmu.Lock()
				m := byStream[i][r.WatchID]
				if m == nil {
					wmu.Unlock()
					panic(fmt.Sprintf("response for unknown watcher %d", r.WatchID))
				}
				if r.CompactRevision != 0 {
					m.compact = r.CompactRevision
				}
				var revs []int64
				for _, ev := range r.Events {
					m.got = append(m.got, ev)
					if len(revs) == 0 || revs[len(revs)-1] != ev.Kv.ModRevision {
						revs = append(revs, ev.Kv.ModRevision)
					}
				}
				if len(revs) > 0 {
					m.responses = append(m.responses, revs)
				}
				wmu.Unlock()
				n++
				if slow && n%3 == 0 {
					for j := 0; j < 50; j++ {
						runtime.Gosched()
					}
				}
			}
		}(i)
	}

	// Watchers, opened while the writer runs.
	var all []*modelWatcher
	openWatcher := func(stream int, fromNow bool) {
		m := &modelWatcher{stream: stream}
		switch rng.IntN(3) {
		case 0:
			m.key = []byte(wmKeys[rng.IntN(len(wmKeys))])
		case 1:
			a, b := rng.IntN(len(wmKeys)), rng.IntN(len(wmKeys))
			if a > b {
				a, b = b, a
			}
			if a == b {
				b = a + 1
			}
			m.key = []byte(wmKeys[a])
			if b < len(wmKeys) {
				m.end = []byte(wmKeys[b])
			} else {
				m.end = []byte{0}
			}
		default:
			m.key, m.end = []byte{}, []byte{0}
		}
		m.opts = WatchOptions{NoPut: rng.IntN(8) == 0, NoDelete: rng.IntN(6) == 0, PrevKV: rng.IntN(4) == 0}
		cur := s.Rev()
		if !fromNow && rng.IntN(3) > 0 && cur > 1 {
			// Mostly past the last compaction (to catch up), sometimes
			// anywhere (to be compacted).
			lo := max(s.CompactRev(), 0) + 1
			if rng.IntN(4) == 0 || lo >= cur {
				lo = 1
			}
			m.start = lo + rng.Int64N(cur-lo+1)
		}
		wmu.Lock() // the consumer may see a response before Watch returns
		m.before = s.Rev()
		id, err := streams[m.stream].Watch(AutoWatchID, m.key, m.end, m.start, m.opts)
		m.after = s.Rev()
		if err != nil {
			wmu.Unlock()
			t.Fatal(err)
		}
		m.id = id
		byStream[m.stream][id] = m
		wmu.Unlock()
		all = append(all, m)
	}
	// One watcher every few revisions, so that they start throughout the
	// run, many of them from old revisions while the writer goes on.
	nextOpen, every := int64(0), int64(max(1, steps/40))
	for running := true; running; {
		select {
		case <-writerDone:
			running = false
		default:
		}
		if cur := s.Rev(); cur >= nextOpen {
			openWatcher(rng.IntN(nstreams), false)
			nextOpen = cur + every
		}
		switch rng.IntN(40) {
		case 0:
			if len(all) > 0 && rng.IntN(4) == 0 {
				m := all[rng.IntN(len(all))]
				if !m.cancelled {
					if err := streams[m.stream].Cancel(m.id); err == nil {
						wmu.Lock()
						m.cancelled = true
						wmu.Unlock()
					}
				}
			}
		}
		runtime.Gosched()
	}
	// One more per stream, after the last write: a stream with no watcher
	// answers no progress request (as in etcd).
	for i := range streams {
		openWatcher(i, true) // from now: never compacted
	}
	close(stopSync)
	<-syncDone

	// Quiesce: sync and retry victims until every watcher is synced; the
	// consumers keep draining meanwhile.
	for i := 0; ; i++ {
		s.syncWatchers()
		s.moveVictims()
		s.watch.mu.Lock()
		done := s.watch.unsynced.size() == 0 && len(s.watch.victims) == 0
		s.watch.mu.Unlock()
		if done {
			break
		}
		if i > 1_000_000 {
			t.Fatal("watchers never synced")
		}
		runtime.Gosched()
	}
	final := s.Rev()
	for i, ws := range streams {
		// A progress notification that finds the channel full is dropped, as
		// in etcd: ask again until one arrives.
		for got := int64(-1); got != final; {
			if !ws.RequestProgressAll() {
				t.Fatalf("stream %d: progress refused with every watcher synced", i)
			}
			for j := 0; j < 1000 && got != final; j++ {
				select {
				case got = <-finalSeen[i]:
					if got != final {
						t.Fatalf("stream %d: progress at %d, want %d", i, got, final)
					}
				default:
					runtime.Gosched()
				}
			}
		}
	}
	for _, ws := range streams {
		ws.Close()
	}
	consumers.Wait()

	mu.Lock()
	defer mu.Unlock()
	events, compacted, cancelled, old := 0, 0, 0, 0
	for _, m := range all {
		checkModelWatcher(t, m, history, final)
		events += len(m.got)
		if m.compact != 0 {
			compacted++
		}
		if m.cancelled {
			cancelled++
		}
		if m.start != 0 {
			old++
		}
	}
	t.Logf("revisions %d, watchers %d (%d from old revisions, %d compacted, %d cancelled), events checked %d",
		final, len(all), old, compacted, cancelled, events)
}

func checkModelWatcher(t *testing.T, m *modelWatcher, history []modelRev, final int64) {
	t.Helper()
	desc := fmt.Sprintf("watcher %d (stream %d, key %q end %q start %d [%d,%d] opts %+v cancelled %v compact %d)",
		m.id, m.stream, m.key, m.end, m.start, m.before, m.after, m.opts, m.cancelled, m.compact)
	from := m.start
	if from == 0 {
		from = m.before + 1
	}
	var want []mvccpb.Event
	for _, h := range history {
		if h.rev < from {
			continue
		}
		for _, ev := range h.evs {
			if !m.matches(ev.Kv.Key) || (m.opts.NoPut && ev.Type == mvccpb.PUT) || (m.opts.NoDelete && ev.Type == mvccpb.DELETE) {
				continue
			}
			want = append(want, ev)
		}
	}
	if m.start == 0 {
		// Started at the revision after m.before or after m.after: the
		// events of revisions in between may be missing, at the front.
		for len(want) > 0 && want[0].Kv.ModRevision <= m.after && (len(m.got) == 0 || m.got[0].Kv.ModRevision > want[0].Kv.ModRevision) {
			want = want[1:]
		}
	}
	prefixOnly := m.cancelled || m.compact != 0
	if len(m.got) > len(want) || (!prefixOnly && len(m.got) != len(want)) {
		t.Fatalf("%s: got %d events, want %d:\ngot  %s\nwant %s", desc, len(m.got), len(want), evsString(m.got), evsString(want))
	}
	for i := range m.got {
		g, w := m.got[i], want[i]
		if g.Type != w.Type || !bytes.Equal(g.Kv.Key, w.Kv.Key) || g.Kv.ModRevision != w.Kv.ModRevision ||
			(g.Type == mvccpb.PUT && !bytes.Equal(g.Kv.Value, w.Kv.Value)) {
			t.Fatalf("%s: event %d is %s, want %s:\ngot  %s\nwant %s", desc, i, evString(g), evString(w), evsString(m.got), evsString(want))
		}
	}
	if m.compact != 0 && m.compact <= from {
		t.Fatalf("%s: compaction notice at %d for a watcher from %d", desc, m.compact, from)
	}
	// Each revision whole in one response, and responses in order.
	seen := map[int64]bool{}
	last := int64(0)
	for _, revs := range m.responses {
		for _, r := range revs {
			if seen[r] || r < last {
				t.Fatalf("%s: revision %d split or out of order across responses %v", desc, r, m.responses)
			}
			seen[r] = true
			last = r
		}
	}
	_ = final
}

func putEvent(k, v string, rev int64) mvccpb.Event {
	return mvccpb.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(k), Value: []byte(v), ModRevision: rev}}
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func evString(ev mvccpb.Event) string {
	if ev.Type == mvccpb.DELETE {
		return fmt.Sprintf("del(%s@%d)", ev.Kv.Key, ev.Kv.ModRevision)
	}
	return fmt.Sprintf("put(%s=%s@%d)", ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
}

func evsString(evs []mvccpb.Event) string {
	var b bytes.Buffer
	for _, ev := range evs {
		b.WriteString(evString(ev))
		b.WriteByte(' ')
	}
	return b.String()
}
