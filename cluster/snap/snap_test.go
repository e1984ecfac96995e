package snap

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/cluster/wal"
	"etcdlab/cluster/wal/waltest"
	"etcdlab/internal/testseed"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// testSeed: the shared -seed flag (internal/testseed).
func testSeed(t testing.TB) uint64 { t.Helper(); return testseed.Seed(t) }

func mkSnap(term, index uint64, data string) raftpb.Snapshot {
	return raftpb.Snapshot{
		Data: []byte(data),
		Metadata: raftpb.SnapshotMetadata{
			Term: term, Index: index,
			ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}},
		},
	}
}

func sameSnap(a *raftpb.Snapshot, b raftpb.Snapshot) bool {
	return a != nil && a.Metadata.Term == b.Metadata.Term && a.Metadata.Index == b.Metadata.Index &&
		bytes.Equal(a.Data, b.Data) && len(a.Metadata.ConfState.Voters) == len(b.Metadata.ConfState.Voters)
}

func TestSaveLoadRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	s := New(fs, "snap")
	if _, err := s.Load(); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Load on a missing directory = %v, want ErrNoSnapshot", err)
	}
	if err := s.SaveSnap(raftpb.Snapshot{}); err != nil {
		t.Fatalf("SaveSnap(empty) = %v, want a no-op", err)
	}
	a, b := mkSnap(1, 10, "a"), mkSnap(2, 20, "b")
	for _, sn := range []raftpb.Snapshot{a, b} {
		if err := s.SaveSnap(sn); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := fs.List("snap")
	want := []string{"0000000000000001-000000000000000a.snap", "0000000000000002-0000000000000014.snap"}
	if strings.Join(sortedCopy(names), " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", names, want)
	}
	got, err := s.Load()
	if err != nil || !sameSnap(got, b) {
		t.Fatalf("Load = %+v, %v", got, err)
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestDamagedSnapshotFallsBack(t *testing.T) {
	cases := []struct {
		name   string
		damage func(b []byte) []byte
		want   error
	}{
		{"flipped payload bit", func(b []byte) []byte { b[len(b)-3] ^= 1; return b }, ErrCRCMismatch},
		{"truncated", func(b []byte) []byte { return b[:len(b)-5] }, ErrCorrupt},
		{"empty", func(b []byte) []byte { return nil }, ErrEmptySnapshot},
		{"bad magic", func(b []byte) []byte { b[0] = 'x'; return b }, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s := New(fs, "snap")
			old, newest := mkSnap(1, 10, "old"), mkSnap(1, 20, "newest-data")
			for _, sn := range []raftpb.Snapshot{old, newest} {
				if err := s.SaveSnap(sn); err != nil {
					t.Fatal(err)
				}
			}
			path := "snap/" + snapName(1, 20)
			b := readAll(t, fs, path)
			writeAll(t, fs, path, c.damage(b))
			if _, err := Read(fs, path); !errors.Is(err, c.want) {
				t.Fatalf("Read = %v, want %v", err, c.want)
			}
			got, err := s.Load()
			if err != nil || !sameSnap(got, old) {
				t.Fatalf("Load = %+v, %v; want the older snapshot", got, err)
			}
			if _, err := fs.Stat(path + ".broken"); err != nil {
				t.Fatalf("damaged file not kept as .broken: %v", err)
			}
			if _, err := fs.Stat(path); err == nil {
				t.Fatal("damaged file still under its name")
			}
		})
	}
	// A file whose content disagrees with its name is damage too.
	fs := vfs.NewMem()
	s := New(fs, "snap")
	if err := s.SaveSnap(mkSnap(1, 10, "x")); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename("snap/"+snapName(1, 10), "snap/"+snapName(1, 11)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Load of a misnamed snapshot = %v, want ErrNoSnapshot", err)
	}
}

func readAll(t *testing.T, fs vfs.FS, path string) []byte {
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

func writeAll(t *testing.T, fs vfs.FS, path string, b []byte) {
	t.Helper()
	f, err := fs.Create(path, writeCategory)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(append([]byte(nil), b...)); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestLoadNewestAvailable: only snapshots the WAL vouches for (marker with
// index at or below the commit) are loaded, even when a newer file exists.
func TestLoadNewestAvailable(t *testing.T) {
	fs := vfs.NewMem()
	s := New(fs, "snap")
	w, err := wal.Create(fs, "wal", nil, wal.Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ents := make([]raftpb.Entry, 30)
	for i := range ents {
		ents[i] = raftpb.Entry{Index: uint64(i + 1), Term: 1}
	}
	if err := w.Save(raftpb.HardState{Term: 1, Commit: 20}, ents); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []uint64{10, 20, 25} {
		sn := mkSnap(1, idx, "d")
		if err := s.SaveSnap(sn); err != nil { // .snap before its marker
			t.Fatal(err)
		}
		if err := w.SaveSnapshot(wal.Snapshot{Index: idx, Term: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// A snapshot file with no marker at all.
	if err := s.SaveSnap(mkSnap(1, 28, "orphan")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	walSnaps, err := wal.ValidSnapshotEntries(fs, "wal")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadNewestAvailable(walSnaps)
	if err != nil || got.Metadata.Index != 20 {
		t.Fatalf("LoadNewestAvailable = %+v, %v; want index 20 (25 is above the commit, 28 has no marker)", got, err)
	}
	if _, err := s.LoadNewestAvailable(nil); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("LoadNewestAvailable(nil) = %v", err)
	}
}

func TestPurgeKeepsMaxSnapshots(t *testing.T) {
	fs := vfs.NewMem()
	s, err := NewWithOptions(fs, "snap", Options{MaxSnapshots: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 7; i++ {
		if err := s.SaveSnap(mkSnap(1, i*10, "d")); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := s.snapNames()
	if len(names) != 3 || names[0] != snapName(1, 70) || names[2] != snapName(1, 50) {
		t.Fatalf("kept %v", names)
	}
}

func TestReceiveDBImage(t *testing.T) {
	fs := vfs.NewMem()
	s := New(fs, "snap")
	img := bytes.Repeat([]byte("backend-page"), 10000)
	path, n, err := s.ReceiveDBImage(bytes.NewReader(img), 42)
	if err != nil || n != int64(len(img)) || path != s.DBFilePath(42) || filepath.Base(path) != "000000000000002a.snap.db" {
		t.Fatalf("ReceiveDBImage = %q, %d, %v", path, n, err)
	}
	if got := readAll(t, fs, path); !bytes.Equal(got, img) {
		t.Fatal("image content differs")
	}
	// A stream that fails half way leaves nothing usable behind.
	broken := io.MultiReader(bytes.NewReader(img[:1000]), errReader{})
	if _, _, err := s.ReceiveDBImage(broken, 43); err == nil {
		t.Fatal("failed stream reported success")
	}
	if _, _, err := s.ReceiveDBImage(bytes.NewReader(nil), 44); !errors.Is(err, ErrEmptySnapshot) {
		t.Fatalf("empty stream: %v", err)
	}
	names, _ := fs.List("snap")
	if strings.Join(names, ",") != "000000000000002a.snap.db" {
		t.Fatalf("files after failed receives: %v", names)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestDurabilityOrder pins the order of a snapshot save and its place in
// etcd's protocol: the .snap is complete and its name durable before the
// WAL marker is written, and old WAL segments go only after the marker is
// synced.
func TestDurabilityOrder(t *testing.T) {
	dir := t.TempDir()
	rfs := waltest.Wrap(vfs.Default)
	s := New(rfs, filepath.Join(dir, "snap"))
	w, err := wal.Create(rfs, filepath.Join(dir, "wal"), nil, wal.Options{SegmentSize: 4096, MaxSegments: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := uint64(1); i <= 40; i++ {
		e := []raftpb.Entry{{Index: i, Term: 1, Data: bytes.Repeat([]byte{1}, 200)}}
		if err := w.Save(raftpb.HardState{Term: 1, Commit: i}, e); err != nil {
			t.Fatal(err)
		}
	}
	if w.Stats().Cuts < 2 {
		t.Fatal("need several segments")
	}
	rfs.Reset()
	sn := mkSnap(1, 30, "state")
	if err := s.SaveSnap(sn); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveSnapshot(wal.Snapshot{Index: 30, Term: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.ReleaseLockTo(30); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, op := range rfs.Ops() {
		if isPipelineOp(op) {
			continue
		}
		l := op.String()
		if op.Kind == waltest.OpRemove || strings.HasSuffix(op.Path, ".wal") {
			// Segment names depend on where cuts fell; keep the kind.
			l = string(op.Kind) + " SEGMENT"
			if op.Kind == waltest.OpSyncDir {
				l = op.String()
			}
		}
		lines = append(lines, l)
	}
	got := strings.Join(lines, "\n")
	name := snapName(1, 30)
	wantPrefix := strings.Join([]string{
		"mkdir snap",
		"sync-dir " + filepath.Base(dir),
		"create " + name + ".tmp",
		"write " + name + ".tmp",
		"sync " + name + ".tmp",
		"rename " + name + ".tmp " + name,
		"sync-dir snap",  // the .snap is durable under its name ...
		"write SEGMENT",  // ... before the WAL marker is written
		"sync SEGMENT",   // the marker is synced ...
		"remove SEGMENT", // ... before any segment is deleted
	}, "\n")
	if !strings.HasPrefix(got, wantPrefix) || !strings.HasSuffix(got, "sync-dir wal") {
		t.Fatalf("trace:\n%s\nwant prefix:\n%s\nand a final sync-dir wal", got, wantPrefix)
	}
}

func isPipelineOp(op waltest.Op) bool {
	if !strings.HasSuffix(op.Path, ".tmp") || strings.Contains(op.Path, ".snap") {
		return false
	}
	switch op.Kind {
	case waltest.OpCreate, waltest.OpPrealloc, waltest.OpTruncate, waltest.OpRemove:
		return true
	}
	return false
}

// TestCrashDuringSave crashes at every mutating operation of a series of
// snapshot saves (with purging) and db image receives: after the crash the
// newest acknowledged snapshot, or a newer one, loads intact, nothing is
// reported damaged, and a db image is either absent or complete.
func TestCrashDuringSave(t *testing.T) {
	seed := testSeed(t)
	for _, pct := range []int{0, 50} {
		points := 0
		for k := 0; ; k++ {
			mem := vfs.NewCrashableMem()
			rfs := waltest.Wrap(mem)
			var clone *vfs.MemFS
			cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: pct}
			if pct > 0 {
				cfg.RNG = rand.New(rand.NewPCG(seed, uint64(k)))
			}
			rfs.SetBefore(nil, func(op waltest.Op, n int) error {
				if n == k {
					clone = mem.CrashClone(cfg)
					rfs.Crash()
					return waltest.ErrCrashed
				}
				return nil
			})
			s, _ := NewWithOptions(rfs, "snap", Options{MaxSnapshots: 2})
			var acked uint64
			images := map[uint64][]byte{}
			rng := rand.New(rand.NewPCG(seed, 1))
			for i := uint64(1); i <= 6; i++ {
				data := make([]byte, 100+rng.IntN(9000))
				for j := range data {
					data[j] = byte(rng.UintN(256))
				}
				if err := s.SaveSnap(mkSnap(1, i*10, string(data))); err != nil {
					if !errors.Is(err, waltest.ErrCrashed) {
						t.Fatalf("k=%d: SaveSnap: %v", k, err)
					}
					break
				}
				acked = i * 10
				images[i*10] = data
				if _, _, err := s.ReceiveDBImage(bytes.NewReader(data), i*10); err != nil {
					if !errors.Is(err, waltest.ErrCrashed) {
						t.Fatalf("k=%d: ReceiveDBImage: %v", k, err)
					}
					break
				}
			}
			if clone == nil {
				break
			}
			points++
			cs := New(clone, "snap")
			got, err := cs.Load()
			if acked == 0 {
				if err != nil && !errors.Is(err, ErrNoSnapshot) {
					t.Fatalf("k=%d: Load with nothing acknowledged: %v", k, err)
				}
			} else if err != nil || got.Metadata.Index < acked {
				t.Fatalf("k=%d: Load = %+v, %v; acknowledged %d", k, got, err, acked)
			}
			names, _ := clone.List("snap")
			for _, n := range names {
				if strings.HasSuffix(n, ".broken") {
					t.Fatalf("k=%d: a complete save left damage: %v", k, names)
				}
				var idx uint64
				if _, err := fmtSscan(n, &idx); err == nil {
					b := readAll(t, clone, "snap/"+n)
					if !bytes.Equal(b, images[idx]) {
						t.Fatalf("k=%d: db image %s is incomplete (%d of %d bytes)", k, n, len(b), len(images[idx]))
					}
				}
			}
		}
		t.Logf("unsynced kept %d%%: crash points tried: %d", pct, points)
	}
}
