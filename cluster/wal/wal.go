package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/internal/threadcpu"
	"etcdlab/internal/vfsutil"
)

// WAL is an append-only log of raft entries and hard states split into
// segments. A WAL is either freshly created (ready to append) or opened at
// a snapshot, in which case ReadAll must run before appending.
type WAL struct {
	mu   sync.Mutex
	fs   vfs.FS
	dir  string
	opts Options

	metadata []byte
	state    raftpb.HardState // last saved hard state
	start    Snapshot         // where reading starts (Open only)
	enti     uint64           // index of the last entry saved
	readDone bool

	segs []segment // segments held (not released), oldest first; last = tail
	tail vfs.File
	enc  *encoder
	fp   *filePipeline

	snapIndex uint64 // newest synced snapshot marker

	err    error // sticky: after a failed write or sync nothing is trusted
	closed bool
	lock   io.Closer // held from Create/Open until Close: one writer per WAL
	stats  stats
}

// Create makes a new WAL in dir, which must not already hold one. The first
// segment is written in dir+".tmp" and renamed into place, so a crash never
// leaves a half-created WAL that looks real.
func Create(fs vfs.FS, dir string, metadata []byte, opts Options) (w *WAL, err error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if Exist(fs, dir) {
		return nil, fmt.Errorf("%w: %s", ErrExist, dir)
	}
	if names, lerr := fs.List(dir); lerr == nil && len(names) > 0 {
		return nil, fmt.Errorf("%w: %s is not empty (%d entries)", ErrExist, dir, len(names))
	}
	// The final directory's entry in its parent is made durable below; if
	// the parent itself is new, make its entry durable too.
	if parent := fs.PathDir(dir); parent != dir {
		if _, serr := fs.Stat(parent); serr != nil {
			if err := fs.MkdirAll(parent, 0o700); err != nil {
				return nil, err
			}
			if err := vfsutil.SyncDir(fs, fs.PathDir(parent)); err != nil {
				return nil, err
			}
		}
	}
	lk, err := lockWAL(fs, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lk.Close()
		}
	}()
	// Checked again under the lock: another writer may have created it.
	if Exist(fs, dir) {
		return nil, fmt.Errorf("%w: %s", ErrExist, dir)
	}
	tmpdir := dir + ".tmp"
	if err := fs.RemoveAll(tmpdir); err != nil {
		return nil, err
	}
	if err := fs.MkdirAll(tmpdir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			fs.RemoveAll(tmpdir)
		}
	}()
	name := walName(0, 0)
	f, err := fs.Create(fs.PathJoin(tmpdir, name), writeCategory)
	if err != nil {
		return nil, err
	}
	w = &WAL{
		fs: fs, dir: dir, opts: opts, lock: lk,
		metadata: bytes.Clone(metadata),
		readDone: true,
		segs:     []segment{{seq: 0, index: 0, name: name}},
		tail:     f,
		enc:      &encoder{pw: newPageWriter(f, 0)},
	}
	w.stats.init()
	fail := func(err error) (*WAL, error) {
		f.Close()
		return nil, err
	}
	if err := preallocate(f, opts.SegmentSize); err != nil {
		return fail(err)
	}
	if err := w.enc.encodeCRC(); err != nil {
		return fail(err)
	}
	if err := w.enc.encodeBytes(metadataType, metadata); err != nil {
		return fail(err)
	}
	if err := w.enc.encodeSnapshot(Snapshot{}); err != nil {
		return fail(err)
	}
	if err := w.sync(); err != nil {
		return fail(err)
	}
	if err := vfsutil.SyncDir(fs, tmpdir); err != nil {
		return fail(err)
	}
	if _, serr := fs.Stat(dir); serr == nil {
		if err := fs.Remove(dir); err != nil {
			return fail(err)
		}
	}
	if err := fs.Rename(tmpdir, dir); err != nil {
		return fail(err)
	}
	if err := vfsutil.SyncDir(fs, fs.PathDir(dir)); err != nil {
		return fail(err)
	}
	w.fp = newFilePipeline(fs, dir, opts.SegmentSize)
	return w, nil
}

// Open opens the WAL in dir for reading from snap and then appending. Call
// ReadAll before Save.
func Open(fs vfs.FS, dir string, snap Snapshot, opts Options) (*WAL, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if !Exist(fs, dir) {
		return nil, fmt.Errorf("%w: no segments in %s", ErrFileNotFound, dir)
	}
	lk, err := lockWAL(fs, dir)
	if err != nil {
		return nil, err
	}
	w, err := open(fs, dir, snap, opts)
	if err != nil {
		lk.Close()
		return nil, err
	}
	w.lock = lk
	return w, nil
}

// lockWAL takes the lock of the WAL in dir (a file beside it, dir+".lock"),
// as etcd locks its WAL files: a second writer, in this process or another,
// would interleave records and corrupt the log. The lock goes with the
// process (a killed process releases it).
func lockWAL(fs vfs.FS, dir string) (io.Closer, error) {
	path := dir + ".lock"
	lk, err := fs.Lock(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is in use by another writer (another node on the same data dir? stop it first): locking %s: %v",
			ErrLocked, dir, path, err)
	}
	return lk, nil
}

// open is Open under the lock.
func open(fs vfs.FS, dir string, snap Snapshot, opts Options) (*WAL, error) {
	segs, err := readSegments(fs, dir)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("%w: no segments in %s", ErrFileNotFound, dir)
	}
	i := searchIndex(segs, snap.Index)
	if i < 0 {
		return nil, fmt.Errorf("%w: no segment starts at or before index %d", ErrFileNotFound, snap.Index)
	}
	segs = segs[i:]
	if err := checkSequence(segs); err != nil {
		return nil, err
	}
	if err := removeStaleTemps(fs, dir); err != nil {
		return nil, err
	}
	w := &WAL{fs: fs, dir: dir, opts: opts, start: snap, segs: segs}
	w.stats.init()
	return w, nil
}

// ReadAll reads every record from the snapshot on, returning the metadata,
// the last hard state and the entries after the snapshot index (later
// records at an index already seen replace the uncommitted tail). A torn
// tail in the last segment is repaired once (the damaged segment is kept
// as NAME.broken); any other damage is a *CorruptError. If no marker for
// the snapshot was found, the data is returned with ErrSnapshotNotFound.
// Afterwards the WAL accepts appends.
func (w *WAL) ReadAll() (metadata []byte, st raftpb.HardState, ents []raftpb.Entry, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, st, nil, ErrClosed
	}
	if w.readDone {
		return nil, st, nil, ErrAlreadyRead
	}
	for attempt := 0; ; attempt++ {
		metadata, st, ents, err = w.readAll()
		var torn *tornError
		if !errors.As(err, &torn) {
			return metadata, st, ents, err
		}
		if attempt > 0 {
			return nil, raftpb.HardState{}, nil, corruptf(torn.file, torn.off, ErrCorrupt, "still torn after repair")
		}
		if err := w.repair(torn); err != nil {
			return nil, raftpb.HardState{}, nil, fmt.Errorf("wal: repair %s: %w", torn.file, err)
		}
	}
}

func (w *WAL) repair(torn *tornError) error {
	path := w.fs.PathJoin(w.dir, torn.file)
	if err := copyFile(w.fs, path, path+".broken"); err != nil {
		return err
	}
	if err := truncateFile(w.fs, w.dir, torn.file, torn.off); err != nil {
		return err
	}
	w.emit(Event{Kind: EventRepair, File: torn.file, Offset: torn.off})
	return nil
}

func (w *WAL) openReaders(segs []segment) (readers []segReader, closeAll func(), err error) {
	var files []vfs.File
	closeAll = func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, s := range segs {
		f, err := w.fs.Open(w.fs.PathJoin(w.dir, s.name))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		files = append(files, f)
		fi, err := f.Stat()
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		readers = append(readers, newSegReader(s.name, f, fi.Size()))
	}
	return readers, closeAll, nil
}

func (w *WAL) readAll() (metadata []byte, st raftpb.HardState, ents []raftpb.Entry, err error) {
	readers, closeAll, err := w.openReaders(w.segs)
	if err != nil {
		return nil, st, nil, err
	}
	defer closeAll()
	dec := newDecoder(readers...)
	res, err := replay(dec, w.start, true)
	if err != nil {
		return nil, raftpb.HardState{}, nil, err
	}
	tailSeg := w.segs[len(w.segs)-1]
	f, err := w.fs.OpenReadWrite(w.fs.PathJoin(w.dir, tailSeg.name), writeCategory)
	if err != nil {
		return nil, raftpb.HardState{}, nil, err
	}
	if err := zeroToEnd(f, dec.lastOffset()); err != nil {
		f.Close()
		return nil, raftpb.HardState{}, nil, fmt.Errorf("wal: zero tail of %s: %w", tailSeg.name, err)
	}
	w.tail = f
	w.enc = &encoder{pw: newPageWriter(f, dec.lastOffset()), crc: dec.lastCRC()}
	w.metadata = res.metadata
	w.state = res.state
	w.enti = res.enti
	w.snapIndex = res.maxSnap
	w.readDone = true
	w.fp = newFilePipeline(w.fs, w.dir, w.opts.SegmentSize)
	if !res.match {
		err = fmt.Errorf("%w: index %d term %d", ErrSnapshotNotFound, w.start.Index, w.start.Term)
	}
	return res.metadata, res.state, res.ents, err
}

type replayResult struct {
	metadata []byte
	state    raftpb.HardState
	ents     []raftpb.Entry
	enti     uint64
	match    bool
	maxSnap  uint64
	snaps    []Snapshot
}

// replay decodes every record and rebuilds the log as etcd's ReadAll does.
// It returns the decoder's error unless that is io.EOF.
// Entries are only collected when collect is set.
func replay(dec *decoder, start Snapshot, collect bool) (res replayResult, err error) {
	var rec record
	for err = dec.decode(&rec); err == nil; err = dec.decode(&rec) {
		name, off := dec.segs[dec.i].name, dec.recOff
		switch rec.typ {
		case entryType:
			var e raftpb.Entry
			if uerr := e.Unmarshal(rec.payload); uerr != nil {
				return res, corruptf(name, off, ErrCorrupt, "entry: %v", uerr)
			}
			if collect && e.Index > start.Index {
				offset := e.Index - start.Index - 1
				if offset > uint64(len(res.ents)) {
					return res, corruptf(name, off, ErrCorrupt, "entry %d leaves a gap after index %d", e.Index, start.Index+uint64(len(res.ents)))
				}
				res.ents = append(res.ents[:offset], e)
			} else if collect {
				// An entry at or below the snapshot written after entries
				// above it means a new leader overwrote them: they are
				// gone. (etcd 3.6 keeps them here and can return overwritten
				// entries when the snapshot lands inside the overwritten
				// range; the crash test found this.)
				res.ents = res.ents[:0]
			}
			res.enti = e.Index
		case stateType:
			res.state = raftpb.HardState{}
			if uerr := res.state.Unmarshal(rec.payload); uerr != nil {
				return res, corruptf(name, off, ErrCorrupt, "hard state: %v", uerr)
			}
		case metadataType:
			if res.metadata != nil && !bytes.Equal(res.metadata, rec.payload) {
				return res, fmt.Errorf("%w: in %s at offset %d", ErrMetadataConflict, name, off)
			}
			res.metadata = bytes.Clone(rec.payload)
			if res.metadata == nil {
				res.metadata = []byte{}
			}
		case crcType:
			if c := dec.lastCRC(); c != 0 && c != rec.crc {
				return res, corruptf(name, off, ErrCRCMismatch, "crc record %#08x does not continue the chain at %#08x", rec.crc, c)
			}
			dec.crc = rec.crc
		case snapshotType:
			s, uerr := unmarshalSnapshot(rec.payload)
			if uerr != nil {
				return res, corruptf(name, off, ErrCorrupt, "%v", uerr)
			}
			if s.Index == start.Index {
				if s.Term != start.Term {
					return res, fmt.Errorf("%w: marker at index %d has term %d, want %d", ErrSnapshotMismatch, s.Index, s.Term, start.Term)
				}
				res.match = true
			}
			res.maxSnap = max(res.maxSnap, s.Index)
			res.snaps = append(res.snaps, s)
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return res, err
}

// Save appends entries and then the hard state, and fdatasyncs exactly when
// raft.MustSync says so (new entries, or a term or vote change). A segment
// that has reached SegmentSize is cut, which always syncs.
func (w *WAL) Save(st raftpb.HardState, ents []raftpb.Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writable(); err != nil {
		return err
	}
	if raft.IsEmptyHardState(st) && len(ents) == 0 {
		return nil
	}
	// Refuse oversized entries before writing anything, so a rejected Save
	// leaves no partial batch behind.
	for i := range ents {
		if n := recHeaderBytes + ents[i].Size(); n > maxRecordBytes {
			return fmt.Errorf("%w: entry %d encodes to %d bytes, limit %d", ErrRecordTooLarge, ents[i].Index, n, maxRecordBytes)
		}
	}
	mustSync := raft.MustSync(st, w.state, len(ents))
	for i := range ents {
		if err := w.enc.encodeEntry(&ents[i]); err != nil {
			return w.fail(err)
		}
		w.enti = ents[i].Index
		if err := w.enc.pw.maybeFlush(); err != nil {
			return w.fail(err)
		}
	}
	if !raft.IsEmptyHardState(st) {
		if err := w.enc.encodeState(&st); err != nil {
			return w.fail(err)
		}
		w.state = st
	}
	if w.enc.pw.offset() < w.opts.SegmentSize {
		if mustSync {
			return w.sync()
		}
		return nil
	}
	return w.cut()
}

// SaveSnapshot appends a snapshot marker and syncs. Write the .snap file
// first: the marker vouches for it.
func (w *WAL) SaveSnapshot(s Snapshot) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writable(); err != nil {
		return err
	}
	if err := w.enc.encodeSnapshot(s); err != nil {
		return w.fail(err)
	}
	if w.enti < s.Index {
		w.enti = s.Index
	}
	if err := w.sync(); err != nil {
		return err
	}
	w.snapIndex = max(w.snapIndex, s.Index)
	return nil
}

func (w *WAL) writable() error {
	switch {
	case w.closed:
		return ErrClosed
	case w.err != nil:
		return w.err
	case !w.readDone:
		return ErrNotRead
	}
	return nil
}

// fail makes err sticky: after a failed write or fsync the state of the
// file is unknown (a later fsync may succeed without the lost pages), so
// the WAL refuses all further appends.
func (w *WAL) fail(err error) error {
	if w.err == nil {
		w.err = fmt.Errorf("wal: failed, no further writes accepted: %w", err)
	}
	return w.err
}

// sync flushes the buffer and fdatasyncs the tail, recording the latency.
func (w *WAL) sync() error {
	if err := w.enc.pw.flush(); err != nil {
		return w.fail(err)
	}
	start := w.opts.Clock.Now()
	// The fdatasync's CPU time on this thread (kernel work that grows with
	// what else is written to the disk meanwhile, e.g. by the engine) is
	// kept apart from its wall time; two getrusage calls, about a
	// microsecond next to a sync of tens of microseconds or more.
	runtime.LockOSThread()
	cpu0 := threadcpu.Now()
	err := w.tail.SyncData()
	cpu := threadcpu.Now() - cpu0
	runtime.UnlockOSThread()
	d := w.opts.Clock.Since(start)
	w.stats.recordSync(d, w.enc.pw.written)
	w.stats.syncCPU += cpu
	if w.opts.OnSync != nil {
		w.opts.OnSync(d, w.enc.pw.written)
	}
	w.enc.pw.written = 0
	if d > w.opts.SlowSync {
		w.stats.slowSyncs++
		w.emit(Event{Kind: EventSlowSync, File: w.segs[len(w.segs)-1].name, Duration: d})
	}
	if err != nil {
		return w.fail(fmt.Errorf("fdatasync %s: %w", w.segs[len(w.segs)-1].name, err))
	}
	return nil
}

// cut closes the full tail and starts the next segment: truncate and sync
// the old tail, write crc + metadata + hard state into a preallocated temp
// file, sync it, rename it into place and fsync the directory.
func (w *WAL) cut() error {
	if err := w.enc.pw.flush(); err != nil {
		return w.fail(err)
	}
	if t, ok := asTruncater(w.tail); ok {
		if err := t.Truncate(w.enc.pw.offset()); err != nil {
			return w.fail(err)
		}
	}
	if err := w.sync(); err != nil {
		return err
	}
	pf, err := w.fp.Open()
	if err != nil {
		return w.fail(err)
	}
	last := w.segs[len(w.segs)-1]
	next := segment{seq: last.seq + 1, index: w.enti + 1, name: walName(last.seq+1, w.enti+1)}
	oldTail := w.tail
	w.tail = pf.f
	w.segs = append(w.segs, next)
	w.enc = &encoder{pw: newPageWriter(pf.f, 0), crc: w.enc.crc}
	if err := oldTail.Close(); err != nil {
		return w.fail(err)
	}
	if err := w.enc.encodeCRC(); err != nil {
		return w.fail(err)
	}
	if err := w.enc.encodeBytes(metadataType, w.metadata); err != nil {
		return w.fail(err)
	}
	if !raft.IsEmptyHardState(w.state) {
		if err := w.enc.encodeState(&w.state); err != nil {
			return w.fail(err)
		}
	}
	if err := w.sync(); err != nil {
		return err
	}
	path := w.fs.PathJoin(w.dir, next.name)
	if err := w.fs.Rename(pf.path, path); err != nil {
		return w.fail(err)
	}
	if err := w.syncDir(); err != nil {
		return w.fail(err)
	}
	// Reopen under the final name, as etcd does, so later writes name it.
	f, err := w.fs.OpenReadWrite(path, writeCategory)
	if err != nil {
		return w.fail(err)
	}
	pf.f.Close()
	w.tail = f
	w.enc.pw.f = f
	w.stats.cuts++
	w.emit(Event{Kind: EventCut, File: next.name})
	return nil
}

func (w *WAL) syncDir() error {
	w.stats.dirSyncs++
	return vfsutil.SyncDir(w.fs, w.dir)
}

// ReleaseLockTo lets segments that hold only entries before index go: they
// are no longer needed once a synced snapshot marker at or after index
// exists, and are then deleted beyond Options.MaxSegments. Releasing past
// the newest synced marker is refused.
func (w *WAL) ReleaseLockTo(index uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if index > w.snapIndex {
		return fmt.Errorf("%w: release to %d, newest synced marker at %d", ErrReleaseBeyond, index, w.snapIndex)
	}
	if len(w.segs) == 0 {
		return nil
	}
	// Keep the last segment starting before index: it may hold entries up
	// to index. Never release the tail.
	smaller := len(w.segs) - 1
	for i, s := range w.segs {
		if s.index >= index {
			smaller = i - 1
			break
		}
	}
	if smaller > 0 {
		w.segs = w.segs[smaller:]
	}
	return w.purge()
}

// purge deletes released segments, oldest first, while more than
// MaxSegments exist.
func (w *WAL) purge() error {
	if w.opts.MaxSegments < 0 {
		return nil
	}
	all, err := readSegments(w.fs, w.dir)
	if err != nil {
		return err
	}
	excess := len(all) - w.opts.MaxSegments
	removed := false
	for _, s := range all {
		if excess <= 0 || s.seq >= w.segs[0].seq {
			break
		}
		if err := w.fs.Remove(w.fs.PathJoin(w.dir, s.name)); err != nil {
			return fmt.Errorf("wal: purge %s: %w", s.name, err)
		}
		excess--
		removed = true
		w.emit(Event{Kind: EventPurge, File: s.name})
	}
	if removed {
		return w.syncDir()
	}
	return nil
}

// Close flushes and syncs the tail, stops the background pipeline and
// closes the files.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	var errs []error
	if w.tail != nil {
		if w.err == nil {
			if err := w.sync(); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, w.tail.Close())
		w.tail = nil
	}
	if w.fp != nil {
		errs = append(errs, w.fp.Close())
	}
	if w.lock != nil {
		errs = append(errs, w.lock.Close())
		w.lock = nil
	}
	w.closed = true
	return errors.Join(errs...)
}

func (w *WAL) emit(e Event) {
	if w.opts.OnEvent != nil {
		w.opts.OnEvent(e)
	}
}

// ValidSnapshotEntries returns the snapshot markers in the WAL whose index is
// at most the last hard state's commit: the snapshots the WAL vouches for.
// A torn tail is tolerated (nothing is modified); corruption is an error.
func ValidSnapshotEntries(fs vfs.FS, dir string) ([]Snapshot, error) {
	segs, err := readSegments(fs, dir)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("%w: no segments in %s", ErrFileNotFound, dir)
	}
	// Purging removes the oldest first; after a crash some removals may be
	// undone, so read the contiguous run that ends at the newest segment.
	first := len(segs) - 1
	for first > 0 && segs[first-1].seq+1 == segs[first].seq {
		first--
	}
	w := &WAL{fs: fs, dir: dir}
	readers, closeAll, err := w.openReaders(segs[first:])
	if err != nil {
		return nil, err
	}
	defer closeAll()
	res, err := replay(newDecoder(readers...), Snapshot{}, false)
	var torn *tornError
	if err != nil && !errors.As(err, &torn) {
		return nil, err
	}
	var out []Snapshot
	for _, s := range res.snaps {
		if s.Index <= res.state.Commit {
			out = append(out, s)
		}
	}
	return out, nil
}
