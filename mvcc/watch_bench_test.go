package mvcc

import (
	"flag"
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
//   - op=catchup/engine=E/behind=N/read=R: one watcher on every key (1000
//     keys, 256-byte values) from N revisions back, caught up from the
//     backend by repeated syncs (the loops' pacing left out); reports
//     events/s, and the key-bucket records and bytes read and the scan time
//     per event delivered. read=all is etcd 3.6's read of the whole backlog
//     at every sync (the default), quadratic: at 1M behind it runs only with
//     -watch.quadratic (minutes); read=until-full stops once the watcher's
//     response is full (WatchSyncStopWhenFull).
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
			for _, readAll := range []bool{false, true} {
				read := map[bool]string{false: "until-full", true: "all"}[readAll]
				b.Run(fmt.Sprintf("op=catchup/engine=%s/behind=%d/read=%s", name, behind, read), func(b *testing.B) {
					if behind >= 1_000_000 && readAll && !*benchQuadratic {
						// etcd re-reads the whole backlog for every 1000
						// revisions delivered: quadratic, minutes at 1M.
						b.Skip("quadratic in the backlog: run with -watch.quadratic")
					}
					benchWatchCatchUp(b, name, behind, readAll)
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

var benchQuadratic = flag.Bool("watch.quadratic", false, "BenchmarkWatch: also run etcd's whole-backlog catch-up read at 1,000,000 revisions behind (minutes per engine)")

func benchWatchCatchUp(b *testing.B, name string, behind int, readAll bool) {
	s := openStore(b, name, b.TempDir(), Config{Clock: clock.NewFake(time.Unix(0, 0)), WatchSyncStopWhenFull: !readAll})
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
	before := s.WatchStats()
	b.ResetTimer()
	var total int64
	wall := time.Duration(0)
	for i := 0; i < b.N; i++ {
		start := time.Now()
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
		wall += time.Since(start)
		total += got.Load()
	}
	b.StopTimer()
	st := s.WatchStats()
	b.ReportMetric(float64(total)/wall.Seconds(), "events/s")
	b.ReportMetric(float64(st.Records-before.Records)/float64(total), "records-read/event")
	b.ReportMetric(float64(st.Bytes-before.Bytes)/float64(total), "bytes-read/event")
	b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N), "ns/op")
}
