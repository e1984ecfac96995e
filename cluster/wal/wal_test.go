package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"etcdlab/internal/clock"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

func TestOptionsValidate(t *testing.T) {
	var o Options
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if o.SegmentSize != 64_000_000 || o.MaxSegments != 5 || o.SlowSync != time.Second {
		t.Fatalf("defaults = %+v", o)
	}
	bad := Options{SegmentSize: 10, SlowSync: -1}
	err := bad.Validate()
	for _, want := range []string{"SegmentSize", "SlowSync", "Clock"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want mention of %s", err, want)
		}
	}
	if !errors.Is(err, ErrBadOption) {
		t.Errorf("Validate() = %v, want ErrBadOption", err)
	}
	if _, err := Create(vfs.NewMem(), "w", nil, Options{SegmentSize: 1}); !errors.Is(err, ErrBadOption) {
		t.Errorf("Create with bad options = %v", err)
	}
}

func TestFrameSize(t *testing.T) {
	for n := 0; n < 40; n++ {
		lf, pad := encodeFrameSize(n)
		if (n+pad)%8 != 0 {
			t.Fatalf("n=%d pad=%d not aligned", n, pad)
		}
		rb, pb, ok := decodeFrameSize(lf)
		if !ok || rb != int64(n) || pb != int64(pad) {
			t.Fatalf("n=%d: decode(%#x) = %d,%d,%v", n, lf, rb, pb, ok)
		}
		if pad == 0 && lf>>56 != 0 {
			t.Fatalf("n=%d: unpadded record has flag byte", n)
		}
	}
	for _, lf := range []uint64{1 << 56, 0x88 << 56, 0x81<<56 | 3, 5} {
		if _, _, ok := decodeFrameSize(lf); ok {
			t.Errorf("decodeFrameSize(%#x) accepted a length word no encoder writes", lf)
		}
	}
}

// encodeToBytes encodes records with a fresh encoder and returns the bytes.
func encodeToBytes(t *testing.T, f func(e *encoder) error) []byte {
	t.Helper()
	e := &encoder{pw: newPageWriter(nil, 0)}
	if err := f(e); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), e.pw.buf...)
}

func TestRecordRoundTrip(t *testing.T) {
	rng := newRNG(testSeed(t))
	var ents []raftpb.Entry
	for size := 0; size < 70; size++ {
		ents = append(ents, makeEnts(rng, uint64(size+1), 3, 1, size)...)
	}
	st := raftpb.HardState{Term: 3, Vote: 2, Commit: 40}
	snap := Snapshot{Index: 7, Term: 2, ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}}}
	buf := encodeToBytes(t, func(e *encoder) error {
		if err := e.encodeCRC(); err != nil {
			return err
		}
		if err := e.encodeBytes(metadataType, []byte("meta")); err != nil {
			return err
		}
		for i := range ents {
			if err := e.encodeEntry(&ents[i]); err != nil {
				return err
			}
			if e.pw.offset()%8 != 0 {
				return fmt.Errorf("record %d ends unaligned at %d", i, e.pw.offset())
			}
		}
		if err := e.encodeState(&st); err != nil {
			return err
		}
		return e.encodeSnapshot(snap)
	})
	if len(buf)%8 != 0 {
		t.Fatalf("encoded length %d not 8-aligned", len(buf))
	}
	dec := newDecoder(newSegReader("x.wal", bytes.NewReader(buf), int64(len(buf))))
	res, err := replay(dec, Snapshot{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.metadata) != "meta" || res.state != st || !entsEqual(res.ents, ents) {
		t.Fatalf("round trip mismatch: meta %q state %+v, %d ents", res.metadata, res.state, len(res.ents))
	}
	if len(res.snaps) != 1 || res.snaps[0].Index != 7 || res.snaps[0].Term != 2 || len(res.snaps[0].ConfState.Voters) != 3 {
		t.Fatalf("snapshot marker = %+v", res.snaps)
	}
	if dec.lastOffset() != int64(len(buf)) {
		t.Fatalf("lastOffset %d, want %d", dec.lastOffset(), len(buf))
	}
}

func TestRecordTooLarge(t *testing.T) {
	fs := vfs.NewMem()
	w, err := Create(fs, "w", nil, Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	big := raftpb.Entry{Index: 1, Term: 1, Data: make([]byte, maxRecordBytes)}
	if err := w.Save(raftpb.HardState{Term: 1}, []raftpb.Entry{big}); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("Save(huge) = %v, want ErrRecordTooLarge", err)
	}
	// The refusal is not sticky and wrote nothing.
	if err := w.Save(raftpb.HardState{Term: 1}, []raftpb.Entry{{Index: 1, Term: 1}}); err != nil {
		t.Fatalf("Save after refusal: %v", err)
	}
}

// writeLog creates a WAL with small segments and saves n single-entry
// batches, returning the entries.
func writeLog(t *testing.T, fs vfs.FS, dir string, opts Options, n, size int, seed uint64) []raftpb.Entry {
	t.Helper()
	w, err := Create(fs, dir, []byte("meta"), opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := newRNG(seed)
	var all []raftpb.Entry
	for i := 1; i <= n; i++ {
		ents := makeEnts(rng, uint64(i), 1, 1, size)
		if err := w.Save(raftpb.HardState{Term: 1, Commit: uint64(i)}, ents); err != nil {
			t.Fatal(err)
		}
		all = append(all, ents...)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return all
}

func openRead(t *testing.T, fs vfs.FS, dir string, snap Snapshot, opts Options) (*WAL, []byte, raftpb.HardState, []raftpb.Entry) {
	t.Helper()
	w, err := Open(fs, dir, snap, opts)
	if err != nil {
		t.Fatal(err)
	}
	md, st, ents, err := w.ReadAll()
	if err != nil {
		w.Close()
		t.Fatal(err)
	}
	return w, md, st, ents
}

func TestCutReopenAndCRCChain(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{SegmentSize: 2048}
	var cuts int
	opts.OnEvent = func(e Event) {
		if e.Kind == EventCut {
			cuts++
		}
	}
	all := writeLog(t, fs, "w", opts, 120, 100, 1)
	segs, err := readSegments(fs, "w")
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 4 || cuts != len(segs)-1 {
		t.Fatalf("%d segments, %d cut events: want several", len(segs), cuts)
	}
	// Each segment is named by the index of its first entry, and starts
	// with a crc record equal to the running crc at the end of the previous.
	var prevCRC uint32
	for i, s := range segs {
		data, err := fs.UnsafeGetFileDataBuffer("w/" + s.name)
		if err != nil {
			t.Fatal(err)
		}
		if s.seq != uint64(i) {
			t.Fatalf("segment %d has seq %d", i, s.seq)
		}
		dec := newDecoder(newSegReader(s.name, bytes.NewReader(data), int64(len(data))))
		var rec record
		first := true
		var firstEnt uint64
		for {
			err := dec.decode(&rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if first {
				if rec.typ != crcType || rec.crc != prevCRC {
					t.Fatalf("%s: first record type %d crc %#x, want crc record %#x", s.name, rec.typ, rec.crc, prevCRC)
				}
				dec.crc = rec.crc
				first = false
			}
			if rec.typ == entryType && firstEnt == 0 {
				var e raftpb.Entry
				if err := e.Unmarshal(rec.payload); err != nil {
					t.Fatal(err)
				}
				firstEnt = e.Index
			}
		}
		if i > 0 && firstEnt != 0 && firstEnt != s.index {
			t.Fatalf("%s: first entry %d, name says %d", s.name, firstEnt, s.index)
		}
		prevCRC = dec.lastCRC()
	}
	w, md, st, ents := openRead(t, fs, "w", Snapshot{}, opts)
	if string(md) != "meta" || st.Commit != 120 || !entsEqual(ents, all) {
		t.Fatalf("reopen: md %q commit %d, %d entries", md, st.Commit, len(ents))
	}
	// Append after reopen continues the chain into the next segments.
	more := makeEnts(newRNG(2), 121, 2, 30, 100)
	for i := range more {
		if err := w.Save(raftpb.HardState{Term: 2, Commit: 121 + uint64(i)}, more[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, _, _, ents = openRead(t, fs, "w", Snapshot{}, opts)
	w.Close()
	if !entsEqual(ents, append(all, more...)) {
		t.Fatalf("after append: %d entries, want %d", len(ents), len(all)+len(more))
	}

	// Breaking a middle segment's chain link is corruption, not a repair.
	mid := segs[2].name
	data, _ := fs.UnsafeGetFileDataBuffer("w/" + mid)
	binary.LittleEndian.PutUint32(data[9:13], binary.LittleEndian.Uint32(data[9:13])^1)
	w, err = Open(fs, "w", Snapshot{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = w.ReadAll()
	w.Close()
	var ce *CorruptError
	if !errors.Is(err, ErrCRCMismatch) || !errors.As(err, &ce) || ce.File != mid || ce.Offset != 0 {
		t.Fatalf("broken chain: err = %v, want crc mismatch in %s at 0", err, mid)
	}
}

func TestSyncExactlyWhenRaftSaysSo(t *testing.T) {
	fs := vfs.NewMem()
	w, err := Create(fs, "w", nil, Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	base := w.Stats().Syncs
	rng := newRNG(3)
	steps := []struct {
		name string
		st   raftpb.HardState
		n    int
		sync bool
	}{
		{"new entries", raftpb.HardState{Term: 1, Vote: 1, Commit: 0}, 2, true},
		{"commit only", raftpb.HardState{Term: 1, Vote: 1, Commit: 1}, 0, false},
		{"commit only again", raftpb.HardState{Term: 1, Vote: 1, Commit: 2}, 0, false},
		{"empty", raftpb.HardState{}, 0, false},
		{"vote change", raftpb.HardState{Term: 1, Vote: 2, Commit: 2}, 0, true},
		{"term change", raftpb.HardState{Term: 2, Vote: 2, Commit: 2}, 0, true},
		{"entries, same state", raftpb.HardState{Term: 2, Vote: 2, Commit: 2}, 1, true},
	}
	next := uint64(1)
	for _, s := range steps {
		before := w.Stats().Syncs
		ents := makeEnts(rng, next, s.st.Term, s.n, 10)
		next += uint64(s.n)
		if err := w.Save(s.st, ents); err != nil {
			t.Fatal(err)
		}
		got := w.Stats().Syncs - before
		if want := map[bool]int64{true: 1, false: 0}[s.sync]; got != want {
			t.Errorf("%s: %d syncs, want %d", s.name, got, want)
		}
	}
	if err := w.SaveSnapshot(Snapshot{Index: 1, Term: 1}); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Syncs-base != 5 || st.BytesWritten == 0 || st.SyncLatency.TotalCount() != st.Syncs {
		t.Errorf("stats = %+v", st)
	}
}

func TestSlowSyncEvent(t *testing.T) {
	fake := clock.NewFake(time.Unix(0, 0))
	var events []Event
	fs := &slowFS{FS: vfs.NewMem(), clk: fake, d: 1500 * time.Millisecond}
	w, err := Create(fs, "w", nil, Options{SegmentSize: 1 << 20, Clock: fake, OnEvent: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	events = nil
	if err := w.Save(raftpb.HardState{Term: 1}, []raftpb.Entry{{Index: 1, Term: 1}}); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Kind != EventSlowSync || events[0].Duration != 1500*time.Millisecond {
		t.Fatalf("events = %+v, want one slow sync of 1.5s", events)
	}
	if st := w.Stats(); st.SlowSyncs < 1 || st.SyncMax < time.Second {
		t.Fatalf("stats = %+v", st)
	}
}

// slowFS advances a fake clock during every file sync.
type slowFS struct {
	vfs.FS
	clk *clock.Fake
	d   time.Duration
}

func (s *slowFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := s.FS.Create(name, c)
	return &slowFile{File: f, fs: s}, err
}

func (s *slowFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, o ...vfs.OpenOption) (vfs.File, error) {
	f, err := s.FS.OpenReadWrite(name, c, o...)
	return &slowFile{File: f, fs: s}, err
}

type slowFile struct {
	vfs.File
	fs *slowFS
}

func (f *slowFile) SyncData() error { f.fs.clk.Advance(f.fs.d); return f.File.SyncData() }

func TestOverwrittenEntriesAndSnapshot(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{SegmentSize: 1024}
	w, err := Create(fs, "w", []byte("m"), opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := newRNG(4)
	e1 := makeEnts(rng, 1, 1, 10, 50)
	if err := w.Save(raftpb.HardState{Term: 1, Commit: 5}, e1); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveSnapshot(Snapshot{Index: 5, Term: 1}); err != nil {
		t.Fatal(err)
	}
	// A new leader overwrites the uncommitted 8..10 with 8..9 of term 2.
	e2 := makeEnts(rng, 8, 2, 2, 50)
	if err := w.Save(raftpb.HardState{Term: 2, Commit: 6}, e2); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := append(append([]raftpb.Entry(nil), e1[5:7]...), e2...)
	w, md, st, ents := openRead(t, fs, "w", Snapshot{Index: 5, Term: 1}, opts)
	w.Close()
	if string(md) != "m" || st.Term != 2 || st.Commit != 6 || !entsEqual(ents, want) {
		t.Fatalf("got md %q st %+v ents %v", md, st, ents)
	}
	// Opening at a snapshot with no marker returns the data and an error.
	w, err = Open(fs, "w", Snapshot{Index: 3, Term: 1}, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = w.ReadAll()
	w.Close()
	if !errors.Is(err, ErrSnapshotNotFound) {
		t.Fatalf("ReadAll at unmarked snapshot = %v, want ErrSnapshotNotFound", err)
	}
	w, err = Open(fs, "w", Snapshot{Index: 5, Term: 9}, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = w.ReadAll()
	w.Close()
	if !errors.Is(err, ErrSnapshotMismatch) {
		t.Fatalf("ReadAll at wrong term = %v, want ErrSnapshotMismatch", err)
	}
	snaps, err := ValidSnapshotEntries(fs, "w")
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 2 || snaps[1].Index != 5 {
		t.Fatalf("ValidSnapshotEntries = %+v", snaps)
	}
}

func TestCreateExistAndOpenMissing(t *testing.T) {
	fs := vfs.NewMem()
	if Exist(fs, "w") {
		t.Fatal("Exist on empty fs")
	}
	if _, err := Open(fs, "w", Snapshot{}, Options{}); err == nil {
		t.Fatal("Open of missing dir succeeded")
	}
	w, err := Create(fs, "w", nil, Options{SegmentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if !Exist(fs, "w") {
		t.Fatal("Exist after Create = false")
	}
	if _, err := Create(fs, "w", nil, Options{SegmentSize: 4096}); !errors.Is(err, ErrExist) {
		t.Fatalf("second Create = %v, want ErrExist", err)
	}
	if err := fs.MkdirAll("empty", 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fs, "empty", Snapshot{}, Options{}); !errors.Is(err, ErrFileNotFound) {
		t.Fatalf("Open(empty) = %v, want ErrFileNotFound", err)
	}
	w, err = Open(fs, "w", Snapshot{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Save(raftpb.HardState{Term: 1}, nil); !errors.Is(err, ErrNotRead) {
		t.Fatalf("Save before ReadAll = %v", err)
	}
	if _, _, _, err := w.ReadAll(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := w.ReadAll(); !errors.Is(err, ErrAlreadyRead) {
		t.Fatalf("second ReadAll = %v", err)
	}
	w.Close()
	if err := w.Save(raftpb.HardState{Term: 1}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close = %v", err)
	}
}

func TestReleaseAndPurge(t *testing.T) {
	fs := vfs.NewMem()
	var purged []string
	opts := Options{SegmentSize: 1024, MaxSegments: 2, OnEvent: func(e Event) {
		if e.Kind == EventPurge {
			purged = append(purged, e.File)
		}
	}}
	w, err := Create(fs, "w", nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := newRNG(5)
	for i := uint64(1); i <= 60; i++ {
		if err := w.Save(raftpb.HardState{Term: 1, Commit: i}, makeEnts(rng, i, 1, 1, 100)); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := readSegments(fs, "w")
	if len(before) < 5 {
		t.Fatalf("only %d segments", len(before))
	}
	// No marker covers index 50 yet: refuse.
	if err := w.ReleaseLockTo(50); !errors.Is(err, ErrReleaseBeyond) {
		t.Fatalf("ReleaseLockTo without marker = %v", err)
	}
	if got, _ := readSegments(fs, "w"); len(got) != len(before) {
		t.Fatal("segments deleted without a marker")
	}
	if err := w.SaveSnapshot(Snapshot{Index: 50, Term: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.ReleaseLockTo(50); err != nil {
		t.Fatal(err)
	}
	after, _ := readSegments(fs, "w")
	if len(purged) == 0 || len(after) >= len(before) {
		t.Fatalf("purged %v, %d -> %d segments", purged, len(before), len(after))
	}
	// What is left still opens at the snapshot and holds entries after it.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, _, _, ents := openRead(t, fs, "w", Snapshot{Index: 50, Term: 1}, opts)
	w.Close()
	if len(ents) != 10 || ents[0].Index != 51 {
		t.Fatalf("after purge: %d entries from %v", len(ents), ents[0].Index)
	}
}

// TestOverwriteBelowSnapshot: entries above the snapshot index that a new
// leader overwrote (by rewriting from an index at or below the snapshot)
// must not come back on replay.
func TestOverwriteBelowSnapshot(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{SegmentSize: 1 << 20}
	w, err := Create(fs, "w", nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := newRNG(12)
	if err := w.Save(raftpb.HardState{Term: 1, Commit: 6}, makeEnts(rng, 1, 1, 10, 20)); err != nil {
		t.Fatal(err)
	}
	// Term 2 rewrites 7..8, dropping 9 and 10; then 8 commits and a
	// snapshot is taken there.
	if err := w.Save(raftpb.HardState{Term: 2, Commit: 8}, makeEnts(rng, 7, 2, 2, 20)); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveSnapshot(Snapshot{Index: 8, Term: 2}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, _, st, ents := openRead(t, fs, "w", Snapshot{Index: 8, Term: 2}, opts)
	w.Close()
	if len(ents) != 0 || st.Commit != 8 {
		t.Fatalf("replay at snapshot 8 returned %d entries (first %+v), want none", len(ents), ents)
	}
}

// TestCloseStopsPipeline: the background file pipeline ends with Close, in
// every state the WAL can be closed in.
func TestCloseStopsPipeline(t *testing.T) {
	before := runtime.NumGoroutine()
	fs := vfs.NewMem()
	for i := 0; i < 5; i++ {
		dir := fmt.Sprintf("w%d", i)
		w, err := Create(fs, dir, nil, Options{SegmentSize: 1024})
		if err != nil {
			t.Fatal(err)
		}
		for j := uint64(1); j <= 20; j++ {
			if err := w.Save(raftpb.HardState{Term: 1, Commit: j}, makeEnts(newRNG(j), j, 1, 1, 100)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		w, _, _, _ = openRead(t, fs, dir, Snapshot{}, Options{SegmentSize: 1024})
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// A goroutine that has closed its channel may take a moment to exit.
	for i := 0; i < 10000 && runtime.NumGoroutine() > before; i++ {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}
}

func TestOptionsString(t *testing.T) {
	var o Options
	o.EnsureDefaults()
	if got, want := o.String(), "segment-size=64000000 max-segments=5 slow-sync=1s"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

// TestSequenceGap: a missing segment inside the range Open must read is
// corruption; ValidSnapshotEntries reads the contiguous run ending at the
// newest segment (purges delete oldest first, and a crash may undo some).
func TestSequenceGap(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{SegmentSize: 1024, MaxSegments: -1}
	w, err := Create(fs, "w", nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := newRNG(13)
	for i := uint64(1); i <= 40; i++ {
		if err := w.Save(raftpb.HardState{Term: 1, Commit: i}, makeEnts(rng, i, 1, 1, 100)); err != nil {
			t.Fatal(err)
		}
		if i == 30 {
			if err := w.SaveSnapshot(Snapshot{Index: 30, Term: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.Close()
	segs, _ := readSegments(fs, "w")
	if len(segs) < 6 {
		t.Fatalf("%d segments", len(segs))
	}
	gap := segs[1]
	if err := fs.Remove("w/" + gap.name); err != nil {
		t.Fatal(err)
	}
	snaps, err := ValidSnapshotEntries(fs, "w")
	if err != nil || len(snaps) != 1 || snaps[0].Index != 30 {
		t.Fatalf("ValidSnapshotEntries with an old gap = %+v, %v", snaps, err)
	}
	if _, err := Open(fs, "w", Snapshot{}, opts); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), segs[2].name) {
		t.Fatalf("Open across the gap = %v, want corruption naming %s", err, segs[2].name)
	}
	w, _, _, ents := openRead(t, fs, "w", Snapshot{Index: 30, Term: 1}, opts)
	w.Close()
	if len(ents) != 10 {
		t.Fatalf("from snapshot 30: %d entries", len(ents))
	}
}
