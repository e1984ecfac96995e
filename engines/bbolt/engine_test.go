package bbolt

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"etcdlab/engines/engine"
)

var seedFlag = flag.Int64("seed", 0, "seed for randomized tests (0: pick one and log it)")

func testSeed(t *testing.T) int64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	return seed
}

var (
	bktA   = engine.Bucket{ID: 1, Name: "a"}
	bktB   = engine.Bucket{ID: 2, Name: "b"}
	bktSeq = engine.Bucket{ID: 3, Name: "key", Sequential: true}
)

// open opens the engine in dir with key=value options and closes it at the
// end of the test.
func open(t *testing.T, dir string, kvs ...string) *Engine {
	t.Helper()
	e, err := openErr(dir, kvs...)
	if err != nil {
		t.Fatalf("Open(%s, %v): %v", dir, kvs, err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func openErr(dir string, kvs ...string) (*Engine, error) {
	kv, err := engine.ParseKV(Name, kvs, Knobs())
	if err != nil {
		return nil, err
	}
	o, err := ParseOptions(kv)
	if err != nil {
		return nil, err
	}
	return Open(dir, o)
}

func commit(t *testing.T, e engine.Engine, sync bool, f func(b engine.Batch)) {
	t.Helper()
	b := e.NewBatch()
	defer b.Close()
	f(b)
	if err := b.Commit(sync); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func get(t *testing.T, e engine.Engine, bk engine.Bucket, key string) (string, bool) {
	t.Helper()
	v, err := e.NewView()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	val, err := v.Get(bk, []byte(key))
	if errors.Is(err, engine.ErrNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatalf("Get(%s, %q): %v", bk, key, err)
	}
	return string(val), true
}

func scanAll(t *testing.T, e engine.Engine, bk engine.Bucket) map[string]string {
	t.Helper()
	v, err := e.NewView()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	out := map[string]string{}
	var last []byte
	if err := v.Scan(bk, nil, nil, 0, func(k, val []byte) bool {
		if last != nil && bytes.Compare(last, k) >= 0 {
			t.Errorf("scan out of order: %q after %q", k, last)
		}
		last = append(last[:0], k...)
		out[string(k)] = string(val)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBatchSemantics(t *testing.T) {
	e := open(t, t.TempDir())
	// Absent bucket: not found, empty scan.
	if _, ok := get(t, e, bktA, "x"); ok {
		t.Fatal("found a key in an absent bucket")
	}
	if got := scanAll(t, e, bktA); len(got) != 0 {
		t.Fatalf("scan of absent bucket: %v", got)
	}
	// A delete (and a range delete) in an absent bucket, then a put in it,
	// all in one batch: the put must land.
	commit(t, e, true, func(b engine.Batch) {
		b.Delete(bktA, []byte("zz"))
		b.DeleteRange(bktA, nil, nil)
		b.Put(bktA, []byte("k1"), []byte("v1"))
		b.Put(bktA, []byte("empty"), nil)
		b.Put(bktB, []byte("k1"), []byte("other"))
	})
	if v, ok := get(t, e, bktA, "k1"); !ok || v != "v1" {
		t.Fatalf("k1 = %q, %v", v, ok)
	}
	if v, ok := get(t, e, bktA, "empty"); !ok || v != "" {
		t.Fatalf("empty value = %q, %v", v, ok)
	}
	// Ops apply in order; the batch copies the caller's slices.
	key, val := []byte("k2"), []byte("first")
	commit(t, e, false, func(b engine.Batch) {
		b.Put(bktA, key, val)
		copy(val, "XXXXX")
		copy(key, "XX")
		b.Delete(bktA, []byte("k1"))
		b.Put(bktA, []byte("k1"), []byte("again"))
		b.Put(bktA, []byte("k3"), []byte("gone"))
		b.DeleteRange(bktA, []byte("k3"), []byte("k4"))
		if b.Len() != 5 {
			t.Errorf("Len = %d, want 5", b.Len())
		}
	})
	want := map[string]string{"empty": "", "k1": "again", "k2": "first"}
	if got := scanAll(t, e, bktA); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("bucket a = %v, want %v", got, want)
	}
	if got := scanAll(t, e, bktB); len(got) != 1 || got["k1"] != "other" {
		t.Fatalf("bucket b = %v", got)
	}
}

func TestScanRangesAndLimits(t *testing.T) {
	e := open(t, t.TempDir())
	commit(t, e, false, func(b engine.Batch) {
		for i := 0; i < 50; i++ {
			b.Put(bktA, []byte(fmt.Sprintf("k%02d", i)), []byte{byte(i)})
		}
	})
	v, err := e.NewView()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	scan := func(start, end string, limit int) []string {
		var s, en []byte
		if start != "" {
			s = []byte(start)
		}
		if end != "" {
			en = []byte(end)
		}
		var out []string
		if err := v.Scan(bktA, s, en, limit, func(k, _ []byte) bool { out = append(out, string(k)); return true }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		start, end string
		limit      int
		want       string
	}{
		{"k10", "k13", 0, "[k10 k11 k12]"},
		{"k10", "k13", 2, "[k10 k11]"},
		{"k475", "", 0, "[k48 k49]"},
		{"k48", "", -1, "[k48 k49]"},
		{"", "k02", 0, "[k00 k01]"},
		{"k13", "k10", 0, "[]"},
		{"k5", "", 0, "[]"},
	} {
		if got := fmt.Sprint(scan(tc.start, tc.end, tc.limit)); got != tc.want {
			t.Errorf("scan [%q,%q) limit %d = %s, want %s", tc.start, tc.end, tc.limit, got, tc.want)
		}
	}
	n := 0
	_ = v.Scan(bktA, nil, nil, 0, func(_, _ []byte) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("callback returning false did not stop the scan: %d calls", n)
	}
}

func TestBadBatchIsAtomic(t *testing.T) {
	e := open(t, t.TempDir())
	b := e.NewBatch()
	for _, tc := range []struct {
		name string
		f    func(b engine.Batch)
	}{
		{"empty-key", func(b engine.Batch) { b.Put(bktA, nil, []byte("v")) }},
		{"key-too-large", func(b engine.Batch) { b.Put(bktA, make([]byte, 40000), []byte("v")) }},
		{"empty-bucket-name", func(b engine.Batch) { b.Put(engine.Bucket{ID: 9}, []byte("k"), []byte("v")) }},
	} {
		b.Put(bktA, []byte("before"), []byte("x"))
		tc.f(b)
		if err := b.Commit(true); err == nil {
			t.Errorf("%s: Commit succeeded", tc.name)
		} else if !strings.Contains(err.Error(), "bbolt") {
			t.Errorf("%s: unhelpful error %v", tc.name, err)
		}
		if b.Len() != 0 {
			t.Errorf("%s: batch not emptied by a failed Commit", tc.name)
		}
		if _, ok := get(t, e, bktA, "before"); ok {
			t.Errorf("%s: part of a failed batch was committed", tc.name)
		}
	}
	// The batch is reusable.
	b.Put(bktA, []byte("after"), []byte("y"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, e, bktA, "after"); !ok {
		t.Fatal("reused batch lost its put")
	}
	if s := e.Stats(); s.Commits != 1 {
		t.Errorf("Commits = %d, want 1 (failed commits do not count)", s.Commits)
	}
}

func TestViewIsolation(t *testing.T) {
	e := open(t, t.TempDir())
	commit(t, e, true, func(b engine.Batch) { b.Put(bktA, []byte("k"), []byte("old")) })
	v, err := e.NewView()
	if err != nil {
		t.Fatal(err)
	}
	old, err := v.Get(bktA, []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	// Commits go ahead while the view is open (same goroutine: a blocked
	// commit would hang the test) and the view does not see them.
	for i := 0; i < 20; i++ {
		commit(t, e, i%2 == 0, func(b engine.Batch) {
			b.Put(bktA, []byte("k"), []byte(fmt.Sprintf("new%d", i)))
			b.Put(bktA, []byte(fmt.Sprintf("n%d", i)), bytes.Repeat([]byte("x"), 3000))
		})
	}
	if again, err := v.Get(bktA, []byte("k")); err != nil || string(again) != "old" || string(old) != "old" {
		t.Fatalf("view changed: %q %q %v", old, again, err)
	}
	if _, err := v.Get(bktA, []byte("n0")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("view sees a later commit: %v", err)
	}
	if got := e.Stats().Native["bbolt.open_read_tx"]; got != 1 {
		t.Errorf("open_read_tx = %v, want 1", got)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := v.Get(bktA, []byte("k")); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Get after view Close: %v", err)
	}
	if v, _ := get(t, e, bktA, "k"); v != "new19" {
		t.Fatalf("k = %q", v)
	}
}

func TestStatsFsyncs(t *testing.T) {
	e := open(t, t.TempDir())
	st := e.Stats()
	if st.Engine != Name || st.Fsyncs != 2 || st.BytesWritten != 4*int64(e.pageSize) || st.Commits != 0 {
		t.Fatalf("new file: %+v (want bbolt init's fdatasync plus a dir fsync, 4 pages)", st)
	}
	// The first commit also grows the file (truncate + fsync).
	commit(t, e, true, func(b engine.Batch) { b.Put(bktA, []byte("warm"), []byte("up")) })
	d := e.Stats().Sub(st)
	if d.Fsyncs != 3 || d.Native["bbolt.grow_syncs"] != 1 {
		t.Fatalf("first commit: %d fsyncs, %v grow syncs; want 3 and 1", d.Fsyncs, d.Native["bbolt.grow_syncs"])
	}

	before := e.Stats()
	commit(t, e, true, func(b engine.Batch) { b.Put(bktA, []byte("key"), []byte("value")) })
	d = e.Stats().Sub(before)
	if d.Commits != 1 || d.SyncedCommits != 1 || d.Fsyncs != 2 || d.LogicalBytes != 8 {
		t.Errorf("synced commit: %+v", d)
	}
	alloc := e.Stats().Native["bbolt.tx.page_alloc_bytes"] - before.Native["bbolt.tx.page_alloc_bytes"]
	if alloc < float64(e.pageSize) || d.BytesWritten != int64(alloc)+int64(e.pageSize) {
		t.Errorf("BytesWritten %d, page alloc %v, page size %d", d.BytesWritten, alloc, e.pageSize)
	}

	before = e.Stats()
	commit(t, e, false, func(b engine.Batch) { b.Put(bktA, []byte("k2"), []byte("v")) })
	d = e.Stats().Sub(before)
	if d.Commits != 1 || d.SyncedCommits != 0 || d.Fsyncs != 0 {
		t.Errorf("unsynced commit: %+v", d)
	}
	// An empty synced commit makes the unsynced one durable: one fdatasync.
	before = e.Stats()
	commit(t, e, true, func(engine.Batch) {})
	d = e.Stats().Sub(before)
	if d.Commits != 0 || d.Fsyncs != 1 {
		t.Errorf("empty synced commit after an unsynced one: %+v", d)
	}
	before = e.Stats()
	commit(t, e, true, func(engine.Batch) {})
	if d = e.Stats().Sub(before); d.Fsyncs != 0 {
		t.Errorf("empty synced commit with nothing to sync: %+v", d)
	}
	for _, k := range []string{"bbolt.tx.page_alloc_bytes", "bbolt.tx.write", "bbolt.tx.spill",
		"bbolt.free_pages", "bbolt.pending_pages", "bbolt.free_alloc_bytes", "bbolt.open_read_tx"} {
		if _, ok := e.Stats().Native[k]; !ok {
			t.Errorf("native metric %s missing", k)
		}
	}
}

func TestStatsNoSync(t *testing.T) {
	e := open(t, t.TempDir(), "no-sync=true", "initial-mmap-size=64KiB")
	st := e.Stats()
	if st.Fsyncs != 1 {
		t.Fatalf("new file with no-sync: %d fsyncs, want 1 (bbolt's init always syncs)", st.Fsyncs)
	}
	size0 := e.Size()
	// Enough data to grow the file several times: still no fsync.
	for i := 0; i < 5; i++ {
		commit(t, e, true, func(b engine.Batch) {
			b.Put(bktA, []byte(fmt.Sprintf("k%d", i)), bytes.Repeat([]byte{byte(i)}, 100<<10))
		})
	}
	d := e.Stats().Sub(st)
	if d.Commits != 5 || d.SyncedCommits != 5 || d.Fsyncs != 0 {
		t.Errorf("no-sync commits: %+v", d)
	}
	if e.Size() <= size0 {
		t.Errorf("file did not grow: %d -> %d", size0, e.Size())
	}
}

func TestStatsFreelistSyncAtOpen(t *testing.T) {
	dir := t.TempDir()
	e := open(t, dir)
	commit(t, e, true, func(b engine.Batch) { b.Put(bktA, []byte("k"), []byte("v")) })
	e.Close()
	// The file has no freelist on disk; bbolt commits once to write it.
	e = open(t, dir, "no-freelist-sync=false")
	if st := e.Stats(); st.Fsyncs != 2 || st.Commits != 0 || st.BytesWritten < 2*int64(e.pageSize) {
		t.Errorf("open writing the freelist: %+v", st)
	}
	commit(t, e, true, func(b engine.Batch) { b.Put(bktA, []byte("k2"), []byte("v")) })
	e.Close()
	e = open(t, dir, "no-freelist-sync=false")
	if st := e.Stats(); st.Fsyncs != 0 || st.BytesWritten != 0 {
		t.Errorf("open with the freelist on disk: %+v", st)
	}
}

func TestStatsGrowSync(t *testing.T) {
	e := open(t, t.TempDir(), "initial-mmap-size=64KiB")
	commit(t, e, false, func(b engine.Batch) { b.Put(bktA, []byte("a"), []byte("b")) })
	before := e.Stats()
	size0 := e.Size()
	commit(t, e, false, func(b engine.Batch) { b.Put(bktA, []byte("big"), make([]byte, 200<<10)) })
	d := e.Stats().Sub(before)
	if e.Size() <= size0 || d.Fsyncs != 1 || d.Native["bbolt.grow_syncs"]-before.Native["bbolt.grow_syncs"] != 1 {
		t.Errorf("unsynced commit growing the file %d -> %d: %d fsyncs, want 1 (bbolt's grow)", size0, e.Size(), d.Fsyncs)
	}
}

func TestSizes(t *testing.T) {
	e := open(t, t.TempDir())
	fi, err := os.Stat(filepath.Join(e.Dir(), DataFile))
	if err != nil {
		t.Fatal(err)
	}
	if e.DiskSize() != fi.Size() {
		t.Fatalf("DiskSize %d, file %d", e.DiskSize(), fi.Size())
	}
	// etcd's backend size is the high-water mark: a fresh store is a few
	// pages, whatever bbolt preallocated (issue: an 8 MiB quota refused the
	// first put when the file size stood in for it).
	if pages := e.Size() / 4096; pages < 2 || pages > 16 {
		t.Fatalf("fresh store: Size %d (%d pages), want a few pages (file %d)", e.Size(), pages, fi.Size())
	}
	commit(t, e, false, func(b engine.Batch) {
		for i := 0; i < 2000; i++ {
			b.Put(bktA, []byte(fmt.Sprintf("k%05d", i)), make([]byte, 1000))
		}
	})
	full := e.SizeInUse()
	if hwm := e.Stats().Native["bbolt.hwm_bytes"]; hwm < float64(full) || hwm > float64(e.DiskSize()) || hwm != float64(e.Size()) {
		t.Errorf("hwm %v, in use %d, size %d, on disk %d", hwm, full, e.Size(), e.DiskSize())
	}
	if full < 2000*1000 || full > e.Size() {
		t.Fatalf("SizeInUse %d for 2 MB of data, Size %d", full, e.Size())
	}
	commit(t, e, false, func(b engine.Batch) { b.DeleteRange(bktA, nil, nil) })
	if after := e.SizeInUse(); after > full/10 {
		t.Fatalf("SizeInUse %d after deleting everything (was %d)", after, full)
	}
	fi, _ = os.Stat(filepath.Join(e.Dir(), DataFile))
	if e.DiskSize() != fi.Size() {
		t.Fatalf("DiskSize %d, file %d", e.DiskSize(), fi.Size())
	}
}

func TestReclaim(t *testing.T) {
	e := open(t, t.TempDir())
	// More keys than one defrag commit holds, in a sequential bucket.
	chunks := 12
	if testing.Short() {
		chunks = 3 // the race detector makes bbolt slow; TestModel reclaims too
	}
	for c := 0; c < chunks; c++ {
		commit(t, e, false, func(b engine.Batch) {
			for i := 0; i < 1000; i++ {
				n := c*1000 + i
				b.Put(bktSeq, []byte(fmt.Sprintf("%08d", n)), bytes.Repeat([]byte{byte(n)}, 1000))
			}
		})
	}
	commit(t, e, true, func(b engine.Batch) {
		b.Put(bktB, []byte("keep"), []byte("me"))
		b.DeleteRange(bktSeq, []byte("00000500"), nil)
	})
	big := e.Size()
	st := e.Stats()
	v, err := e.NewView()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Reclaim() }()
	// Reclaim waits for the view; the view still reads the old file.
	if val, err := v.Get(bktSeq, []byte("00000400")); err != nil || len(val) != 1000 {
		t.Fatalf("view during Reclaim: %d bytes, %v", len(val), err)
	}
	v.Close()
	if err := <-done; err != nil {
		t.Fatalf("Reclaim: %v", err)
	}
	small := e.Size()
	if small*4 > big {
		t.Fatalf("Reclaim did not shrink the file enough: %d -> %d bytes", big, small)
	}
	if fi, err := os.Stat(filepath.Join(e.Dir(), DataFile)); err != nil || fi.Size() != e.DiskSize() || small > e.DiskSize() {
		t.Fatalf("Size %d, DiskSize %d, file %v %v", small, e.DiskSize(), fi, err)
	}
	d := e.Stats().Sub(st)
	if d.Reclaims != 1 || d.Fsyncs < 4 || d.BytesWritten < 500*1000 {
		t.Errorf("reclaim stats: %+v", d)
	}
	got := scanAll(t, e, bktSeq)
	if len(got) != 500 || got["00000499"] != string(bytes.Repeat([]byte{byte(499 % 256)}, 1000)) {
		t.Fatalf("after Reclaim: %d keys", len(got))
	}
	if v, _ := get(t, e, bktB, "keep"); v != "me" {
		t.Fatal("bucket b lost")
	}
	// Still writable, and no temporary file left behind.
	commit(t, e, true, func(b engine.Batch) { b.Put(bktA, []byte("x"), []byte("y")) })
	entries, _ := os.ReadDir(e.Dir())
	if len(entries) != 1 {
		t.Errorf("files after Reclaim: %v", entries)
	}
	// Reclaim survives a reopen.
	dir := e.Dir()
	e.Close()
	e2 := open(t, dir)
	if got := scanAll(t, e2, bktSeq); len(got) != 500 {
		t.Fatalf("after reopen: %d keys", len(got))
	}
}

func TestImageRoundTrip(t *testing.T) {
	e := open(t, t.TempDir())
	want := map[string]string{}
	commit(t, e, true, func(b engine.Batch) {
		for i := 0; i < 300; i++ {
			k, v := fmt.Sprintf("k%03d", i), strings.Repeat("v", i*7)
			b.Put(bktA, []byte(k), []byte(v))
			want[k] = v
		}
		b.Put(bktSeq, []byte("rev"), []byte("1"))
	})
	var img bytes.Buffer
	n, err := e.WriteImage(&img)
	if err != nil || n != int64(img.Len()) {
		t.Fatalf("WriteImage: %d bytes (buffer %d), %v", n, img.Len(), err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	r, err := OpenImage(&img, dir, Options{})
	if err != nil {
		t.Fatalf("OpenImage: %v", err)
	}
	defer r.Close()
	if got := scanAll(t, r, bktA); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("restored content differs: %d keys, want %d", len(got), len(want))
	}
	if v, _ := get(t, r, bktSeq, "rev"); v != "1" {
		t.Fatal("restored bucket key lost")
	}
	commit(t, r, true, func(b engine.Batch) { b.Put(bktA, []byte("new"), []byte("x")) })
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != DataFile {
		t.Fatalf("files after OpenImage: %v", entries)
	}
}

func TestLockedByAnotherEngine(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	_, err := openErr(dir, "timeout=50ms")
	if err == nil || !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open of a locked db: %v", err)
	}
}

func TestUseAfterClose(t *testing.T) {
	e := open(t, t.TempDir())
	commit(t, e, true, func(b engine.Batch) { b.Put(bktA, []byte("k"), []byte("v")) })
	v, err := e.NewView()
	if err != nil {
		t.Fatal(err)
	}
	b := e.NewBatch()
	b.Put(bktA, []byte("k2"), []byte("v"))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := v.Get(bktA, []byte("k")); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("view Get after engine Close: %v", err)
	}
	if err := v.Scan(bktA, nil, nil, 0, func(_, _ []byte) bool { return true }); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("view Scan after engine Close: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Errorf("view Close after engine Close: %v", err)
	}
	if err := b.Commit(true); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
	if _, err := e.NewView(); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("NewView after Close: %v", err)
	}
	if _, err := e.WriteImage(&bytes.Buffer{}); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("WriteImage after Close: %v", err)
	}
	if err := e.Reclaim(); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Reclaim after Close: %v", err)
	}
	b2 := open(t, t.TempDir()).NewBatch()
	b2.Close()
	if err := b2.Commit(false); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Commit of a closed batch: %v", err)
	}
}

// TestConcurrentViews runs readers against a writer whose every commit sets
// all keys to the commit's number: a view must see one number throughout.
func TestConcurrentViews(t *testing.T) {
	e := open(t, t.TempDir())
	const keys = 20
	put := func(n int) {
		commit(t, e, false, func(b engine.Batch) {
			for k := 0; k < keys; k++ {
				b.Put(bktA, []byte(fmt.Sprintf("k%02d", k)), []byte(fmt.Sprintf("%06d", n)))
			}
		})
	}
	put(0)
	rounds := 200
	if testing.Short() {
		rounds = 50
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, 8)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					if i >= 10 {
						return
					}
				default:
				}
				v, err := e.NewView()
				if err != nil {
					errc <- err
					return
				}
				// Two goroutines share the view.
				var inner sync.WaitGroup
				seen := make([]map[string]bool, 2)
				for g := range seen {
					seen[g] = map[string]bool{}
					inner.Add(1)
					go func() {
						defer inner.Done()
						_ = v.Scan(bktA, nil, nil, 0, func(_, val []byte) bool { seen[g][string(val)] = true; return true })
					}()
				}
				inner.Wait()
				v.Close()
				if len(seen[0]) != 1 || fmt.Sprint(seen[0]) != fmt.Sprint(seen[1]) {
					errc <- fmt.Errorf("a view saw values %v and %v", seen[0], seen[1])
					return
				}
			}
		}()
	}
	for n := 1; n <= rounds; n++ {
		put(n)
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

// TestModel replays seeded random operations, with reopens and reclaims,
// against a map.
func TestModel(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	dir := t.TempDir()
	e := open(t, dir, "initial-mmap-size=1MiB")
	buckets := []engine.Bucket{bktA, bktB, bktSeq}
	model := make([]map[string]string, len(buckets))
	for i := range model {
		model[i] = map[string]string{}
	}
	key := func() string { return fmt.Sprintf("%c%d", 'a'+rng.Intn(3), rng.Intn(40)) }
	ops := 1500
	if testing.Short() {
		ops = 500
	}
	for i := 0; i < ops; i++ {
		switch p := rng.Intn(100); {
		case p < 70: // a batch
			b := e.NewBatch()
			pending := make([]map[string]string, len(buckets))
			for j := range pending {
				pending[j] = map[string]string{}
				for k, v := range model[j] {
					pending[j][k] = v
				}
			}
			for n := rng.Intn(20); n >= 0; n-- {
				bi := rng.Intn(len(buckets))
				switch q := rng.Intn(10); {
				case q < 6:
					k, v := key(), strings.Repeat(string(rune('a'+rng.Intn(26))), rng.Intn(3000))
					b.Put(buckets[bi], []byte(k), []byte(v))
					pending[bi][k] = v
				case q < 9:
					k := key()
					b.Delete(buckets[bi], []byte(k))
					delete(pending[bi], k)
				default:
					s, en := key(), key()
					b.DeleteRange(buckets[bi], []byte(s), []byte(en))
					for k := range pending[bi] {
						if k >= s && k < en {
							delete(pending[bi], k)
						}
					}
				}
			}
			if rng.Intn(10) == 0 {
				b.Close() // discarded
				continue
			}
			if err := b.Commit(rng.Intn(2) == 0); err != nil {
				t.Fatalf("op %d: %v", i, err)
			}
			model = pending
		case p < 95: // check one bucket
			bi := rng.Intn(len(buckets))
			if got := scanAll(t, e, buckets[bi]); fmt.Sprint(got) != fmt.Sprint(model[bi]) {
				t.Fatalf("op %d: bucket %s has %d keys, model %d", i, buckets[bi], len(got), len(model[bi]))
			}
		case p < 98:
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e = open(t, dir, "initial-mmap-size=1MiB")
		default:
			if err := e.Reclaim(); err != nil {
				t.Fatalf("op %d: Reclaim: %v", i, err)
			}
		}
	}
	for bi := range buckets {
		got := scanAll(t, e, buckets[bi])
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if fmt.Sprint(got) != fmt.Sprint(model[bi]) {
			t.Fatalf("final bucket %s: %v, model %v", buckets[bi], keys, model[bi])
		}
	}
}

// TestSyncCost: Sync fdatasyncs once after a commit that skipped it, under
// no-sync too (the knob skips per-commit fsyncs, not the barrier), and
// costs nothing when every commit synced.
func TestSyncCost(t *testing.T) {
	for _, noSync := range []string{"false", "true"} {
		t.Run("no-sync="+noSync, func(t *testing.T) {
			e := open(t, t.TempDir(), "no-sync="+noSync)
			commit(t, e, noSync == "false", func(b engine.Batch) { b.Put(bktA, []byte("k"), []byte("v")) })
			before := e.Stats()
			if err := e.Sync(); err != nil {
				t.Fatal(err)
			}
			want := int64(0)
			if noSync == "true" {
				want = 1
			}
			if d := e.Stats().Sub(before); d.Fsyncs != want {
				t.Errorf("Sync after the commit: %d fsyncs, want %d", d.Fsyncs, want)
			}
			commit(t, e, false, func(b engine.Batch) { b.Put(bktA, []byte("k2"), []byte("v")) })
			before = e.Stats()
			if err := e.Sync(); err != nil {
				t.Fatal(err)
			}
			if d := e.Stats().Sub(before); d.Fsyncs != 1 {
				t.Errorf("Sync after an unsynced commit: %d fsyncs, want 1", d.Fsyncs)
			}
		})
	}
}
