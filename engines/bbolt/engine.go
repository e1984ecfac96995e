package bbolt

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"etcdlab/engines/engine"
)

// Temporary files live next to the db and start with tmpPrefix, so that Open
// can remove the leftovers of a Reclaim or OpenImage that crashed.
const (
	tmpPrefix       = "db.tmp-"
	defragTmpPrefix = tmpPrefix + "defrag-"
	imageTmpPrefix  = tmpPrefix + "image-"
	// defragLimit is etcd's: the defrag copy commits every 10000 keys.
	defragLimit = 10000
)

// Engine is a bbolt-backed engine.Engine. See the package doc.
type Engine struct {
	dir, path string
	opts      Options

	// gate: views (for their whole life), commits and WriteImage hold the
	// read side; Reclaim and Close hold the write side. So Reclaim waits for
	// open views and blocks new views and commits while it swaps files, and
	// views never block commits (bbolt readers and its one writer coexist).
	gate sync.RWMutex
	// commitMu serializes commits: bbolt has one writer, db.NoSync is toggled
	// per commit, and the per-commit accounting below is done under it.
	commitMu sync.Mutex
	unsynced bool // guarded by commitMu: a commit since the last fsync skipped it
	// live is the open write transaction batches write into as they go.
	// Lock order: gate, commitMu, live.mu.
	live liveTx

	// dbMu guards db, file and broken for callers that do not hold the gate
	// (Stats, SizeInUse). Only Reclaim and Close, holding the gate's write
	// side, write-lock it.
	dbMu     sync.RWMutex
	db       *bolt.DB
	file     *os.File // db's file, captured through bolt.Options.OpenFile
	pageSize int      // db's page size (an existing file keeps its own)
	broken   error    // non-nil when Reclaim could not reopen the db

	viewsMu sync.Mutex
	views   map[*view]struct{}
	closed  atomic.Bool // set under viewsMu

	fileSize atomic.Int64 // last observed size of the db file
	// hwm is bbolt's tx.Size() after the last commit: the high-water page id
	// × page size, etcd's backend size. Set at commit and on (re)open, so
	// Size is a load.
	hwm atomic.Int64
	// metaOps counts the file-system metadata calls made through the engine
	// (opens, stats, directory listings and syncs); see Stats.FSMetadataOps.
	metaOps atomic.Int64

	commits, syncedCommits, fsyncs       atomic.Int64
	bytesWritten, logicalBytes, reclaims atomic.Int64
	growSyncs, reclaimBytes, initFsyncs  atomic.Int64
	txAcc                                bolt.TxStats // write-tx stats of our commits; updated with its atomic Inc methods
}

var _ engine.Engine = (*Engine)(nil)

// Open opens (creating if needed) the bbolt engine in dir; its data file is
// dir/db (DataFile). A damaged file is refused with ErrCorrupt, and a file
// locked by another open engine or process fails after opts.Timeout. Open
// does not look for other engines' data: engines.Open, the registry, refuses
// such a dir (ErrWrongEngine) before it calls Open.
func Open(dir string, opts Options) (*Engine, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bbolt: creating data dir %s: %w", dir, err)
	}
	if err := removeTemps(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, DataFile)
	fi, err := os.Stat(path)
	created := errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Mode().IsRegular() && fi.Size() == 0)
	if err != nil && !created {
		return nil, fmt.Errorf("bbolt: stat %s: %w", path, err)
	}
	if !created {
		if err := checkFile(path); err != nil {
			return nil, err
		}
	}
	e := &Engine{dir: dir, path: path, opts: opts, views: make(map[*view]struct{})}
	db, f, err := e.openDB()
	if err != nil {
		if created && errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("bbolt: cannot create %s in data dir %s (no write permission?): %w", DataFile, dir, err)
		}
		return nil, err
	}
	e.setDB(db, f)
	// Opening a file whose freelist is not on disk with no-freelist-sync=false
	// makes bbolt commit once to write it; its pages show in the db's stats.
	if st := db.Stats(); st.TxStats.GetPageAlloc() > 0 {
		e.bytesWritten.Add(st.TxStats.GetPageAlloc() + int64(e.pageSize))
		if !opts.NoSync {
			e.fsyncs.Add(2)
		}
	}
	if created {
		// bbolt wrote two meta pages, a freelist page and an empty leaf and
		// fdatasynced them (unconditionally); we make the new name durable.
		e.fsyncs.Add(1)
		e.initFsyncs.Add(1)
		e.bytesWritten.Add(4 * int64(e.pageSize))
		if !opts.NoSync {
			if err := syncDir(dir); err != nil {
				_ = db.Close()
				return nil, err
			}
			e.fsyncs.Add(1)
			e.initFsyncs.Add(1)
		}
	}
	return e, nil
}

// OpenImage writes an image made by (*Engine).WriteImage into dir as its db
// file and opens it. The image goes to a temporary file that is fsynced,
// checked, and renamed over dir/db (replacing any bbolt db there), then the
// directory is fsynced. An image that is not bbolt (ErrWrongEngine) or is
// damaged (ErrCorrupt) leaves dir as it was. No engine may have dir open.
// The writes and fsyncs that install the image are not in the engine's Stats,
// which start when the engine is open.
func OpenImage(r io.Reader, dir string, opts Options) (*Engine, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	hdr := make([]byte, pageHeaderSize+metaSize)
	n, err := io.ReadFull(r, hdr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("bbolt: reading image: %w", err)
	}
	if err := checkImageHeader(hdr[:n]); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bbolt: creating data dir %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, imageTmpPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("bbolt: creating image file in data dir %s: %w", dir, err)
	}
	tmpPath := tmp.Name()
	fail := func(err error) (*Engine, error) {
		_ = tmp.Close()
		_ = os.Remove(tmpPath)
		return nil, err
	}
	if _, err := tmp.Write(hdr[:n]); err != nil {
		return fail(fmt.Errorf("bbolt: writing image to %s: %w", tmpPath, err))
	}
	if _, err := io.Copy(tmp, r); err != nil {
		return fail(fmt.Errorf("bbolt: writing image to %s: %w", tmpPath, err))
	}
	if err := tmp.Sync(); err != nil {
		return fail(fmt.Errorf("bbolt: fsync %s: %w", tmpPath, err))
	}
	if err := tmp.Close(); err != nil {
		return fail(fmt.Errorf("bbolt: closing %s: %w", tmpPath, err))
	}
	if err := checkFile(tmpPath); err != nil {
		_ = os.Remove(tmpPath)
		return nil, fmt.Errorf("bbolt: image rejected: %w", err)
	}
	path := filepath.Join(dir, DataFile)
	if err := os.Rename(tmpPath, path); err != nil {
		_ = os.Remove(tmpPath)
		return nil, fmt.Errorf("bbolt: renaming image %s to %s: %w", tmpPath, path, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return Open(dir, opts)
}

// boltOptions are the options every open of the engine's db uses; file
// receives the db's *os.File.
func (e *Engine) boltOptions(file **os.File) *bolt.Options {
	ft := bolt.FreelistMapType
	if e.opts.FreelistType == "array" {
		ft = bolt.FreelistArrayType
	}
	return &bolt.Options{
		Timeout:         e.opts.Timeout,
		NoGrowSync:      e.opts.NoSync, // as etcd's --unsafe-no-fsync
		NoSync:          e.opts.NoSync,
		NoFreelistSync:  !e.opts.SyncFreelist,
		FreelistType:    ft,
		InitialMmapSize: int(e.opts.InitialMmapSize),
		PageSize:        e.opts.PageSize,
		Mlock:           e.opts.Mlock,
		MmapFlags:       mmapFlags,
		OpenFile:        captureFile(file, &e.metaOps),
	}
}

func captureFile(file **os.File, metaOps *atomic.Int64) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		metaOps.Add(1)
		f, err := os.OpenFile(name, flag, perm)
		if err == nil {
			*file = f
		}
		return f, err
	}
}

func (e *Engine) openDB() (*bolt.DB, *os.File, error) {
	var f *os.File
	db, err := openBolt(e.path, e.boltOptions(&f), &f)
	return db, f, err
}

// setDB installs a freshly opened db; the caller holds dbMu or is Open.
func (e *Engine) setDB(db *bolt.DB, f *os.File) {
	e.db, e.file, e.broken = db, f, nil
	e.pageSize = db.Info().PageSize
	e.metaOps.Add(1)
	if fi, err := f.Stat(); err == nil {
		e.fileSize.Store(fi.Size())
	}
	if tx, err := db.Begin(false); err == nil {
		e.hwm.Store(tx.Size())
		_ = tx.Rollback()
	}
}

// openBolt opens a bbolt file, turning its errors into the engine sentinels
// and any panic or memory fault on a damaged file into ErrCorrupt.
func openBolt(path string, bo *bolt.Options, file **os.File) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if *file != nil {
				_ = (*file).Close()
			}
			db, err = nil, fmt.Errorf("%w: bbolt file %s: bbolt failed opening it: %v", engine.ErrCorrupt, path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, bo)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("bbolt: %s is locked by another open engine or process (gave up after %s): %w", path, bo.Timeout, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%w: bbolt file %s: %w", engine.ErrCorrupt, path, err)
	default:
		return nil, fmt.Errorf("bbolt: opening %s: %w", path, err)
	}
}

// removeTemps deletes temporary files left by a Reclaim or OpenImage that
// did not finish; the db itself is only ever replaced by an atomic rename.
func removeTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("bbolt: reading data dir %s: %w", dir, err)
	}
	for _, ent := range entries {
		if strings.HasPrefix(ent.Name(), tmpPrefix) && ent.Type().IsRegular() {
			p := filepath.Join(dir, ent.Name())
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("bbolt: removing leftover %s: %w", p, err)
			}
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("bbolt: opening data dir %s for fsync: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bbolt: fsync data dir %s: %w", dir, err)
	}
	return nil
}

// Name implements engine.Engine.
func (e *Engine) Name() string { return Name }

// Dir is the engine's data directory.
func (e *Engine) Dir() string { return e.dir }

// Options returns the options the engine runs with (defaults applied).
func (e *Engine) Options() Options { return e.opts }

func (e *Engine) errClosed() error {
	return fmt.Errorf("%w: bbolt engine %s", engine.ErrClosed, e.dir)
}

// usable reports why the db cannot be used; the caller holds the gate.
func (e *Engine) usable() error {
	if e.closed.Load() {
		return e.errClosed()
	}
	if e.db == nil {
		return e.broken
	}
	return nil
}

// NewBatch implements engine.Engine.
func (e *Engine) NewBatch() engine.Batch { return &batch{e: e} }

// NewView implements engine.Engine: a bbolt read transaction held until the
// view is closed.
func (e *Engine) NewView() (engine.View, error) {
	e.gate.RLock()
	if err := e.usable(); err != nil {
		e.gate.RUnlock()
		return nil, err
	}
	tx, err := e.db.Begin(false)
	if err != nil {
		e.gate.RUnlock()
		return nil, fmt.Errorf("bbolt: beginning read tx on %s: %w", e.path, err)
	}
	v := &view{e: e, tx: tx}
	e.viewsMu.Lock()
	if e.closed.Load() {
		e.viewsMu.Unlock()
		_ = tx.Rollback()
		e.gate.RUnlock()
		return nil, e.errClosed()
	}
	e.views[v] = struct{}{}
	e.viewsMu.Unlock()
	return v, nil
}

// Size implements engine.Engine: etcd's backend size, bbolt's tx.Size() (the
// high-water page id × page size) as of the last commit. Free pages are in
// it; the space bbolt preallocates past the high-water mark when it grows
// the file (up to 16 MiB at a time) is not: that is DiskSize. A fresh store
// is a few pages, so a small quota admits writes until the data nears it.
func (e *Engine) Size() int64 { return e.hwm.Load() }

// DiskSize implements engine.Engine: the size of the db file, grow slack
// included, as last observed (at open, and whenever a commit could have
// grown it).
func (e *Engine) DiskSize() int64 { return e.fileSize.Load() }

// SizeInUse implements engine.Engine. Like etcd it is the high-water mark
// (tx.Size()) minus free pages; we subtract pending pages too (pages freed by
// committed transactions, reusable once no open view predates their release),
// which is what etcd observes after its next write tx begins and releases
// them. The file's preallocated tail past the high-water mark is not in use.
// After Close it is 0.
func (e *Engine) SizeInUse() int64 {
	e.dbMu.RLock()
	defer e.dbMu.RUnlock()
	if e.db == nil {
		return 0
	}
	hwm := e.hwm.Load()
	st := e.db.Stats()
	inUse := hwm - int64(st.FreePageN+st.PendingPageN)*int64(e.pageSize)
	return min(max(inUse, 0), hwm)
}

// WriteImage implements engine.Engine with bbolt's tx.WriteTo, which is what
// etcd's snapshot streams: a complete db file as of the last commit.
func (e *Engine) WriteImage(w io.Writer) (int64, error) {
	e.gate.RLock()
	defer e.gate.RUnlock()
	if err := e.usable(); err != nil {
		return 0, err
	}
	tx, err := e.db.Begin(false)
	if err != nil {
		return 0, fmt.Errorf("bbolt: beginning read tx on %s: %w", e.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	n, err := tx.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("bbolt: writing image of %s: %w", e.path, err)
	}
	return n, nil
}

// Close implements engine.Engine. Views still open are closed first (values
// they returned become invalid); Close waits for running commits, Reclaim and
// WriteImage. It is idempotent.
func (e *Engine) Close() error {
	e.viewsMu.Lock()
	if e.closed.Load() {
		e.viewsMu.Unlock()
		return nil
	}
	e.closed.Store(true)
	open := make([]*view, 0, len(e.views))
	for v := range e.views {
		open = append(open, v)
	}
	e.viewsMu.Unlock()
	for _, v := range open {
		_ = v.Close()
	}
	e.blockLive() // for good: the engine is closed
	e.gate.Lock()
	defer e.gate.Unlock()
	e.dbMu.Lock()
	defer e.dbMu.Unlock()
	if e.db == nil {
		return nil
	}
	err := e.db.Close()
	e.db, e.file = nil, nil
	if err != nil {
		return fmt.Errorf("bbolt: closing %s: %w", e.path, err)
	}
	return nil
}

// Stats implements engine.Engine.
//
// Fsyncs counts what bbolt really does: a synced commit fdatasyncs twice
// (data pages, then the meta page); a commit that grows the file also
// truncates it and fsyncs (unless no-sync); creating a file fdatasyncs once
// (bbolt's init) and we fsync the directory; Reclaim adds the syncs of its
// copy and a directory fsync.
//
// BytesWritten is derived from bbolt's TxStats: bbolt is copy-on-write, so
// every page a commit writes is a freshly allocated dirty page and PageAlloc
// (pages allocated x page size, overflow pages included) is exactly the data
// written, plus one page per commit for the meta page written after them.
// SyncedCommits counts Commit(true) calls, as on every engine; with no-sync
// they do not fsync, which Fsyncs shows.
// Creating a file adds its four initial pages; Reclaim adds the same
// accounting for its copy. Truncate-extensions write no data and are not
// counted.
func (e *Engine) Stats() engine.Stats {
	s := engine.Stats{
		Engine:        Name,
		Commits:       e.commits.Load(),
		SyncedCommits: e.syncedCommits.Load(),
		Fsyncs:        e.fsyncs.Load(),
		BytesWritten:  e.bytesWritten.Load(),
		LogicalBytes:  e.logicalBytes.Load(),
		Reclaims:      e.reclaims.Load(),
		FSMetadataOps: e.metaOps.Load(),
	}
	a := &e.txAcc
	s.Native = map[string]float64{
		"bbolt.tx.page_alloc_bytes":   float64(a.GetPageAlloc()),
		"bbolt.tx.page_count":         float64(a.GetPageCount()),
		"bbolt.tx.write":              float64(a.GetWrite()),
		"bbolt.tx.write_ns":           float64(a.GetWriteTime().Nanoseconds()),
		"bbolt.tx.spill":              float64(a.GetSpill()),
		"bbolt.tx.spill_ns":           float64(a.GetSpillTime().Nanoseconds()),
		"bbolt.tx.split":              float64(a.GetSplit()),
		"bbolt.tx.rebalance":          float64(a.GetRebalance()),
		"bbolt.tx.node_count":         float64(a.GetNodeCount()),
		"bbolt.grow_syncs":            float64(e.growSyncs.Load()),
		"bbolt.reclaim_bytes_written": float64(e.reclaimBytes.Load()),
		"bbolt.file_size":             float64(e.DiskSize()),
		"bbolt.hwm_bytes":             float64(e.Size()),
	}
	s.Native["bbolt.live_tx_commits"] = float64(e.live.commits.Load())
	s.Native["bbolt.live_tx_taken"] = float64(e.live.taken.Load())
	e.dbMu.RLock()
	if e.db != nil {
		st := e.db.Stats()
		s.Native["bbolt.free_pages"] = float64(st.FreePageN)
		s.Native["bbolt.pending_pages"] = float64(st.PendingPageN)
		s.Native["bbolt.free_alloc_bytes"] = float64(st.FreeAlloc)
		s.Native["bbolt.freelist_inuse_bytes"] = float64(st.FreelistInuse)
		s.Native["bbolt.open_read_tx"] = float64(st.OpenTxN)
		s.Native["bbolt.page_size"] = float64(e.pageSize)
		// etcd's "db size" (etcd_mvcc_db_total_size_in_bytes, and what its
		// quota checks) is this high-water mark, not the file size.
		_ = e.db.View(func(tx *bolt.Tx) error { s.Native["bbolt.hwm_bytes"] = float64(tx.Size()); return nil })
	}
	e.dbMu.RUnlock()
	return s
}

func (e *Engine) addTxStats(t *bolt.TxStats) {
	a := &e.txAcc
	a.IncPageCount(t.GetPageCount())
	a.IncPageAlloc(t.GetPageAlloc())
	a.IncCursorCount(t.GetCursorCount())
	a.IncNodeCount(t.GetNodeCount())
	a.IncNodeDeref(t.GetNodeDeref())
	a.IncRebalance(t.GetRebalance())
	a.IncRebalanceTime(t.GetRebalanceTime())
	a.IncSplit(t.GetSplit())
	a.IncSpill(t.GetSpill())
	a.IncSpillTime(t.GetSpillTime())
	a.IncWrite(t.GetWrite())
	a.IncWriteTime(t.GetWriteTime())
}

// observeGrowth refreshes the cached file size from the db file and reports
// whether the file grew (bbolt grows it by truncate + fsync inside a commit).
func (e *Engine) observeGrowth() bool {
	e.metaOps.Add(1)
	fi, err := e.file.Stat()
	if err != nil {
		return false
	}
	return e.fileSize.Swap(fi.Size()) < fi.Size()
}
