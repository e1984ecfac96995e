package mvcc

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/engines/backend"
	"etcdlab/internal/clock"
)

// Benchmarks comparable with etcd's `benchmark mvcc put`: 8-byte random keys,
// 256-byte values, backend batch interval 100ms and limit 10000, synced
// commits. Run with e.g.
//
//	go test -run XXX -bench 'MVCC|TxnCAS|IndexMemory' -benchtime 200000x ./mvcc/

const (
	benchKeySize   = 8
	benchValueSize = 256
)

func benchKeys(seed uint64, n int) [][]byte {
	r := newRand(seed)
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = binary.BigEndian.AppendUint64(nil, r.Uint64())
	}
	return keys
}

func benchStore(b *testing.B, name string) *Store {
	b.Helper()
	be, err := backend.New(openEngine(b, name, b.TempDir()), backend.Config{
		BatchInterval: 100 * time.Millisecond, BatchLimit: 10000,
	})
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(be, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// rawBatchedPut writes keys with value straight to a fresh engine in synced
// batches of 1000 and returns the puts per second.
func rawBatchedPut(b *testing.B, name string, keys [][]byte, value []byte) float64 {
	e := openEngine(b, name, b.TempDir())
	defer e.Close()
	clk := clock.Real()
	start := clk.Now()
	batch := e.NewBatch()
	for i, k := range keys {
		batch.Put(KeyBucket(), k, value)
		if (i+1)%1000 == 0 || i == len(keys)-1 {
			if err := batch.Commit(true); err != nil {
				b.Fatal(err)
			}
		}
	}
	return float64(len(keys)) / clk.Since(start).Seconds()
}

func BenchmarkMVCCPut(b *testing.B) {
	for _, name := range testEngineNames() {
		b.Run("engine="+name, func(b *testing.B) {
			s := benchStore(b, name)
			keys := benchKeys(1, b.N)
			value := make([]byte, benchValueSize)
			reqs := make([]pb.PutRequest, b.N)
			for i := range reqs {
				reqs[i] = pb.PutRequest{Key: keys[i], Value: value}
			}
			clk := clock.Real()
			b.ReportAllocs()
			b.ResetTimer()
			start := clk.Now()
			for i := range reqs {
				if _, err := s.Put(&reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Commit(); err != nil { // the last puts are not done until committed
				b.Fatal(err)
			}
			elapsed := clk.Since(start)
			b.StopTimer()
			putsPerSec := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(putsPerSec, "puts/s")
			raw := rawBatchedPut(b, name, keys, value)
			b.ReportMetric(raw, "raw-puts/s")
			b.ReportMetric(putsPerSec/raw, "ratio-to-engine")
		})
	}
}

func BenchmarkMVCCRange(b *testing.B) {
	const preload = 10000
	for _, name := range testEngineNames() {
		b.Run("engine="+name, func(b *testing.B) {
			s := benchStore(b, name)
			keys := benchKeys(2, preload)
			value := make([]byte, benchValueSize)
			for _, k := range keys {
				if _, err := s.Put(&pb.PutRequest{Key: k, Value: value}); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Commit(); err != nil {
				b.Fatal(err)
			}
			r := newRand(3)
			clk := clock.Real()
			b.ReportAllocs()
			b.ResetTimer()
			start := clk.Now()
			for range b.N {
				resp, err := s.Range(&pb.RangeRequest{Key: keys[r.IntN(preload)]})
				if err != nil || len(resp.Kvs) != 1 {
					b.Fatalf("range: %v %v", resp, err)
				}
			}
			b.ReportMetric(float64(b.N)/clk.Since(start).Seconds(), "ranges/s")
		})
	}
}

// BenchmarkTxnCAS: compare-and-swap on one of 10000 keys: if mod_revision is
// the last one seen, put a new value.
func BenchmarkTxnCAS(b *testing.B) {
	const preload = 10000
	for _, name := range testEngineNames() {
		b.Run("engine="+name, func(b *testing.B) {
			s := benchStore(b, name)
			keys := benchKeys(4, preload)
			mods := make([]int64, preload)
			value := make([]byte, benchValueSize)
			for i, k := range keys {
				resp, err := s.Put(&pb.PutRequest{Key: k, Value: value})
				if err != nil {
					b.Fatal(err)
				}
				mods[i] = resp.Header.Revision
			}
			r := newRand(5)
			clk := clock.Real()
			b.ReportAllocs()
			b.ResetTimer()
			start := clk.Now()
			for range b.N {
				i := r.IntN(preload)
				resp, err := s.Txn(&pb.TxnRequest{
					Compare: []*pb.Compare{{Key: keys[i], Target: pb.Compare_MOD, Result: pb.Compare_EQUAL,
						TargetUnion: &pb.Compare_ModRevision{ModRevision: mods[i]}}},
					Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: keys[i], Value: value}}}},
				})
				if err != nil || !resp.Succeeded {
					b.Fatalf("cas: %v %v", resp, err)
				}
				mods[i] = resp.Header.Revision
			}
			if err := s.Commit(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/clk.Since(start).Seconds(), "txns/s")
		})
	}
}

// BenchmarkIndexPut puts b.N distinct 8-byte keys into a fresh index and
// reports the heap it holds per key; run with -benchtime=1000000x for the
// figure after 1,000,000 keys.
func BenchmarkIndexPut(b *testing.B) {
	keys := benchKeys(6, b.N)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ti := newTreeIndex()
	b.ResetTimer()
	for i, k := range keys {
		if _, _, err := ti.Put(k, Revision{Main: int64(i) + 2}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ti)
	runtime.KeepAlive(keys) // live in both measurements, so not counted
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "index-bytes/key")
}

// BenchmarkRestore measures Open's index rebuild over 100,000 keys written
// with two revisions each (a headline figure: recovery time).
func BenchmarkRestore(b *testing.B) {
	const keys = 100_000
	for _, name := range testEngineNames() {
		b.Run("engine="+name, func(b *testing.B) {
			dir := b.TempDir()
			be, err := backend.New(openEngine(b, name, dir), backend.Config{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			s, err := Open(be, Config{})
			if err != nil {
				b.Fatal(err)
			}
			ks := benchKeys(7, keys)
			value := make([]byte, benchValueSize)
			for range 2 {
				for _, k := range ks {
					if _, err := s.Put(&pb.PutRequest{Key: k, Value: value}); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			b.ResetTimer()
			for range b.N {
				be, err := backend.New(openEngine(b, name, dir), backend.Config{NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				s, err := Open(be, Config{})
				if err != nil {
					b.Fatal(err)
				}
				total += s.RestoreDuration()
				if s.Rev() != 2*keys+1 {
					b.Fatalf("restored at revision %d, want %d", s.Rev(), 2*keys+1)
				}
				b.StopTimer()
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "restore-ms")
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N)/float64(2*keys), "ns/record")
		})
	}
}
