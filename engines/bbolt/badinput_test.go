package bbolt

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/engines/engine"
)

// makeDB creates a db with some data in a fresh dir, closes it and returns
// the dir, the db path and the page size.
func makeDB(t *testing.T) (dir, path string, pageSize int) {
	t.Helper()
	dir = t.TempDir()
	e, err := openErr(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := e.NewBatch()
	for i := 0; i < 500; i++ {
		b.Put(bktA, []byte(fmt.Sprintf("k%04d", i)), bytes.Repeat([]byte("v"), 200))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	pageSize = e.pageSize
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, DataFile), pageSize
}

func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// metaTxids reads the transaction ids of both meta pages.
func metaTxids(t *testing.T, path string, ps int) (uint64, uint64) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := func(off int) uint64 { return binary.NativeEndian.Uint64(raw[off+pageHeaderSize+48:]) }
	return at(0), at(ps)
}

func wantErr(t *testing.T, err error, sentinel error, mentions ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want an error wrapping %v", err, sentinel)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("error %q does not mention %q", err, m)
		}
	}
}

func TestOpenTruncated(t *testing.T) {
	_, path, ps := makeDB(t)
	fi, _ := os.Stat(path)
	// The first commit grew the file well past its data (bbolt preallocates);
	// cut into the pages the meta counts.
	var hwmPages uint64
	{
		raw, _ := os.ReadFile(path)
		m0, m1 := parseMeta(raw), parseMeta(raw[ps:])
		hwmPages = max(m0.pgid, m1.pgid)
	}
	for _, size := range []int64{int64(hwmPages)*int64(ps) - 1, int64(hwmPages/2) * int64(ps), int64(ps) + 100, 1000} {
		if size >= fi.Size() {
			t.Fatalf("size %d not a truncation of %d", size, fi.Size())
		}
		dir, p, _ := makeDB(t)
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		wantErr(t, err, engine.ErrCorrupt, p, "truncated")
	}
}

func TestOpenCorruptMeta(t *testing.T) {
	// Both meta pages damaged (magic intact, checksummed bytes changed).
	dir, path, ps := makeDB(t)
	writeAt(t, path, pageHeaderSize+40, []byte{0xde, 0xad})
	writeAt(t, path, int64(ps)+pageHeaderSize+40, []byte{0xde, 0xad})
	_, err := Open(dir, Options{})
	wantErr(t, err, engine.ErrCorrupt, path, "meta")

	// One damaged meta page: bbolt falls back to the other (a torn meta write
	// loses at most the last commit), as it is designed to.
	for which := 0; which < 2; which++ {
		dir, path, ps := makeDB(t)
		writeAt(t, path, int64(which*ps)+pageHeaderSize+40, []byte{0xde, 0xad})
		e, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("meta %d damaged: %v", which, err)
		}
		n := len(scanAll(t, e, bktA))
		e.Close()
		if n != 500 && n != 0 {
			t.Fatalf("meta %d damaged: %d keys", which, n)
		}
	}

	// Damaged root page header.
	dir, path, ps = makeDB(t)
	raw, _ := os.ReadFile(path)
	t0, t1 := metaTxids(t, path, ps)
	m := parseMeta(raw)
	if t1 > t0 {
		m = parseMeta(raw[ps:])
	}
	writeAt(t, path, int64(m.root)*int64(ps), make([]byte, pageHeaderSize))
	_, err = Open(dir, Options{})
	wantErr(t, err, engine.ErrCorrupt, path, "root page")
}

// TestOpenMetaFuzz flips seeded random bytes in the meta pages: Open must
// either succeed with the data or fail with a sentinel, never panic.
func TestOpenMetaFuzz(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	_, orig, ps := makeDB(t)
	raw, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	// Drop the preallocated tail past the high-water mark to keep copies small.
	raw = raw[:max(parseMeta(raw).pgid, parseMeta(raw[ps:]).pgid)*uint64(ps)]
	for i := 0; i < 40; i++ {
		dir := t.TempDir()
		bad := append([]byte(nil), raw...)
		for n := 1 + rng.Intn(4); n > 0; n-- {
			page := rng.Intn(2)
			off := page*ps + rng.Intn(pageHeaderSize+metaSize)
			bad[off] ^= byte(1 + rng.Intn(255))
		}
		if err := os.WriteFile(filepath.Join(dir, DataFile), bad, 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := Open(dir, Options{})
		if err != nil {
			if !errors.Is(err, engine.ErrCorrupt) && !errors.Is(err, engine.ErrWrongEngine) {
				t.Fatalf("case %d: unexpected error kind: %v", i, err)
			}
			continue
		}
		n := len(scanAll(t, e, bktA))
		e.Close()
		if n != 500 && n != 0 {
			t.Fatalf("case %d: opened with %d keys", i, n)
		}
	}
}

func TestOpenNotBbolt(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 64<<10)
	rng.Read(random)
	for name, content := range map[string][]byte{
		"text":   []byte(strings.Repeat("hello, world\n", 1000)),
		"random": random,
		"zeros":  make([]byte, 32<<10),
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, DataFile)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		if err == nil || !(errors.Is(err, engine.ErrWrongEngine) || errors.Is(err, engine.ErrCorrupt)) ||
			!strings.Contains(err.Error(), path) {
			t.Fatalf("%s: %v", name, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
			t.Fatalf("%s: Open modified the foreign file", name)
		}
	}
	// dir/db is a directory.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, DataFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("opened a directory as the db file")
	}
}

func TestOpenEmptyFileIsNew(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DataFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e := open(t, dir)
	commit(t, e, true, func(b engine.Batch) { b.Put(bktA, []byte("k"), []byte("v")) })
}

func TestOpenUnwritableDir(t *testing.T) {
	// A path under a regular file cannot be created, even by root.
	file := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "data")
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open under a regular file: %v", err)
	}
	// A read-only dir (meaningless for root, who may write anyway).
	if os.Geteuid() == 0 {
		t.Log("running as root: skipping the chmod 0555 case")
		return
	}
	ro := t.TempDir()
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(ro, 0o755) })
	_, err = Open(ro, Options{})
	if err == nil || !strings.Contains(err.Error(), ro) {
		t.Fatalf("Open in a read-only dir: %v", err)
	}
}

func TestOpenImageRejects(t *testing.T) {
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	_ = tw.WriteHeader(&tar.Header{Name: "db", Mode: 0o600, Size: 5})
	_, _ = tw.Write([]byte("hello"))
	_ = tw.Close()
	random := make([]byte, 20000)
	rand.New(rand.NewSource(2)).Read(random)

	for name, img := range map[string][]byte{
		"empty":  nil,
		"short":  []byte("bolt"),
		"tar":    tarball.Bytes(),
		"random": random,
	} {
		dir := t.TempDir()
		_, err := OpenImage(bytes.NewReader(img), dir, Options{})
		wantErr(t, err, engine.ErrWrongEngine)
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: OpenImage left %v behind", name, entries)
		}
	}

	// A bbolt image cut short, or with both metas damaged: ErrCorrupt, and an
	// existing db in the dir is left alone.
	src := open(t, t.TempDir())
	commit(t, src, true, func(b engine.Batch) {
		for i := 0; i < 200; i++ {
			b.Put(bktA, []byte(fmt.Sprintf("k%04d", i)), bytes.Repeat([]byte("v"), 300))
		}
	})
	var img bytes.Buffer
	if _, err := src.WriteImage(&img); err != nil {
		t.Fatal(err)
	}
	ps := src.pageSize
	damaged := append([]byte(nil), img.Bytes()...)
	damaged[pageHeaderSize+40] ^= 0xff
	damaged[ps+pageHeaderSize+40] ^= 0xff
	for name, bad := range map[string][]byte{
		"truncated":    img.Bytes()[:img.Len()/2],
		"metas-broken": damaged,
	} {
		dir, path, _ := makeDB(t)
		before, _ := os.ReadFile(path)
		_, err := OpenImage(bytes.NewReader(bad), dir, Options{})
		wantErr(t, err, engine.ErrCorrupt)
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Errorf("%s: the existing db was changed", name)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%s: OpenImage left %v behind", name, entries)
		}
	}
}

func TestOpenRemovesLeftoverTemps(t *testing.T) {
	dir, _, _ := makeDB(t)
	left := filepath.Join(dir, defragTmpPrefix+"123")
	if err := os.WriteFile(left, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := open(t, dir)
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover %s still there: %v", left, err)
	}
	if n := len(scanAll(t, e, bktA)); n != 500 {
		t.Errorf("%d keys", n)
	}
}
