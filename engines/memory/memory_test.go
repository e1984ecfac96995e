package memory_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/engines/engine"
	"etcdlab/engines/enginetest"
	"etcdlab/engines/memory"
)

func openT(t *testing.T, dir string) engine.Engine {
	t.Helper()
	e, err := memory.Open(dir, memory.Options{})
	if err != nil {
		t.Fatalf("memory.Open(%s): %v", dir, err)
	}
	return e
}

func TestConformance(t *testing.T) {
	enginetest.Harness{
		Open: openT,
		OpenImage: func(t *testing.T, r io.Reader, dir string) (engine.Engine, error) {
			e, err := memory.OpenImage(r, dir, memory.Options{})
			if err != nil {
				return nil, err
			}
			return e, nil
		},
	}.Run(t)
}

func TestConformanceSmallDegree(t *testing.T) {
	// Degree 2 makes every node split and merge often, which exercises the
	// copy-on-write paths that views rely on.
	enginetest.Run(t, func(t *testing.T, dir string) engine.Engine {
		e, err := memory.Open(dir, memory.Options{Degree: 2})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

func TestOptions(t *testing.T) {
	cases := []struct {
		kv      map[string]string
		want    string
		wantErr string
	}{
		{nil, "degree=32", ""},
		{map[string]string{"degree": "8"}, "degree=8", ""},
		{map[string]string{"degree": "1"}, "", `degree="1": want an integer in [2, 1024]`},
		{map[string]string{"degree": "0"}, "", `degree="0": want an integer in [2, 1024]`},
		{map[string]string{"degree": "x"}, "", `degree="x": want an integer in [2, 1024]`},
		{map[string]string{"cache": "1"}, "", `unknown option "cache" (accepted: degree (default 32))`},
	}
	for _, c := range cases {
		o, err := memory.ParseOptions(c.kv)
		if c.wantErr != "" {
			if err == nil || !errors.Is(err, engine.ErrBadOption) || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseOptions(%v) = %v, want ErrBadOption containing %q", c.kv, err, c.wantErr)
			}
			continue
		}
		if err != nil || o.String() != c.want {
			t.Errorf("ParseOptions(%v) = %q, %v; want %q", c.kv, o.String(), err, c.want)
			continue
		}
		// String round-trips through ParseKV and ParseOptions.
		kv, err := engine.ParseKV(memory.Name, strings.Split(o.String(), ","), memory.Knobs())
		if err != nil {
			t.Fatalf("ParseKV(%q): %v", o.String(), err)
		}
		if o2, err := memory.ParseOptions(kv); err != nil || o2 != o {
			t.Errorf("round trip of %q gave %+v, %v", o.String(), o2, err)
		}
	}
	if _, err := memory.Open("", memory.Options{Degree: 5000}); !errors.Is(err, engine.ErrBadOption) {
		t.Errorf("Open with degree 5000: %v, want ErrBadOption", err)
	}
}

func populated(t *testing.T) (*memory.Engine, []byte) {
	t.Helper()
	e, err := memory.Open("", memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	b := e.NewBatch()
	b.Put(engine.Bucket{ID: 1, Name: "a"}, []byte("k1"), []byte("v1"))
	b.Put(engine.Bucket{ID: 2, Name: "b"}, []byte("k2"), []byte("value two"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := e.WriteImage(&buf); err != nil {
		t.Fatal(err)
	}
	return e, buf.Bytes()
}

// resum recomputes the trailing checksum so that a test can damage the body
// in a way only the structural checks catch.
func resum(img []byte) []byte {
	out := append([]byte(nil), img...)
	body := out[:len(out)-4]
	binary.BigEndian.PutUint32(out[len(out)-4:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func TestImageRejects(t *testing.T) {
	_, img := populated(t)
	const magicLen = len("etcdlab-memory-image v1\n")
	flip := func(i int) []byte {
		out := append([]byte(nil), img...)
		out[i] ^= 0x01
		return out
	}
	countPlus := func(d uint64) []byte {
		out := append([]byte(nil), img...)
		c := binary.BigEndian.Uint64(out[magicLen:])
		binary.BigEndian.PutUint64(out[magicLen:], c+d)
		return resum(out)
	}
	// Two records swapped: bucket 2 first, then bucket 1.
	swapped := func() []byte {
		rec1 := img[magicLen+8 : magicLen+8+1+4+2+4+2]
		rec2 := img[magicLen+8+len(rec1) : len(img)-4]
		out := append([]byte(nil), img[:magicLen+8]...)
		out = append(out, rec2...)
		out = append(out, rec1...)
		return resum(append(out, 0, 0, 0, 0))
	}
	hugeKeyLen := func() []byte {
		out := append([]byte(nil), img...)
		binary.BigEndian.PutUint32(out[magicLen+8+1:], 0xffffffff)
		return out
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, engine.ErrCorrupt},
		{"header-prefix", img[:10], engine.ErrCorrupt},
		{"foreign", []byte("SQLite format 3\x00 and more bytes here"), engine.ErrWrongEngine},
		{"other-version", append([]byte("etcdlab-memory-image v2\n"), img[magicLen:]...), engine.ErrWrongEngine},
		{"bit-flip-in-value", flip(len(img) - 6), engine.ErrCorrupt},
		{"bit-flip-in-checksum", flip(len(img) - 1), engine.ErrCorrupt},
		{"truncated-in-record", img[:magicLen+12], engine.ErrCorrupt},
		{"truncated-checksum", img[:len(img)-2], engine.ErrCorrupt},
		{"trailing-bytes", append(append([]byte(nil), img...), 0), engine.ErrCorrupt},
		{"count-too-high", countPlus(1), engine.ErrCorrupt},
		{"count-too-low", countPlus(^uint64(0)), engine.ErrCorrupt}, // c-1
		{"records-out-of-order", swapped(), engine.ErrCorrupt},
		{"huge-declared-key-length", hugeKeyLen(), engine.ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := memory.OpenImage(bytes.NewReader(c.data), "", memory.Options{})
			if err == nil {
				e.Close()
				t.Fatalf("OpenImage accepted it")
			}
			if !errors.Is(err, c.want) {
				t.Errorf("OpenImage: %v, want %v", err, c.want)
			}
		})
	}
	if e, err := memory.OpenImage(bytes.NewReader(img), "", memory.Options{}); err != nil {
		t.Fatalf("the undamaged image: %v", err)
	} else {
		e.Close()
	}
}

func TestDurableFileProtocol(t *testing.T) {
	dir := t.TempDir()
	e, err := memory.Open(dir, memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := e.NewBatch()
	b.Put(engine.Bucket{ID: 1}, []byte("k"), []byte("v"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Fsyncs != 0 || st.BytesWritten != 0 {
		t.Errorf("a synced commit wrote %d bytes with %d fsyncs; the memory engine writes only on Close", st.BytesWritten, st.Fsyncs)
	}
	if _, err := os.Stat(filepath.Join(dir, memory.ImageFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("image exists before Close: %v", err)
	}
	var img bytes.Buffer
	n, _ := e.WriteImage(&img)
	st := e.Stats()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != memory.ImageFile {
		t.Errorf("data dir after Close holds %v, want only %s (no temp files)", entries, memory.ImageFile)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, memory.ImageFile))
	if err != nil || !bytes.Equal(onDisk, img.Bytes()) {
		t.Errorf("image file differs from WriteImage output (%v)", err)
	}
	after := e.Stats().Sub(st)
	if after.BytesWritten != n || after.Fsyncs != 2 {
		t.Errorf("Close wrote %d bytes with %d fsyncs; want %d bytes, 2 fsyncs (file and dir)", after.BytesWritten, after.Fsyncs, n)
	}
	// A temporary image left by a crash in the middle of Close is removed by
	// Open, and the image it did not replace is what Open loads.
	stale := filepath.Join(dir, memory.ImageFile+".tmp-123")
	if err := os.WriteFile(stale, []byte("torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	e2, err := memory.Open(dir, memory.Options{})
	if err != nil {
		t.Fatalf("Open with a stale temporary image: %v", err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary image still there after Open: %v", err)
	}
	if v, err := e2.NewView(); err != nil {
		t.Fatal(err)
	} else if got, err := v.Get(engine.Bucket{ID: 1}, []byte("k")); err != nil || string(got) != "v" {
		t.Errorf("after reopen Get = %q, %v", got, err)
	}
	if err := e2.Close(); err != nil {
		t.Fatal(err)
	}
	onDisk, err = os.ReadFile(filepath.Join(dir, memory.ImageFile))
	if err != nil {
		t.Fatal(err)
	}
	// A damaged image in the dir is refused by Open, not silently replaced.
	if err := os.WriteFile(filepath.Join(dir, memory.ImageFile), onDisk[:len(onDisk)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := memory.Open(dir, memory.Options{}); !errors.Is(err, engine.ErrCorrupt) {
		t.Errorf("Open of a truncated image: %v, want ErrCorrupt", err)
	}
}

func TestSizeTracksLiveBytes(t *testing.T) {
	e, _ := populated(t)
	if got := e.Size(); got != int64(len("k1v1k2value two")) {
		t.Errorf("Size() = %d, want %d", got, len("k1v1k2value two"))
	}
	b := e.NewBatch()
	b.Put(engine.Bucket{ID: 1}, []byte("k1"), []byte("longer value"))
	b.DeleteRange(engine.Bucket{ID: 2}, nil, nil)
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if got, want := e.Size(), int64(len("k1longer value")); got != want || e.SizeInUse() != want {
		t.Errorf("Size() = %d, SizeInUse() = %d, want %d", got, e.SizeInUse(), want)
	}
}

func BenchmarkMemory(b *testing.B) {
	enginetest.Bench(b, func(b *testing.B, dir string) engine.Engine {
		e, err := memory.Open(dir, memory.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return e
	})
}

// TestSyncSurvivesCrash: the memory engine keeps nothing on a crash but its
// last image. A second engine opened on the directory without closing the
// first (what a restart after a process crash sees) holds what was committed
// before Sync and nothing committed after it.
func TestSyncSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir)
	defer e.Close()
	b := engine.Bucket{ID: 1, Name: "b"}
	put := func(k string) {
		bt := e.NewBatch()
		bt.Put(b, []byte(k), []byte("v"))
		if err := bt.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	has := func(e engine.Engine, k string) bool {
		v, err := e.NewView()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		_, err = v.Get(b, []byte(k))
		return err == nil
	}
	put("before")
	if err := e.Sync(); err != nil {
		t.Fatal(err)
	}
	put("after")
	crashed := openT(t, dir)
	defer crashed.Close()
	if !has(crashed, "before") {
		t.Error("a commit made before Sync is lost by a crash")
	}
	if has(crashed, "after") {
		t.Error("a commit made after the last Sync survived a crash: the test does not crash")
	}
}
