package wal

import (
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// fsCase runs a test on MemFS and on the real disk (where truncation uses
// ftruncate instead of rewrite-and-rename).
type fsCase struct {
	name string
	fs   func(t *testing.T) (vfs.FS, string)
}

var fsCases = []fsCase{
	{"fs=mem", func(t *testing.T) (vfs.FS, string) { return vfs.NewMem(), "w" }},
	{"fs=disk", func(t *testing.T) (vfs.FS, string) { return vfs.Default, filepath.Join(t.TempDir(), "w") }},
}

func readFile(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, fs vfs.FS, path string, b []byte) {
	t.Helper()
	f, err := fs.Create(path, writeCategory)
	if err != nil {
		t.Fatal(err)
	}
	// A copy: under the race detector pebble's MemFS scribbles over the
	// buffer passed to Write to catch callers that reuse it.
	if _, err := f.Write(append([]byte(nil), b...)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// recordOffsets lists the offsets of the records in a segment's bytes.
func recordOffsets(b []byte) []int64 {
	var offs []int64
	for off := int64(0); off+8 <= int64(len(b)); {
		lf := binary.LittleEndian.Uint64(b[off:])
		if lf == 0 {
			break
		}
		rb, pb, ok := decodeFrameSize(lf)
		if !ok {
			break
		}
		offs = append(offs, off)
		off += 8 + rb + pb
	}
	return offs
}

func lastSegment(t *testing.T, fs vfs.FS, dir string) string {
	t.Helper()
	segs, err := readSegments(fs, dir)
	if err != nil || len(segs) == 0 {
		t.Fatal(segs, err)
	}
	return fs.PathJoin(dir, segs[len(segs)-1].name)
}

// buildLog writes n entries of size bytes, one per Save, with a big
// segment so they share the last segment.
func buildLog(t *testing.T, fs vfs.FS, dir string, n, size int) []raftpb.Entry {
	return writeLog(t, fs, dir, Options{SegmentSize: 1 << 20}, n, size, 7)
}

func TestTornTailRepaired(t *testing.T) {
	for _, fc := range fsCases {
		for _, tear := range []string{"zero-sector", "short-file"} {
			t.Run(fc.name+"/tear="+tear, func(t *testing.T) {
				fs, dir := fc.fs(t)
				all := buildLog(t, fs, dir, 5, 2000)
				path := lastSegment(t, fs, dir)
				data := readFile(t, fs, path)
				offs := recordOffsets(data)
				// The last two records are entry 5 and its hard state.
				lastEnt := offs[len(offs)-2]
				switch tear {
				case "zero-sector":
					sector := (lastEnt + 8 + 511) / 512 * 512
					for i := sector; i < sector+512; i++ {
						data[i] = 0
					}
					// Everything after the torn record was never synced either.
					for i := offs[len(offs)-1]; i < int64(len(data)); i++ {
						data[i] = 0
					}
				case "short-file":
					data = data[:lastEnt+1000]
				}
				writeFile(t, fs, path, data)
				var repairs []Event
				opts := Options{SegmentSize: 1 << 20, OnEvent: func(e Event) {
					if e.Kind == EventRepair {
						repairs = append(repairs, e)
					}
				}}
				w, md, st, ents := openRead(t, fs, dir, Snapshot{}, opts)
				if len(repairs) != 1 || repairs[0].Offset != lastEnt {
					t.Fatalf("repairs = %+v, want one at %d", repairs, lastEnt)
				}
				if string(md) != "meta" || st.Commit != 4 || !entsEqual(ents, all[:4]) {
					t.Fatalf("after repair: md %q st %+v %d entries", md, st, len(ents))
				}
				if b := readFile(t, fs, path+".broken"); len(b) != len(data) {
					t.Fatalf(".broken copy has %d bytes, want %d", len(b), len(data))
				}
				// The repaired log takes appends and reads back cleanly.
				e5 := makeEnts(newRNG(9), 5, 2, 1, 100)
				if err := w.Save(raftpb.HardState{Term: 2, Commit: 5}, e5); err != nil {
					t.Fatal(err)
				}
				w.Close()
				w, _, _, ents = openRead(t, fs, dir, Snapshot{}, opts)
				w.Close()
				if len(repairs) != 1 || !entsEqual(ents, append(all[:4:4], e5...)) {
					t.Fatalf("after append: %d repairs, %d entries", len(repairs), len(ents))
				}
			})
		}
	}
}

func TestCorruptionIsNotRepaired(t *testing.T) {
	cases := []struct {
		name   string
		segs   int // which segment to damage, counted from the newest (0)
		record int // which record
		flip   func(off int64) int64
		want   error
	}{
		{"payload bit of an older record in the last segment", 0, 3, func(off int64) int64 { return off + 40 }, ErrCRCMismatch},
		{"payload bit in an older segment", 2, 3, func(off int64) int64 { return off + 40 }, ErrCRCMismatch},
		{"crc field", 0, 2, func(off int64) int64 { return off + 10 }, ErrCRCMismatch},
		{"type byte", 0, 2, func(off int64) int64 { return off + 8 }, ErrCorrupt},
		{"length word", 0, 3, func(off int64) int64 { return off + 6 }, ErrCorrupt},
	}
	for _, fc := range fsCases {
		for _, c := range cases {
			t.Run(fc.name+"/"+c.name, func(t *testing.T) {
				fs, dir := fc.fs(t)
				writeLog(t, fs, dir, Options{SegmentSize: 4096}, 60, 200, 8)
				segs, _ := readSegments(fs, dir)
				seg := segs[len(segs)-1-c.segs]
				path := fs.PathJoin(dir, seg.name)
				data := readFile(t, fs, path)
				off := recordOffsets(data)[c.record]
				data[c.flip(off)] ^= 0x10
				writeFile(t, fs, path, data)
				var repairs int
				w, err := Open(fs, dir, Snapshot{}, Options{SegmentSize: 4096, OnEvent: func(e Event) {
					if e.Kind == EventRepair {
						repairs++
					}
				}})
				if err != nil {
					t.Fatal(err)
				}
				_, _, _, err = w.ReadAll()
				w.Close()
				var ce *CorruptError
				if !errors.As(err, &ce) || !errors.Is(err, c.want) || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("ReadAll = %v, want a CorruptError matching %v", err, c.want)
				}
				if ce.File != seg.name || ce.Offset != off {
					t.Fatalf("error names %s@%d, want %s@%d", ce.File, ce.Offset, seg.name, off)
				}
				if repairs != 0 {
					t.Fatal("corruption was repaired")
				}
				if _, err := fs.Stat(path + ".broken"); err == nil {
					t.Fatal("a .broken copy was made for corruption")
				}
				if got := readFile(t, fs, path); string(got) != string(data) {
					t.Fatal("the corrupt segment was modified")
				}
			})
		}
	}
}

// TestZeroTailBeforeAppend covers a crash that kept a later unsynced block
// but lost an earlier one: reading stops at the zero gap, and the leftovers
// after it must be zeroed, or a short append followed by a reopen would
// decode them.
func TestZeroTailBeforeAppend(t *testing.T) {
	for _, fc := range fsCases {
		t.Run(fc.name, func(t *testing.T) {
			fs, dir := fc.fs(t)
			all := buildLog(t, fs, dir, 3, 100)
			path := lastSegment(t, fs, dir)
			data := readFile(t, fs, path)
			offs := recordOffsets(data)
			last := offs[len(offs)-1]
			rb, pb, _ := decodeFrameSize(binary.LittleEndian.Uint64(data[last:]))
			validEnd := last + 8 + rb + pb
			// A "kept block" of leftover record bytes 4 KiB later.
			garbage := make([]byte, 4096)
			copy(garbage, data[:validEnd])
			var out []byte
			out = append(out, data[:validEnd]...)
			out = append(out, make([]byte, 64)...)
			out = append(out, garbage[8:]...)
			writeFile(t, fs, path, out)
			w, _, _, ents := openRead(t, fs, dir, Snapshot{}, Options{SegmentSize: 1 << 20})
			if !entsEqual(ents, all) {
				t.Fatalf("%d entries", len(ents))
			}
			after := readFile(t, fs, path)
			for i := validEnd; i < int64(len(after)); i++ {
				if after[i] != 0 {
					t.Fatalf("byte %d after the last valid record is %#x, want zeroed", i, after[i])
				}
			}
			e := makeEnts(newRNG(1), 4, 1, 1, 30)
			if err := w.Save(raftpb.HardState{Term: 1, Commit: 4}, e); err != nil {
				t.Fatal(err)
			}
			w.Close()
			w, _, _, ents = openRead(t, fs, dir, Snapshot{}, Options{SegmentSize: 1 << 20})
			w.Close()
			if !entsEqual(ents, append(all, e...)) {
				t.Fatalf("after append: %d entries", len(ents))
			}
		})
	}
}
