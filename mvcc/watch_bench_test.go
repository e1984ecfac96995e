package mvcc

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/internal/clock"
)

// BenchmarkWatch measures the watch paths:
//
//   - op=put/watchers=N: ns per Put with N synced watchers (one on the put
//     key, the others on other keys, drained by a consumer). watchers=0 is
//     the cost of the no-watcher write path.
//   - op=catchup/engine=E/behind=N/sync-max-revs=M: one watcher on every key
//     from N revisions back, caught up from the backend by repeated syncs
//     (the loops' pacing left out); reports events/s. sync-max-revs=0 is
//     etcd's read of the whole backlog per sync.
func BenchmarkWatch(b *testing.B) {
	for _, n := range []int{0, 1, 1000} {
		b.Run(fmt.Sprintf("op=put/watchers=%d", n), func(b *testing.B) { benchWatchPut(b, n) })
	}
	behinds := []int{10_000, 100_000, 1_000_000}
	if testing.Short() {
		behinds = []int{10_000}
	}
	for _, name := range testEngineNames() {
		for _, behind := range behinds {
			for _, lim := range []int{0, 1000} {
				b.Run(fmt.Sprintf("op=catchup/engine=%s/behind=%d/sync-max-revs=%d", name, behind, lim), func(b *testing.B) {
					if behind >= 1_000_000 && lim == 0 {
						// etcd re-reads the whole backlog for every 1000
						// revisions delivered: quadratic, minutes at 1M.
						b.Skip("quadratic in the backlog: run by hand")
					}
					benchWatchCatchUp(b, name, behind, lim)
				})
			}
		}
	}
}

func benchWatchPut(b *testing.B, watchers int) {
	s := openStore(b, "memory", b.TempDir(), Config{Clock: clock.NewFake(time.Unix(0, 0))})
	defer func() { _ = s.Close() }()
	var ws *WatchStream
	if watchers > 0 {
		ws = s.NewWatchStream()
		defer ws.Close()
		go func() {
			for range ws.Chan() {
			}
		}()
		for i := 0; i < watchers; i++ {
			k := fmt.Sprintf("other%06d", i)
			if i == 0 {
				k = "key"
			}
			if _, err := ws.Watch(AutoWatchID, []byte(k), nil, 0, WatchOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	req := &pb.PutRequest{Key: []byte("key"), Value: make([]byte, 256)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Put(req); err != nil {
			b.Fatal(err)
		}
		if ws != nil && i%64 == 0 {
			// The victim loop is not ticking (fake clock): retry here.
			s.moveVictims()
		}
	}
}

func benchWatchCatchUp(b *testing.B, name string, behind, syncMaxRevs int) {
	s := openStore(b, name, b.TempDir(), Config{Clock: clock.NewFake(time.Unix(0, 0)), WatchSyncMaxRevs: syncMaxRevs})
	defer func() { _ = s.Close() }()
	val := make([]byte, 256)
	first := int64(0)
	for i := 0; i < behind; i++ {
		r, err := s.Put(&pb.PutRequest{Key: []byte(fmt.Sprintf("key%04d", i%1000)), Value: val})
		if err != nil {
			b.Fatal(err)
		}
		if first == 0 {
			first = r.Header.Revision
		}
	}
	if err := s.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var total int64
	for i := 0; i < b.N; i++ {
		ws := s.NewWatchStream()
		var got atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for r := range ws.Chan() {
				got.Add(int64(len(r.Events)))
			}
		}()
		if _, err := ws.Watch(AutoWatchID, []byte("key"), []byte("kez"), first, WatchOptions{}); err != nil {
			b.Fatal(err)
		}
		for got.Load() < int64(behind) {
			s.syncWatchers()
			s.moveVictims()
			runtime.Gosched()
		}
		ws.Close()
		<-done
		total += got.Load()
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}
