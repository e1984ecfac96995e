package mvcc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"etcdlab/engines"
	"etcdlab/engines/backend"
	"etcdlab/internal/clock"
)

// openWatchStore opens a memory store with a fake clock, so the watch loops
// never tick unless a test advances it.
func openWatchStore(t *testing.T, cfg Config) (*Store, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Unix(0, 0))
	cfg.Clock = clk
	s := openStore(t, "memory", t.TempDir(), cfg)
	t.Cleanup(func() { _ = s.Close() })
	return s, clk
}

func wput(t *testing.T, s *Store, k, v string) int64 {
	t.Helper()
	r, err := s.Put(&pb.PutRequest{Key: []byte(k), Value: []byte(v)})
	if err != nil {
		t.Fatal(err)
	}
	return r.Header.Revision
}

func wdel(t *testing.T, s *Store, k string) int64 {
	t.Helper()
	r, err := s.DeleteRange(&pb.DeleteRangeRequest{Key: []byte(k)})
	if err != nil {
		t.Fatal(err)
	}
	return r.Header.Revision
}

// respString renders a response: id, revision, compact revision, events
// (with prev_kv values when set).
func respString(r WatchResponse) string {
	var b strings.Builder
	fmt.Fprintf(&b, "id=%d rev=%d", r.WatchID, r.Revision)
	if r.CompactRevision != 0 {
		fmt.Fprintf(&b, " compact=%d", r.CompactRevision)
	}
	for _, ev := range r.Events {
		b.WriteString(" " + evString(ev))
		if ev.PrevKv != nil {
			fmt.Fprintf(&b, "[prev=%s]", ev.PrevKv.Value)
		}
	}
	return b.String()
}

func TestWatchSyncedEventsPrevKVAndFilters(t *testing.T) {
	s, _ := openWatchStore(t, Config{})
	ws := s.NewWatchStream()
	defer ws.Close()
	a, _ := ws.Watch(AutoWatchID, []byte("a"), nil, 0, WatchOptions{PrevKV: true})
	nd, _ := ws.Watch(AutoWatchID, []byte("a"), []byte("c"), 0, WatchOptions{NoDelete: true})
	all, _ := ws.Watch(AutoWatchID, nil, []byte{0}, 0, WatchOptions{NoPut: true})
	if a != 0 || nd != 1 || all != 2 {
		t.Fatalf("auto IDs %d %d %d, want 0 1 2 (etcd starts at 0)", a, nd, all)
	}
	wput(t, s, "a", "1")
	wput(t, s, "a", "2")
	wput(t, s, "b", "3")
	wput(t, s, "c", "4") // outside [a, c), no delete: nobody
	wdel(t, s, "a")
	// A txn: both events in one response.
	if _, err := s.Txn(&pb.TxnRequest{Success: []*pb.RequestOp{
		{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("a"), Value: []byte("5")}}},
		{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("b"), Value: []byte("6")}}},
	}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"id=0 rev=2 put(a=1@2)",
		"id=1 rev=2 put(a=1@2)",
		"id=0 rev=3 put(a=2@3)[prev=1]",
		"id=1 rev=3 put(a=2@3)",
		"id=1 rev=4 put(b=3@4)",
		"id=0 rev=6 del(a@6)[prev=2]",
		"id=2 rev=6 del(a@6)",
		"id=0 rev=7 put(a=5@7)",
		"id=1 rev=7 put(a=5@7) put(b=6@7)",
	}
	got := map[string]bool{}
	for range want {
		got[respString(<-ws.Chan())] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %q in %v", w, got)
		}
	}
}

func TestWatchErrors(t *testing.T) {
	s, _ := openWatchStore(t, Config{})
	ws := s.NewWatchStream()
	defer ws.Close()
	for _, tc := range []struct {
		id       WatchID
		key, end string
		want     error
	}{
		{7, "a", "", nil},
		{7, "b", "", ErrWatcherDuplicateID},
		{AutoWatchID, "b", "a", ErrEmptyWatcherRange},
		{AutoWatchID, "b", "b", ErrEmptyWatcherRange},
		{AutoWatchID, "b", "\x00", nil},
	} {
		_, err := ws.Watch(tc.id, []byte(tc.key), []byte(tc.end), 0, WatchOptions{})
		if !errors.Is(err, tc.want) {
			t.Errorf("Watch(%d, %q, %q) = %v, want %v", tc.id, tc.key, tc.end, err, tc.want)
		}
	}
	if err := ws.Cancel(99); !errors.Is(err, ErrWatcherNotExist) {
		t.Errorf("cancel unknown: %v", err)
	}
	if err := ws.Cancel(7); err != nil {
		t.Errorf("cancel: %v", err)
	}
	ws.Close()
	if _, err := ws.Watch(AutoWatchID, []byte("a"), nil, 0, WatchOptions{}); !errors.Is(err, ErrWatchStreamClosed) {
		t.Errorf("watch on closed stream: %v", err)
	}
}

// TestWatchCatchUpInBatches: a watcher from an old revision is unsynced; each
// sync sends at most WatchBatchMaxRevs revisions, reading at most
// WatchSyncMaxRevs from the backend, then it joins the synced group.
func TestWatchCatchUpInBatches(t *testing.T) {
	for _, limit := range []int{0, 2} {
		t.Run(fmt.Sprintf("sync-max-revs=%d", limit), func(t *testing.T) {
			s, _ := openWatchStore(t, Config{WatchBatchMaxRevs: 3, WatchSyncMaxRevs: limit})
			for i := 0; i < 7; i++ {
				wput(t, s, "k", fmt.Sprint(i)) // revisions 2..8
			}
			ch := make(chan WatchResponse, 16)
			w := s.watchKey([]byte("k"), nil, 3, 1, WatchOptions{}, ch)
			var got []string
			for i := 0; s.syncWatchers() > 0; i++ {
				if i > 10 {
					t.Fatal("never synced")
				}
			}
			if !s.watch.synced.has(w) {
				t.Fatal("not synced after catch-up")
			}
			wput(t, s, "k", "x") // 9: through notify
			close(ch)
			for r := range ch {
				got = append(got, respString(r))
			}
			want := map[int]string{
				0: "id=1 rev=8 put(k=1@3) put(k=2@4) put(k=3@5)|id=1 rev=8 put(k=4@6) put(k=5@7) put(k=6@8)|id=1 rev=9 put(k=x@9)",
				2: "id=1 rev=8 put(k=1@3) put(k=2@4)|id=1 rev=8 put(k=3@5) put(k=4@6)|id=1 rev=8 put(k=5@7) put(k=6@8)|id=1 rev=9 put(k=x@9)",
			}[limit]
			if g := strings.Join(got, "|"); g != want {
				t.Fatalf("got  %s\nwant %s", g, want)
			}
		})
	}
}

// TestWatchVictim: a watcher whose channel is full becomes a victim holding
// its response; it is retried until delivered, then synced again, and no
// event is lost or repeated.
func TestWatchVictim(t *testing.T) {
	s, _ := openWatchStore(t, Config{})
	ch := make(chan WatchResponse, 1)
	w := s.watchKey([]byte("k"), nil, 0, 5, WatchOptions{}, ch)
	wput(t, s, "k", "1")
	wput(t, s, "k", "2") // channel full: victim
	if s.watch.synced.has(w) || !w.victim || len(s.watch.victims) != 1 {
		t.Fatalf("not a victim: synced %v victim %v", s.watch.synced.has(w), w.victim)
	}
	wput(t, s, "k", "3") // a victim is in no group: not notified
	if n := s.moveVictims(); n != 0 {
		t.Fatalf("moved %d with the channel still full", n)
	}
	var got []string
	got = append(got, respString(<-ch))
	if n := s.moveVictims(); n != 1 {
		t.Fatalf("moved %d, want 1", n)
	}
	got = append(got, respString(<-ch))
	// Revision 4 was missed while a victim: it is unsynced and caught up.
	if !s.watch.unsynced.has(w) {
		t.Fatal("want unsynced after missing a revision")
	}
	s.syncWatchers()
	got = append(got, respString(<-ch))
	wput(t, s, "k", "4")
	got = append(got, respString(<-ch))
	want := "id=5 rev=2 put(k=1@2)|id=5 rev=3 put(k=2@3)|id=5 rev=4 put(k=3@4)|id=5 rev=5 put(k=4@5)"
	if g := strings.Join(got, "|"); g != want {
		t.Fatalf("got  %s\nwant %s", g, want)
	}
}

// TestWatchCompacted: a watcher below the compaction revision gets
// CompactRevision and is cancelled; one at it catches up.
func TestWatchCompacted(t *testing.T) {
	s, _ := openWatchStore(t, Config{})
	for i := 0; i < 4; i++ {
		wput(t, s, "k", fmt.Sprint(i)) // 2..5
	}
	if err := s.CompactSync(4); err != nil {
		t.Fatal(err)
	}
	ws := s.NewWatchStream()
	defer ws.Close()
	old, _ := ws.Watch(AutoWatchID, []byte("k"), nil, 3, WatchOptions{})
	at, _ := ws.Watch(AutoWatchID, []byte("k"), nil, 4, WatchOptions{})
	s.syncWatchers()
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		got[respString(<-ws.Chan())] = true
	}
	for _, w := range []string{fmt.Sprintf("id=%d rev=0 compact=4", old), fmt.Sprintf("id=%d rev=5 put(k=2@4) put(k=3@5)", at)} {
		if !got[w] {
			t.Fatalf("missing %q in %v", w, got)
		}
	}
	// The compacted watcher is gone from the stream and the store.
	if err := ws.Cancel(old); !errors.Is(err, ErrWatcherNotExist) {
		t.Fatalf("cancel compacted watcher: %v", err)
	}
	if n := s.watch.count.Load(); n != 1 {
		t.Fatalf("%d watchers registered, want 1", n)
	}
}

// TestWatchFutureStart: a watcher from a future revision gets nothing
// before it.
func TestWatchFutureStart(t *testing.T) {
	s, _ := openWatchStore(t, Config{})
	ws := s.NewWatchStream()
	defer ws.Close()
	id, _ := ws.Watch(AutoWatchID, []byte("k"), nil, 4, WatchOptions{})
	wput(t, s, "k", "a") // 2
	wput(t, s, "k", "b") // 3
	wput(t, s, "k", "c") // 4
	if g := respString(<-ws.Chan()); g != fmt.Sprintf("id=%d rev=4 put(k=c@4)", id) {
		t.Fatal(g)
	}
}

// TestWatchProgress: on request only when every watcher is synced (deferred
// otherwise, then sent once they are), and periodically to quiet watchers
// with ProgressNotify.
func TestWatchProgress(t *testing.T) {
	s, clk := openWatchStore(t, Config{WatchProgressNotifyInterval: time.Minute})
	wput(t, s, "k", "1") // 2
	wput(t, s, "k", "2") // 3
	ws := s.NewWatchStream()
	defer ws.Close()
	synced, _ := ws.Watch(AutoWatchID, []byte("k"), nil, 0, WatchOptions{ProgressNotify: true})
	behind, _ := ws.Watch(AutoWatchID, []byte("k"), nil, 2, WatchOptions{})
	ws.RequestProgress(behind) // unsynced: nothing
	if ws.RequestProgressAll() {
		t.Fatal("progress with a watcher unsynced")
	}
	s.syncWatchers()
	if g := respString(<-ws.Chan()); g != fmt.Sprintf("id=%d rev=3 put(k=1@2) put(k=2@3)", behind) {
		t.Fatal(g)
	}
	// The deferred request is answered after that response is forwarded.
	if g := respString(<-ws.Chan()); g != "id=-1 rev=3" {
		t.Fatal(g)
	}
	ws.RequestProgress(synced)
	if g := respString(<-ws.Chan()); g != fmt.Sprintf("id=%d rev=3", synced) {
		t.Fatal(g)
	}
	clk.Advance(time.Minute)
	if g := respString(<-ws.Chan()); g != fmt.Sprintf("id=%d rev=3", synced) {
		t.Fatalf("periodic: %s", g)
	}
}

// TestWatchRegisteredDuringWrite: a watcher registered while a write txn
// that began without watchers is open still gets that txn's events (read back
// from the BatchTx).
func TestWatchRegisteredDuringWrite(t *testing.T) {
	s, _ := openWatchStore(t, Config{})
	w, err := s.beginWrite()
	if err != nil {
		t.Fatal(err)
	}
	if w.track {
		t.Fatal("tracking with no watcher")
	}
	if err := w.put([]byte("k"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	ch := make(chan WatchResponse, 1)
	s.watchKey([]byte("k"), nil, 0, 1, WatchOptions{}, ch)
	w.end()
	if g := respString(<-ch); g != "id=1 rev=2 put(k=v@2)" {
		t.Fatal(g)
	}
}

// TestPutNoWatcherAllocs: with no watcher the write path allocates nothing
// for watch: the same as before any stream, after a stream was opened and
// closed.
func TestPutNoWatcherAllocs(t *testing.T) {
	s, _ := openWatchStore(t, Config{})
	req := &pb.PutRequest{Key: []byte("k"), Value: []byte("v")}
	run := func() float64 {
		return testing.AllocsPerRun(200, func() {
			if _, err := s.Put(req); err != nil {
				t.Fatal(err)
			}
		})
	}
	before := run()
	ws := s.NewWatchStream()
	if _, err := ws.Watch(AutoWatchID, []byte("other"), nil, 0, WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	with := run()
	ws.Close()
	after := run()
	if after > before {
		t.Fatalf("put allocs: %v before any watcher, %v after (with a watcher: %v)", before, after, with)
	}
	if with <= before {
		t.Logf("with a watcher on another key: %v allocs (events kept)", with)
	}
	_ = mvccpb.PUT
}

// TestWatchRestore: Restore swaps in another backend (a snapshot from a
// store that went further) under open watchers, as etcd's
// watchableStore.Restore: the synced watcher becomes unsynced and catches up
// from the new backend, getting exactly the revisions it had not seen; the
// index, revision and consistent index are the new backend's.
func TestWatchRestore(t *testing.T) {
	for _, name := range testEngineNames() {
		t.Run("engine="+name, func(t *testing.T) {
			// The leader's store: the follower's history and then more.
			leader := openStore(t, name, t.TempDir(), Config{})
			defer leader.Close()
			s, _ := openWatchStore(t, Config{})
			for i := range 3 {
				wput(t, leader, "k", fmt.Sprint(i)) // 2..4
				wput(t, s, "k", fmt.Sprint(i))
			}
			wput(t, leader, "k", "3")               // 5
			wput(t, leader, "other", "o")           // 6
			wdel(t, leader, "k")                    // 7
			leader.SetConsistentIndex(42, 3)        // as the applied entry
			if err := leader.Commit(); err != nil { // the image holds it
				t.Fatal(err)
			}
			ch := make(chan WatchResponse, 16)
			w := s.watchKey([]byte("k"), nil, 0, 1, WatchOptions{}, ch)
			if !s.watch.synced.has(w) {
				t.Fatal("watcher not synced before restore")
			}
			var img strings.Builder
			if _, err := leader.Backend().Snapshot(&img); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			err := s.Restore(func(old *backend.Backend) (*backend.Backend, error) {
				if err := old.Close(); err != nil {
					return nil, err
				}
				e, err := engines.OpenImage(name, strings.NewReader(img.String()), dir, nil)
				if err != nil {
					return nil, err
				}
				return backend.New(e, backend.Config{NoSync: true})
			})
			if err != nil {
				t.Fatal(err)
			}
			if s.watch.synced.has(w) || !s.watch.unsynced.has(w) {
				t.Fatal("watcher still synced after restore")
			}
			if got := s.Rev(); got != 7 {
				t.Fatalf("rev %d after restore, want 7", got)
			}
			if ci, term := s.ConsistentIndex(); ci != 42 || term != 3 {
				t.Fatalf("consistent index %d term %d, want 42 3", ci, term)
			}
			for i := 0; s.syncWatchers() > 0; i++ {
				if i > 10 {
					t.Fatal("never synced")
				}
			}
			wput(t, s, "k", "after") // 8: through notify again
			close(ch)
			var got []string
			for r := range ch {
				got = append(got, respString(r))
			}
			want := "id=1 rev=7 put(k=3@5) del(k@7)|id=1 rev=8 put(k=after@8)"
			if g := strings.Join(got, "|"); g != want {
				t.Fatalf("got  %s\nwant %s", g, want)
			}
		})
	}
}

// TestWatchCatchUpEarlyStop: the default catch-up read, which stops once every
// watcher of a sync has a full batch, gives every watcher the same responses
// as etcd's read of the whole backlog (WatchSyncReadAll), on every engine: key
// and range watchers from different revisions, keys written often and
// rarely, multi-key deletes (several events in one revision), a key never
// written; and it reads fewer records.
func TestWatchCatchUpEarlyStop(t *testing.T) {
	type spec struct {
		key, end string
		start    int64
	}
	specs := []spec{
		{"k1", "", 2}, {"k3", "", 50}, {"k2", "k5", 10}, {"k", "l", 100},
		{"k9", "", 150}, {"zz", "", 5}, {"k0", "", 1}, {"a", "", 2},
	}
	run := func(t *testing.T, name string, readAll bool) ([]string, WatchStats) {
		clk := clock.NewFake(time.Unix(0, 0))
		s := openStore(t, name, t.TempDir(), Config{Clock: clk, WatchBatchMaxRevs: 3,
			WatchMaxWatchersPerSync: 3, WatchSyncStopWhenFull: !readAll})
		defer func() { _ = s.Close() }()
		rng := newRand(7)
		for i := 0; i < 300; i++ {
			switch {
			case i%25 == 24:
				if _, err := s.DeleteRange(&pb.DeleteRangeRequest{Key: []byte("k0"), RangeEnd: []byte("k5")}); err != nil {
					t.Fatal(err)
				}
			case i%40 == 0:
				wput(t, s, "a", fmt.Sprint(i)) // rare key
			default:
				// k0..k4 often, k5..k9 rarely.
				k := rng.IntN(5)
				if rng.IntN(4) == 0 {
					k += 5
				}
				wput(t, s, fmt.Sprintf("k%d", k), fmt.Sprint(i))
			}
		}
		chans := make([]chan WatchResponse, len(specs))
		for i, sp := range specs {
			chans[i] = make(chan WatchResponse, 1024)
			var end []byte
			if sp.end != "" {
				end = []byte(sp.end)
			}
			s.watchKey([]byte(sp.key), end, sp.start, WatchID(i+1), WatchOptions{}, chans[i])
		}
		for i := 0; s.syncWatchers() > 0; i++ {
			if i > 1000 {
				t.Fatal("never synced")
			}
		}
		out := make([]string, len(specs))
		for i, ch := range chans {
			close(ch)
			var rs []string
			for r := range ch {
				rs = append(rs, respString(r))
			}
			out[i] = strings.Join(rs, "\n")
		}
		return out, s.WatchStats()
	}
	for _, name := range testEngineNames() {
		t.Run(name, func(t *testing.T) {
			early, es := run(t, name, false)
			all, as := run(t, name, true)
			for i := range specs {
				if early[i] != all[i] {
					t.Errorf("watcher %+v:\nearly stop:\n%s\nread all:\n%s", specs[i], early[i], all[i])
				}
				if early[i] == "" && specs[i].key != "zz" {
					t.Errorf("watcher %+v got nothing", specs[i])
				}
			}
			if es.Records >= as.Records || es.SyncReads == 0 || es.Bytes == 0 {
				t.Errorf("early stop read %+v, read-all %+v: want fewer records", es, as)
			}
		})
	}
}
