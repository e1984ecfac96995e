package enginetest

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"testing"

	"etcdlab/engines/engine"
)

// Benchmark shape: etcd's own benchmark tool puts 8-byte keys with 256-byte
// values; batches of 1000 keys stand in for one backend batch interval.
const (
	benchKeySize   = 8
	benchValueSize = 256
	benchBatch     = 1000
	benchScanLen   = 100
	// benchReadKeys is the data set the read benchmarks run over: large enough
	// that it is not one page or one memtable, small enough to load in seconds.
	benchReadKeys = 100_000
	// benchSeed fixes the random keys, so every engine and every run reads and
	// writes the same sequence.
	benchSeed = 1
)

// Bench runs the benchmark suite on the engine that open opens in a fresh
// directory. Sub-benchmarks are op=put-batch|get|scan100 / keys=seq|rand /
// value=256. One op is one committed batch of 1000 puts (synced), one Get, or
// one scan of 100 keys. Each reports fsyncs/op and bytes-written/op from the
// engine's Stats, and bytes of keys and values per op.
func Bench(b *testing.B, open func(b *testing.B, dir string) engine.Engine) {
	bucket := engine.Bucket{ID: 1, Name: "bench", Sequential: false}
	for _, order := range []string{"seq", "rand"} {
		b.Run(fmt.Sprintf("op=put-batch/keys=%s/value=%d", order, benchValueSize), func(b *testing.B) {
			benchPut(b, open, bucket, order == "seq")
		})
	}
	// The read benchmarks share one loaded engine per Bench call, opened only
	// when one of them is selected, because loading costs more than they run.
	// Its directory belongs to this (parent) benchmark: a sub-benchmark's
	// TempDir is removed when that sub-benchmark ends.
	readDir := b.TempDir()
	var loaded engine.Engine
	defer func() {
		if loaded != nil {
			loaded.Close()
		}
	}()
	load := func(b *testing.B) engine.Engine {
		if loaded == nil {
			loaded = loadReadSet(b, open, readDir, bucket)
		}
		return loaded
	}
	for _, order := range []string{"seq", "rand"} {
		b.Run(fmt.Sprintf("op=get/keys=%s/value=%d", order, benchValueSize), func(b *testing.B) {
			benchGet(b, load(b), bucket, order == "seq")
		})
	}
	for _, order := range []string{"seq", "rand"} {
		b.Run(fmt.Sprintf("op=scan%d/keys=%s/value=%d", benchScanLen, order, benchValueSize), func(b *testing.B) {
			benchScan(b, load(b), bucket, order == "seq")
		})
	}
}

func benchKey(buf []byte, i uint64) []byte {
	binary.BigEndian.PutUint64(buf[:benchKeySize], i)
	return buf[:benchKeySize]
}

func benchValue(rng *rand.Rand) []byte {
	v := make([]byte, benchValueSize)
	rng.Read(v) // incompressible, as etcd's benchmark values are random
	return v
}

// reportStats turns the Stats delta of the timed section into per-op metrics.
func reportStats(b *testing.B, e engine.Engine, before engine.Stats) {
	d := e.Stats().Sub(before)
	b.ReportMetric(float64(d.Fsyncs)/float64(b.N), "fsyncs/op")
	b.ReportMetric(float64(d.BytesWritten)/float64(b.N), "bytes-written/op")
}

func benchPut(b *testing.B, open func(b *testing.B, dir string) engine.Engine, bucket engine.Bucket, seq bool) {
	e := open(b, b.TempDir())
	defer e.Close()
	rng := rand.New(rand.NewSource(benchSeed))
	// Every key gets its own incompressible value, cut from a large random
	// block: one value repeated would let pebble's block compression shrink
	// what it writes and flatter it.
	block := make([]byte, 1<<20)
	rng.Read(block)
	keyBuf := make([]byte, benchKeySize)
	batch := e.NewBatch()
	defer batch.Close()
	var next uint64
	b.SetBytes(benchBatch * (benchKeySize + benchValueSize))
	before := e.Stats()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < benchBatch; j++ {
			k := next
			next++
			if !seq {
				k = rng.Uint64()
			}
			off := rng.Intn(len(block) - benchValueSize)
			batch.Put(bucket, benchKey(keyBuf, k), block[off:off+benchValueSize])
		}
		if err := batch.Commit(true); err != nil {
			b.Fatalf("Commit: %v", err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*benchBatch/b.Elapsed().Seconds(), "keys/s")
	reportStats(b, e, before)
}

func loadReadSet(b *testing.B, open func(b *testing.B, dir string) engine.Engine, dir string, bucket engine.Bucket) engine.Engine {
	b.Helper()
	e := open(b, dir)
	rng := rand.New(rand.NewSource(benchSeed))
	keyBuf := make([]byte, benchKeySize)
	batch := e.NewBatch()
	defer batch.Close()
	for i := uint64(0); i < benchReadKeys; i++ {
		batch.Put(bucket, benchKey(keyBuf, i), benchValue(rng))
		if batch.Len() == benchBatch {
			if err := batch.Commit(false); err != nil {
				b.Fatalf("loading: %v", err)
			}
		}
	}
	if err := batch.Commit(true); err != nil {
		b.Fatalf("loading: %v", err)
	}
	return e
}

func benchGet(b *testing.B, e engine.Engine, bucket engine.Bucket, seq bool) {
	rng := rand.New(rand.NewSource(benchSeed))
	keyBuf := make([]byte, benchKeySize)
	v, err := e.NewView()
	if err != nil {
		b.Fatalf("NewView: %v", err)
	}
	defer v.Close()
	b.SetBytes(benchKeySize + benchValueSize)
	before := e.Stats()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := uint64(i % benchReadKeys)
		if !seq {
			k = uint64(rng.Intn(benchReadKeys))
		}
		val, err := v.Get(bucket, benchKey(keyBuf, k))
		if err != nil || len(val) != benchValueSize {
			b.Fatalf("Get(%d): %d bytes, %v", k, len(val), err)
		}
	}
	b.StopTimer()
	reportStats(b, e, before)
}

func benchScan(b *testing.B, e engine.Engine, bucket engine.Bucket, seq bool) {
	rng := rand.New(rand.NewSource(benchSeed))
	keyBuf := make([]byte, benchKeySize)
	v, err := e.NewView()
	if err != nil {
		b.Fatalf("NewView: %v", err)
	}
	defer v.Close()
	const starts = benchReadKeys - benchScanLen
	b.SetBytes(benchScanLen * (benchKeySize + benchValueSize))
	before := e.Stats()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := uint64(i*benchScanLen) % starts
		if !seq {
			start = uint64(rng.Intn(starts))
		}
		n := 0
		err := v.Scan(bucket, benchKey(keyBuf, start), nil, benchScanLen, func(_, val []byte) bool {
			n++
			return true
		})
		if err != nil || n != benchScanLen {
			b.Fatalf("Scan from %d: %d keys, %v", start, n, err)
		}
	}
	b.StopTimer()
	reportStats(b, e, before)
}
