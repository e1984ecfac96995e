package wal

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"etcdlab/internal/clock"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

const benchDataBytes = 256

// rawFdatasync measures the disk's fdatasync rate the way the WAL uses it:
// sequential writes of size bytes into a file preallocated (or not) to
// DefaultSegmentSize, each followed by fdatasync. It returns syncs/s.
func rawFdatasync(tb testing.TB, dir string, prealloc bool, size int, n int) (float64, time.Duration) {
	f, err := vfs.Default.Create(filepath.Join(dir, fmt.Sprintf("raw-%v.dat", prealloc)), writeCategory)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if prealloc {
		if err := preallocate(f, DefaultSegmentSize); err != nil {
			tb.Fatal(err)
		}
	}
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i)
	}
	clk := clock.Real()
	start := clk.Now()
	for i := 0; i < n; i++ {
		if _, err := f.WriteAt(buf, int64(i*size)); err != nil {
			tb.Fatal(err)
		}
		if err := f.SyncData(); err != nil {
			tb.Fatal(err)
		}
	}
	d := clk.Since(start)
	return float64(n) / d.Seconds(), d
}

// BenchmarkRawFdatasync is the baseline for Save with sync: one small write
// (the size of a framed single-entry Save) plus fdatasync per op, on the
// real disk.
func BenchmarkRawFdatasync(b *testing.B) {
	for _, prealloc := range []bool{true, false} {
		b.Run(fmt.Sprintf("prealloc=%v", prealloc), func(b *testing.B) {
			dir := b.TempDir()
			b.ResetTimer()
			rate, _ := rawFdatasync(b, dir, prealloc, 288, b.N)
			b.ReportMetric(rate, "syncs/s")
		})
	}
}

// nullFS discards writes and syncs, so Save's cost is encoding alone.
type nullFS struct{ vfs.FS }

func (n nullFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := n.FS.Create(name, c)
	return nullFile{f}, err
}

func (n nullFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, o ...vfs.OpenOption) (vfs.File, error) {
	f, err := n.FS.OpenReadWrite(name, c, o...)
	return nullFile{f}, err
}

type nullFile struct{ vfs.File }

func (nullFile) Write(p []byte) (int, error)            { return len(p), nil }
func (nullFile) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }
func (nullFile) Sync() error                            { return nil }
func (nullFile) SyncData() error                        { return nil }
func (nullFile) Preallocate(_, _ int64) error           { return nil }

// BenchmarkSave measures Save of 1, 10 and 100 entries of 256 bytes with
// fdatasync on the real disk (default 64 MB preallocated segments) and
// without any I/O (encoding cost). The raw fdatasync rate of a preallocated
// file is measured first in the same run and reported next to the sync=true
// results as raw-syncs/s and pct-of-raw.
func BenchmarkSave(b *testing.B) {
	raw, _ := rawFdatasync(b, b.TempDir(), true, 288, 3000)
	for _, sync := range []bool{true, false} {
		for _, n := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("entries=%d/sync=%v", n, sync), func(b *testing.B) {
				var fs vfs.FS = vfs.Default
				dir := filepath.Join(b.TempDir(), "w")
				if !sync {
					fs, dir = nullFS{vfs.NewMem()}, "w"
				}
				w, err := Create(fs, dir, nil, Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				// Entries are built outside the timer; their indexes are
				// rewritten per op, which raft would hand us anyway.
				ents := makeEnts(newRNG(1), 1, 1, n, benchDataBytes)
				st0 := w.Stats()
				var idx uint64
				b.SetBytes(int64(n * benchDataBytes))
				b.ResetTimer()
				clk := clock.Real()
				start := clk.Now()
				for i := 0; i < b.N; i++ {
					for j := range ents {
						idx++
						ents[j].Index = idx
					}
					if err := w.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: idx}, ents); err != nil {
						b.Fatal(err)
					}
				}
				el := clk.Since(start).Seconds()
				b.StopTimer()
				st := w.Stats()
				b.ReportMetric(float64(b.N*n)/el, "entries/s")
				if sync {
					syncs := float64(st.Syncs - st0.Syncs)
					b.ReportMetric(syncs/el, "syncs/s")
					b.ReportMetric(syncs/float64(b.N), "fsyncs/op")
					b.ReportMetric(raw, "raw-syncs/s")
					b.ReportMetric(100*float64(b.N)/el/raw, "pct-of-raw")
					b.ReportMetric(float64(st.SyncP99.Nanoseconds()), "sync-p99-ns")
				}
			})
		}
	}
}
