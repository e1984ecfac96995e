package pebble

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"etcdlab/engines/engine"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0: derive from the time and log it)")

func testSeed(t *testing.T) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", s, s)
	return s
}

var (
	bKey  = engine.Bucket{ID: 1, Name: "key", Sequential: true}
	bMeta = engine.Bucket{ID: 2, Name: "meta"}
	bLow  = engine.Bucket{ID: 0, Name: "low"}
	bHigh = engine.Bucket{ID: 0xFF, Name: "high"}
)

func openT(t *testing.T, dir string, o Options) *Engine {
	t.Helper()
	e, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return e
}

func commit(t *testing.T, e *Engine, sync bool, f func(b engine.Batch)) {
	t.Helper()
	b := e.NewBatch()
	defer b.Close()
	f(b)
	if err := b.Commit(sync); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func get(t *testing.T, e *Engine, b engine.Bucket, k string) (string, bool) {
	t.Helper()
	v, err := e.NewView()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	val, err := v.Get(b, []byte(k))
	if errors.Is(err, engine.ErrNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(val), true
}

func scan(t *testing.T, v engine.View, b engine.Bucket, start, end []byte, limit int) []string {
	t.Helper()
	var out []string
	if err := v.Scan(b, start, end, limit, func(k, val []byte) bool {
		out = append(out, string(k)+"="+string(val))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBucketsAndScans(t *testing.T) {
	e := openT(t, t.TempDir(), Options{})
	defer e.Close()
	commit(t, e, true, func(b engine.Batch) {
		for _, bk := range []engine.Bucket{bLow, bKey, bMeta, bHigh} {
			for _, k := range []string{"", "a", "b", "b\x00", "c", "\xff", "\xff\xff"} {
				b.Put(bk, []byte(k), []byte(bk.Name+":"+k))
			}
		}
	})
	v, err := e.NewView()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, bk := range []engine.Bucket{bLow, bKey, bMeta, bHigh} {
		all := scan(t, v, bk, nil, nil, 0)
		want := []string{"=" + bk.Name + ":", "a=" + bk.Name + ":a", "b=" + bk.Name + ":b", "b\x00=" + bk.Name + ":b\x00",
			"c=" + bk.Name + ":c", "\xff=" + bk.Name + ":\xff", "\xff\xff=" + bk.Name + ":\xff\xff"}
		if fmt.Sprint(all) != fmt.Sprint(want) {
			t.Errorf("bucket %s: scan = %q, want %q", bk, all, want)
		}
		if got := scan(t, v, bk, []byte("b"), []byte("c"), 0); len(got) != 2 {
			t.Errorf("bucket %s [b,c) = %q", bk, got)
		}
		if got := scan(t, v, bk, []byte("a"), nil, 2); len(got) != 2 || got[0] != "a="+bk.Name+":a" {
			t.Errorf("bucket %s limit 2 = %q", bk, got)
		}
		if got := scan(t, v, bk, []byte("c"), []byte("a"), 0); len(got) != 0 {
			t.Errorf("bucket %s inverted range = %q", bk, got)
		}
	}
	if got := scan(t, v, engine.Bucket{ID: 9, Name: "absent"}, nil, nil, 0); len(got) != 0 {
		t.Errorf("absent bucket scan = %q", got)
	}
	if _, err := v.Get(engine.Bucket{ID: 9}, []byte("a")); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("absent bucket Get err = %v", err)
	}
	// Early stop.
	n := 0
	_ = v.Scan(bKey, nil, nil, 0, func(k, val []byte) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("early stop after %d calls", n)
	}

	// DeleteRange to the end of a bucket removes nothing from its neighbours,
	// including the last bucket, whose end has no next prefix.
	commit(t, e, false, func(b engine.Batch) {
		b.DeleteRange(bKey, []byte("b"), nil)
		b.DeleteRange(bHigh, []byte("b"), nil)
		b.DeleteRange(bLow, []byte(""), []byte("b"))
		b.Delete(bMeta, []byte("c"))
		b.Delete(bMeta, []byte("never-there"))
	})
	v2, _ := e.NewView()
	defer v2.Close()
	for bk, want := range map[engine.Bucket]int{bKey: 2, bHigh: 2, bLow: 5, bMeta: 6} {
		if got := scan(t, v2, bk, nil, nil, 0); len(got) != want {
			t.Errorf("after deletes bucket %s = %q, want %d keys", bk, got, want)
		}
	}
	// The old view still sees everything.
	if got := scan(t, v, bKey, nil, nil, 0); len(got) != 7 {
		t.Errorf("old view sees %d keys, want 7", len(got))
	}
}

func TestBatchSemantics(t *testing.T) {
	e := openT(t, t.TempDir(), Options{})
	defer e.Close()
	b := e.NewBatch()
	key, val := []byte("k"), []byte("v1")
	b.Put(bKey, key, val)
	key[0], val[1] = 'x', '9' // the batch copied them
	b.Delete(bKey, []byte("zz"))
	if b.Len() != 2 {
		t.Fatalf("Len = %d", b.Len())
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 {
		t.Fatalf("Len after commit = %d", b.Len())
	}
	if v, ok := get(t, e, bKey, "k"); !ok || v != "v1" {
		t.Fatalf("k = %q %v", v, ok)
	}
	// Reuse after Commit.
	b.Put(bKey, []byte("k2"), []byte("v2"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	// An empty synced commit is fine.
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	// An oversized key fails the whole batch, which is then empty again.
	b.Put(bKey, []byte("k3"), []byte("v3"))
	b.Put(bKey, make([]byte, MaxKeySize+1), nil)
	if err := b.Commit(true); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("oversized key: err = %v", err)
	}
	if _, ok := get(t, e, bKey, "k3"); ok {
		t.Fatal("k3 applied from a failed batch")
	}
	b.Put(bKey, []byte("k4"), []byte("v4"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b.Close()
	if err := b.Commit(true); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("commit of closed batch: %v", err)
	}
	// Uncommitted batches are lost.
	b2 := e.NewBatch()
	b2.Put(bKey, []byte("lost"), []byte("x"))
	b2.Close()
	if _, ok := get(t, e, bKey, "lost"); ok {
		t.Fatal("closed batch applied")
	}
	s := e.Stats()
	if s.Commits != 4 || s.SyncedCommits != 2 || s.LogicalBytes != int64(len("kv1")+len("k2v2")+len("k4v4")) {
		t.Fatalf("stats: %+v", s)
	}
}

func TestViewIsolationAndGetCopy(t *testing.T) {
	e := openT(t, t.TempDir(), Options{})
	defer e.Close()
	commit(t, e, false, func(b engine.Batch) { b.Put(bKey, []byte("a"), []byte("1")) })
	v, _ := e.NewView()
	got, err := v.Get(bKey, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	// A writer is not blocked by the open view, and the view does not see it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := e.NewBatch()
		b.Put(bKey, []byte("a"), []byte("2"))
		b.Put(bKey, []byte("b"), []byte("3"))
		if err := b.Commit(true); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("commit blocked by an open view")
	}
	if again, _ := v.Get(bKey, []byte("a")); string(again) != "1" || string(got) != "1" {
		t.Fatalf("view saw a later commit: %q %q", again, got)
	}
	if _, err := v.Get(bKey, []byte("b")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("view saw later key b: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatalf("second view Close: %v", err)
	}
	if _, err := v.Get(bKey, []byte("a")); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Get after view Close: %v", err)
	}
	if err := v.Scan(bKey, nil, nil, 0, func(k, v []byte) bool { return true }); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Scan after view Close: %v", err)
	}
}

func TestUseAfterClose(t *testing.T) {
	e := openT(t, t.TempDir(), Options{})
	b := e.NewBatch()
	b.Put(bKey, []byte("a"), []byte("1"))
	v, _ := e.NewView()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
	if _, err := v.Get(bKey, []byte("a")); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("view Get after engine Close: %v", err)
	}
	if _, err := e.NewView(); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("NewView after Close: %v", err)
	}
	if err := e.Reclaim(); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Reclaim after Close: %v", err)
	}
	if _, err := e.WriteImage(&bytes.Buffer{}); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("WriteImage after Close: %v", err)
	}
	if err := e.Close(); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if s := e.Stats(); s.Engine != Name || s.Native["pebble.flushes"] < 0 {
		t.Errorf("Stats after Close: %+v", s)
	}
	b.Close()
	_ = v.Close()
}

// TestWALModes checks durability per mode on a crashable in-memory FS: a
// crash keeps exactly the synced data (CrashClone with 0% of unsynced data).
func TestWALModes(t *testing.T) {
	for _, tc := range []struct {
		mode             WALMode
		syncedSurvives   bool // a Commit(true) survives a machine crash
		unsyncedSurvives bool // a Commit(false) survives a machine crash
	}{
		{WALSynced, true, false},
		{WALUnsynced, false, false},
		{WALDisabled, false, false},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			mem := vfs.NewCrashableMem()
			o := Options{WAL: tc.mode, FS: mem}
			e := openT(t, "/db", o)
			commit(t, e, false, func(b engine.Batch) { b.Put(bKey, []byte("unsynced"), []byte("1")) })
			commit(t, e, true, func(b engine.Batch) { b.Put(bKey, []byte("synced"), []byte("2")) })
			before := e.Stats()
			crashed := mem.CrashClone(vfs.CrashCloneCfg{})
			if before.SyncedCommits != 1 || before.Commits != 2 {
				t.Errorf("Commits = %d, SyncedCommits = %d", before.Commits, before.SyncedCommits)
			}
			// A clean Close loses nothing in any mode (disabled: Close flushes).
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e = openT(t, "/db", o)
			for _, k := range []string{"unsynced", "synced"} {
				if _, ok := get(t, e, bKey, k); !ok {
					t.Errorf("%s lost across Close+Open", k)
				}
			}
			e.Close()

			o.FS = crashed
			e = openT(t, "/db", o)
			defer e.Close()
			if _, ok := get(t, e, bKey, "synced"); ok != tc.syncedSurvives {
				t.Errorf("after crash: synced commit present=%v, want %v", ok, tc.syncedSurvives)
			}
			if _, ok := get(t, e, bKey, "unsynced"); ok != tc.unsyncedSurvives && tc.mode != WALSynced {
				t.Errorf("after crash: unsynced commit present=%v, want %v", ok, tc.unsyncedSurvives)
			}
		})
	}
}

func TestCountingFS(t *testing.T) {
	e := openT(t, t.TempDir(), Options{})
	defer e.Close()
	s0 := e.Stats()
	commit(t, e, true, func(b engine.Batch) { b.Put(bKey, []byte("a"), bytes.Repeat([]byte("v"), 1000)) })
	s1 := e.Stats().Sub(s0)
	if s1.Fsyncs < 1 {
		t.Errorf("synced commit made %d fsyncs", s1.Fsyncs)
	}
	if s1.BytesWritten < 1001 {
		t.Errorf("synced commit wrote %d bytes", s1.BytesWritten)
	}
	commit(t, e, false, func(b engine.Batch) { b.Put(bKey, []byte("b"), []byte("v")) })
	s2 := e.Stats().Sub(s0)
	if s2.Fsyncs != s1.Fsyncs {
		t.Errorf("unsynced commit made %d fsyncs", s2.Fsyncs-s1.Fsyncs)
	}
	if s2.WriteAmp() <= 0 {
		t.Errorf("WriteAmp = %v", s2.WriteAmp())
	}
	// Images do not count as engine writes.
	s3 := e.Stats()
	if _, err := e.WriteImage(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	s4 := e.Stats().Sub(s3)
	if s4.BytesWritten > 100 { // checkpoint's WAL sync adds a tiny log record
		t.Errorf("WriteImage counted %d bytes written", s4.BytesWritten)
	}
	n := e.Stats().Native
	for _, k := range []string{"pebble.w_amp", "pebble.l0.files", "pebble.l0.sublevels", "pebble.l6.bytes",
		"pebble.compactions", "pebble.flushes", "pebble.memtable.size", "pebble.block_cache.hits",
		"pebble.block_cache.misses", "pebble.read_amp", "pebble.wal.bytes_written", "pebble.disk_space_usage"} {
		if _, ok := n[k]; !ok {
			t.Errorf("Native lacks %s", k)
		}
	}
	if n["pebble.wal.bytes_written"] < 1000 {
		t.Errorf("pebble.wal.bytes_written = %v", n["pebble.wal.bytes_written"])
	}
}

func TestReclaimShrinks(t *testing.T) {
	e := openT(t, t.TempDir(), Options{MemTableSize: 1 << 20})
	defer e.Close()
	// Random values, so that compression does not hide the data.
	rng := rand.New(rand.NewPCG(1, 1))
	val := make([]byte, 1024)
	const n = 8000 // ~8 MiB
	b := e.NewBatch()
	for i := 0; i < n; i++ {
		for j := range val {
			val[j] = byte(rng.Uint32())
		}
		b.Put(bKey, []byte(fmt.Sprintf("%08d", i)), val)
		if i%500 == 499 {
			if err := b.Commit(false); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.Close()
	// This view pins the data about to be deleted; Reclaim must wait for it.
	v, _ := e.NewView()
	commit(t, e, true, func(b engine.Batch) {
		for i := 0; i < n-100; i++ {
			b.Delete(bKey, []byte(fmt.Sprintf("%08d", i)))
		}
	})
	before := e.Size()
	if before < n*1024/2 {
		t.Fatalf("Size before reclaim = %d, expected several MiB", before)
	}
	done := make(chan error, 1)
	go func() { done <- e.Reclaim() }()
	select {
	case err := <-done:
		t.Fatalf("Reclaim returned with a view open: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if got := scan(t, v, bKey, nil, nil, 0); len(got) != n {
		t.Fatalf("view during pending Reclaim sees %d keys", len(got))
	}
	v.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	after := e.Size()
	if after > before/4 {
		t.Fatalf("Size %d -> %d after deleting most keys and Reclaim", before, after)
	}
	if iu := e.SizeInUse(); iu <= 0 || iu > after {
		t.Fatalf("SizeInUse = %d, Size = %d", iu, after)
	}
	if s := e.Stats(); s.Reclaims != 1 || s.Native["pebble.compactions"] < 1 {
		t.Fatalf("stats after reclaim: reclaims=%d compactions=%v", s.Reclaims, s.Native["pebble.compactions"])
	}
	v2, _ := e.NewView()
	defer v2.Close()
	if got := scan(t, v2, bKey, nil, nil, 0); len(got) != 100 {
		t.Fatalf("after reclaim %d keys, want 100", len(got))
	}
}

func TestImageRoundTrip(t *testing.T) {
	for _, mode := range []WALMode{WALSynced, WALDisabled} {
		t.Run(string(mode), func(t *testing.T) {
			src := openT(t, t.TempDir(), Options{WAL: mode})
			defer src.Close()
			commit(t, src, true, func(b engine.Batch) {
				for i := 0; i < 300; i++ {
					b.Put(bKey, []byte(fmt.Sprintf("k%04d", i)), []byte(fmt.Sprint(i)))
				}
				b.Put(bHigh, []byte("\xff"), []byte("last"))
			})
			commit(t, src, false, func(b engine.Batch) { b.Delete(bKey, []byte("k0000")) })
			var img bytes.Buffer
			n, err := src.WriteImage(&img)
			if err != nil || n != int64(img.Len()) {
				t.Fatalf("WriteImage = %d, %v (buffer %d)", n, err, img.Len())
			}
			// A commit after the image is not in it.
			commit(t, src, true, func(b engine.Batch) { b.Put(bKey, []byte("later"), []byte("x")) })
			dir := filepath.Join(t.TempDir(), "restored")
			dst, err := OpenImage(bytes.NewReader(img.Bytes()), dir, Options{WAL: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			v, _ := dst.NewView()
			defer v.Close()
			if got := scan(t, v, bKey, nil, nil, 0); len(got) != 299 || got[0] != "k0001=1" {
				t.Fatalf("restored bucket key: %d keys, first %q", len(got), got[:1])
			}
			if got := scan(t, v, bHigh, nil, nil, 0); fmt.Sprint(got) != "[\xff=last]" {
				t.Fatalf("restored bucket high: %q", got)
			}
			names, _ := os.ReadDir(dir)
			for _, d := range names {
				if d.IsDir() {
					t.Errorf("staging dir %s left in %s", d.Name(), dir)
				}
			}
			var entries []string
			for _, d := range names {
				entries = append(entries, d.Name())
			}
			if Detect(entries) == "" {
				t.Errorf("Detect(restored dir %v) found no pebble marker", entries)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	corrupt := func(t *testing.T, match string, mutate func(path string)) {
		dir := t.TempDir()
		e := openT(t, dir, Options{})
		commit(t, e, true, func(b engine.Batch) { b.Put(bKey, []byte("a"), []byte("1")) })
		e.Close()
		names, _ := filepath.Glob(filepath.Join(dir, match))
		if len(names) == 0 {
			t.Fatalf("no %s in %s", match, dir)
		}
		for _, n := range names {
			mutate(n)
		}
		_, err := Open(dir, Options{})
		if !errors.Is(err, engine.ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(dir)) {
			t.Fatalf("err = %v, want ErrCorrupt naming %s", err, dir)
		}
	}
	garbage := func(p string) { os.WriteFile(p, bytes.Repeat([]byte{0xde, 0xad}, 300), 0o644) }
	t.Run("corrupt manifest", func(t *testing.T) { corrupt(t, "MANIFEST-*", garbage) })
	t.Run("truncated manifest", func(t *testing.T) { corrupt(t, "MANIFEST-*", func(p string) { os.Truncate(p, 10) }) })
	t.Run("manifest marker to missing manifest", func(t *testing.T) {
		corrupt(t, "MANIFEST-*", func(p string) { os.Remove(p) })
	})
	t.Run("missing format marker", func(t *testing.T) {
		corrupt(t, "marker.format-version.*", func(p string) { os.Remove(p) })
	})
	t.Run("locked by another open", func(t *testing.T) {
		dir := t.TempDir()
		e := openT(t, dir, Options{})
		defer e.Close()
		_, err := Open(dir, Options{})
		if err == nil || errors.Is(err, engine.ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(dir)) {
			t.Fatalf("second Open: err = %v, want a lock error naming %s", err, dir)
		}
	})
	t.Run("dir under a regular file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		os.WriteFile(file, nil, 0o644)
		dir := filepath.Join(file, "db")
		_, err := Open(dir, Options{})
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(dir)) {
			t.Fatalf("err = %v, want an error naming %s", err, dir)
		}
	})
	t.Run("read-only dir", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores permissions")
		}
		dir := t.TempDir()
		os.Chmod(dir, 0o555)
		defer os.Chmod(dir, 0o755)
		_, err := Open(dir, Options{})
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(dir)) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		if _, err := Open(t.TempDir(), Options{WAL: "maybe"}); !errors.Is(err, engine.ErrBadOption) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestOpenImageRejects(t *testing.T) {
	// A real image to truncate.
	src := openT(t, t.TempDir(), Options{})
	commit(t, src, true, func(b engine.Batch) {
		for i := 0; i < 100; i++ {
			b.Put(bKey, []byte(fmt.Sprint(i)), bytes.Repeat([]byte("v"), 100))
		}
	})
	var img bytes.Buffer
	if _, err := src.WriteImage(&img); err != nil {
		t.Fatal(err)
	}
	src.Close()
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	random := make([]byte, 8192)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	bbolt := make([]byte, 8192) // bbolt's meta page starts with its magic at offset 16+
	copy(bbolt[16:], []byte{0xed, 0x0c, 0xdd, 0xed})
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, engine.ErrWrongEngine},
		{"random bytes", random, engine.ErrWrongEngine},
		{"bbolt file", bbolt, engine.ErrWrongEngine},
		{"tar without manifest", tarOf(t, map[string]string{"000001.sst": "x"}), engine.ErrWrongEngine},
		{"path traversal", tarOf(t, map[string]string{"../evil": "x"}), engine.ErrWrongEngine},
		{"absolute path", tarOf(t, map[string]string{"/etc/evil": "x"}), engine.ErrWrongEngine},
		{"garbage manifest", tarOf(t, map[string]string{"MANIFEST-000001": "junk",
			"marker.manifest.000001.MANIFEST-000001": ""}), engine.ErrCorrupt},
		{"truncated image", img.Bytes()[:img.Len()/2], engine.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "db")
			_, err := OpenImage(bytes.NewReader(tc.data), dir, Options{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			left, _ := os.ReadDir(parent)
			if len(left) != 0 {
				t.Fatalf("left behind %v", left)
			}
		})
	}
	t.Run("non-empty dir", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
		if _, err := OpenImage(bytes.NewReader(img.Bytes()), dir, Options{}); err == nil {
			t.Fatal("restored over an existing file")
		}
		if left, _ := os.ReadDir(dir); len(left) != 1 {
			t.Fatalf("dir now holds %v", left)
		}
	})
}

// TestModelRandomized replays random batches, views and reopens against a map
// oracle, with keys spread over the first, a middle and the last bucket.
func TestModelRandomized(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 2))
	mem := vfs.NewMem()
	o := Options{FS: mem, MemTableSize: 64 << 10}
	e := openT(t, "/m", o)
	defer func() { e.Close() }()
	buckets := []engine.Bucket{bLow, bKey, bHigh}
	type bk struct {
		b byte
		k string
	}
	model := map[bk]string{}
	randKey := func() []byte {
		k := make([]byte, rng.IntN(3))
		for i := range k {
			k[i] = []byte{0, 1, 'a', 'b', 0xfe, 0xff}[rng.IntN(6)]
		}
		return k
	}
	steps := 400
	if testing.Short() {
		steps = 150
	}
	for step := 0; step < steps; step++ {
		b := e.NewBatch()
		for i := rng.IntN(6); i >= 0; i-- {
			bu := buckets[rng.IntN(len(buckets))]
			k := randKey()
			switch r := rng.IntN(10); {
			case r < 6:
				v := fmt.Sprint(step, i)
				b.Put(bu, k, []byte(v))
				model[bk{bu.ID, string(k)}] = v
			case r < 8:
				b.Delete(bu, k)
				delete(model, bk{bu.ID, string(k)})
			default:
				var end []byte
				if rng.IntN(2) == 0 {
					end = randKey()
				}
				b.DeleteRange(bu, k, end)
				for m := range model {
					if m.b == bu.ID && m.k >= string(k) && (end == nil || m.k < string(end)) {
						delete(model, m)
					}
				}
			}
		}
		if err := b.Commit(rng.IntN(4) == 0); err != nil {
			t.Fatal(err)
		}
		b.Close()
		switch rng.IntN(40) {
		case 0:
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e = openT(t, "/m", o)
		case 1:
			if err := e.Reclaim(); err != nil {
				t.Fatal(err)
			}
		}
		v, err := e.NewView()
		if err != nil {
			t.Fatal(err)
		}
		for _, bu := range buckets {
			var keys []string
			for m := range model {
				if m.b == bu.ID {
					keys = append(keys, m.k)
				}
			}
			sort.Strings(keys)
			var want []string
			for _, k := range keys {
				want = append(want, k+"="+model[bk{bu.ID, k}])
			}
			got := scan(t, v, bu, nil, nil, 0)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("step %d bucket %s: got %q want %q", step, bu, got, want)
			}
			k := randKey()
			val, err := v.Get(bu, k)
			if mv, ok := model[bk{bu.ID, string(k)}]; ok != (err == nil) || (ok && mv != string(val)) {
				t.Fatalf("step %d Get(%s,%q) = %q,%v; model %q,%v", step, bu, k, val, err, mv, ok)
			}
		}
		v.Close()
	}
}
