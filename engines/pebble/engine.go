package pebble

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"etcdlab/engines/engine"
	"etcdlab/internal/vfsutil"
)

// Name is the engine's registered name.
const Name = "pebble"

// MaxKeySize is the longest key a bucket accepts, the same limit as bbolt's
// MaxKeySize so that every engine accepts the same keys. It also gives the last
// bucket (ID 0xFF) a finite end key for range deletions (see bucketEnd).
const MaxKeySize = 32 << 10

// maxBatchBytes keeps a batch well below pebble's 4 GiB batch limit, past
// which pebble panics instead of returning an error.
const maxBatchBytes = 3 << 30

// Package errors, wrapped with context. Commit returns them for a batch that
// held a bad operation; nothing of such a batch is applied.
var (
	ErrKeyTooLarge   = errors.New("pebble: key too large")
	ErrBatchTooLarge = errors.New("pebble: batch too large")
	// ErrFailed: pebble hit an error it cannot continue from on the commit
	// path (a WAL write or sync failed; pebble itself would exit). The commit
	// may or may not be durable, and the engine refuses every later commit;
	// close it and reopen to recover what was durable.
	ErrFailed = errors.New("pebble: engine failed")
)

// Engine is an open pebble store. See the package documentation.
type Engine struct {
	dir      string
	opts     Options
	db       *pdb.DB
	counters *fsCounters
	cfs      *countingFS
	meta     *vfsutil.MetaCountingFS // under cfs: counts the engine's metadata calls
	sampleFS *vfsutil.MetaCountingFS // DiskSize's and Stats' directory sampling

	commits, syncedCommits, logicalBytes, reclaims atomic.Int64
	writeStalls, backgroundErrors, corruptions     atomic.Int64
	imageSeq                                       atomic.Int64
	// unsynced: a commit since the last Sync may not be durable (it skipped
	// the WAL fdatasync, or, with wal=disabled, sits in a memtable).
	unsynced atomic.Bool

	// mu guards the lifecycle below. Views and commits are "gated": they wait
	// while a Reclaim runs and Reclaim waits until none is active, so that the
	// manual compaction sees no snapshot pinning old data and obsolete files
	// can really be deleted. Stats, Size and WriteImage are "readers": they are
	// not blocked by Reclaim but Close waits for them.
	mu         sync.Mutex
	cond       *sync.Cond
	closed     bool
	reclaiming bool
	active     int // open views + commits in progress
	readers    int
	views      map[*view]struct{}
	failed     error              // set once a commit hit a fatal pebble error
	lastNative map[string]float64 // metrics captured at Close
}

var (
	_ engine.Engine  = (*Engine)(nil)
	_ engine.Settler = (*Engine)(nil)
)

// Open opens (creating if needed) the pebble store whose files are directly in
// dir. A damaged store is refused with engine.ErrCorrupt. Open does not look
// for other engines' data: engines.Open, the registry, refuses such a dir
// (engine.ErrWrongEngine) before it calls Open.
func Open(dir string, opts Options) (*Engine, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := opts.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pebble: creating data dir %s: %w", dir, err)
	}
	removeStaleTemps(opts.FS, dir)
	return open(dir, opts)
}

func open(dir string, opts Options) (*Engine, error) {
	e := &Engine{
		dir:      dir,
		opts:     opts,
		counters: &fsCounters{},
		views:    map[*view]struct{}{},
	}
	e.cond = sync.NewCond(&e.mu)
	// Every use of the engine's file system from here on, pebble's and ours,
	// is counted as metadata work, except the sampling in DiskSize and Stats,
	// which callers make on their own behalf (sampleFS).
	e.sampleFS = vfsutil.NewMetaCountingFS(opts.FS)
	e.meta = vfsutil.NewMetaCountingFS(opts.FS)
	e.opts.FS = e.meta
	e.cfs = &countingFS{FS: e.meta, c: e.counters}
	logger := quietLogger{log: log.New(os.Stderr, "pebble "+dir+": ", log.LstdFlags)}
	maxComp := opts.MaxConcurrentCompactions
	po := &pdb.Options{
		FS:                         e.cfs,
		CacheSize:                  opts.CacheSize,
		MemTableSize:               uint64(opts.MemTableSize),
		L0CompactionThreshold:      opts.L0CompactionThreshold,
		L0StopWritesThreshold:      opts.L0StopWritesThreshold,
		BytesPerSync:               int(opts.BytesPerSync),
		LBaseMaxBytes:              opts.LBaseMaxBytes,
		DisableWAL:                 opts.WAL == WALDisabled,
		CompactionConcurrencyRange: func() (int, int) { return 1, maxComp },
		// A new store uses the newest stable on-disk format (columnar blocks
		// etc.), as a current pebble user would; pebble's own default is the
		// oldest supported format, kept only for compatibility.
		FormatMajorVersion: pdb.FormatNewest,
		Logger:             logger,
		EventListener: &pdb.EventListener{
			BackgroundError: func(err error) {
				e.backgroundErrors.Add(1)
				logger.Errorf("background error: %v", err)
			},
			WriteStallBegin: func(pdb.WriteStallBeginInfo) { e.writeStalls.Add(1) },
			// pebble's default is Logger.Fatalf, which took the process down
			// with a goroutine dump (from a background compaction, even at
			// start). The read or compaction that met the damage fails with
			// a corruption error naming the file instead; say it once here.
			DataCorruption: func(info pdb.DataCorruptionInfo) {
				if e.corruptions.Add(1) == 1 {
					logger.Errorf("on-disk corruption in %s: %v; reads of that data fail: restore this member from a snapshot, or remove it and add it back with an empty data dir",
						info.Path, info.Details)
				}
			},
		},
	}
	db, err := pdb.Open(dir, po)
	if err != nil {
		return nil, classifyOpenErr(dir, err)
	}
	e.db = db
	return e, nil
}

// readErr marks a read error caused by damaged data with engine.ErrCorrupt.
func readErr(op string, err error) error {
	if pdb.IsCorruptionError(err) {
		// The first line names the file and the damage; the rest is
		// pebble's detail carrier.
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return fmt.Errorf("%w: pebble: %s: %s", engine.ErrCorrupt, op, msg)
	}
	return fmt.Errorf("pebble: %s: %w", op, err)
}

// classifyOpenErr maps pebble's open errors to the shared sentinels: damage to
// the MANIFEST, its marker or an sstable is ErrCorrupt; anything else (no
// permission, lock held) keeps its own error, named with the dir.
func classifyOpenErr(dir string, err error) error {
	msg := err.Error()
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) || strings.Contains(msg, "lock held by current process") {
		// pebble's LOCK file: its own message is the bare errno.
		return fmt.Errorf("pebble: %s is locked by another open engine or process (another node on the same data dir? stop it first): %w", dir, err)
	}
	if pdb.IsCorruptionError(err) || strings.Contains(msg, "corrupt") ||
		strings.Contains(msg, "MANIFEST") || strings.Contains(msg, "marker") ||
		strings.Contains(msg, "format major version") || strings.Contains(msg, "not pristine") {
		if !errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("%w: pebble store in %s: %v", engine.ErrCorrupt, dir, err)
		}
	}
	return fmt.Errorf("pebble: opening %s: %w", dir, err)
}

// Name returns "pebble".
func (e *Engine) Name() string { return Name }

func (e *Engine) errClosed() error {
	return fmt.Errorf("%w: pebble engine %s", engine.ErrClosed, e.dir)
}

// enter registers an operation; gated ones wait for a running Reclaim.
func (e *Engine) enter(gated bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for gated && e.reclaiming && !e.closed {
		e.cond.Wait()
	}
	if e.closed {
		return e.errClosed()
	}
	if gated {
		e.active++
	} else {
		e.readers++
	}
	return nil
}

func (e *Engine) leave(gated bool) {
	e.mu.Lock()
	if gated {
		e.active--
	} else {
		e.readers--
	}
	e.cond.Broadcast()
	e.mu.Unlock()
}

// Size implements engine.Engine: the bytes of the files pebble holds, from
// its in-memory metrics (DiskSpaceUsage: live, obsolete and zombie sstables
// and blob files, the WAL with the files kept for recycling, MANIFEST and
// OPTIONS), the LSM counterpart of bbolt's high-water mark: space freed by
// deletions stays in it until compaction drops it, as free pages stay in
// bbolt's until defrag. No file-system call. 0 after Close.
func (e *Engine) Size() int64 {
	if err := e.enter(false); err != nil {
		return 0
	}
	defer e.leave(false)
	m := e.db.Metrics()
	return int64(m.DiskSpaceUsage())
}

// DiskSize implements engine.Engine: the total size of the files in the data
// directory (SSTs, WAL, MANIFEST, OPTIONS, markers), as du's apparent size.
// Preallocated but unwritten WAL space is not counted; Native
// "pebble.fs.allocated_bytes" is the space allocated on the device. It lists
// and stats the directory: for results and reports only.
func (e *Engine) DiskSize() int64 {
	names, err := e.sampleFS.List(e.dir)
	if err != nil {
		return 0
	}
	var total int64
	for _, n := range names {
		fi, err := e.sampleFS.Stat(e.sampleFS.PathJoin(e.dir, n))
		if err != nil || fi.IsDir() {
			continue
		}
		total += fi.Size()
	}
	return total
}

// SizeInUse is the live sstables and blob files plus the live bytes of the WAL
// files. Memtables are not added: they live in memory and their content is in
// the WAL (or, with wal=disabled, not on disk at all). Obsolete files awaiting
// deletion and recycled WAL space make up the rest of Size. 0 after Close.
func (e *Engine) SizeInUse() int64 {
	if err := e.enter(false); err != nil {
		return 0
	}
	defer e.leave(false)
	m := e.db.Metrics()
	return int64(m.Table.Local.LiveSize + m.BlobFiles.Local.LiveSize + m.WAL.Size)
}

// allocated is the space the files in dir occupy on the device (st_blocks),
// which unlike Size includes the WAL space pebble preallocates; -1 when the
// FS does not expose it (in-memory FS).
func (e *Engine) allocated() int64 {
	names, err := e.sampleFS.List(e.dir)
	if err != nil {
		return -1
	}
	var total int64
	for _, n := range names {
		fi, err := e.sampleFS.Stat(e.sampleFS.PathJoin(e.dir, n))
		if err != nil || fi.IsDir() {
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return -1
		}
		total += st.Blocks * 512
	}
	return total
}

// Stats returns the counters since Open and pebble's metrics under "pebble.*".
func (e *Engine) Stats() engine.Stats {
	s := engine.Stats{
		Engine:        Name,
		Commits:       e.commits.Load(),
		SyncedCommits: e.syncedCommits.Load(),
		Fsyncs:        e.counters.fsyncs.Load(),
		BytesWritten:  e.counters.bytes.Load(),
		LogicalBytes:  e.logicalBytes.Load(),
		Reclaims:      e.reclaims.Load(),
		FSMetadataOps: e.meta.MetadataOps(),
	}
	if err := e.enter(false); err != nil {
		e.mu.Lock()
		s.Native = copyNative(e.lastNative)
		e.mu.Unlock()
		return s
	}
	defer e.leave(false)
	s.Native = e.native()
	return s
}

func copyNative(m map[string]float64) map[string]float64 {
	if m == nil {
		return nil
	}
	c := make(map[string]float64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// native flattens db.Metrics(). Gauges (files, sizes, read amp) are current
// values; counters (compactions, flushes, cache hits) are cumulative since Open.
func (e *Engine) native() map[string]float64 {
	m := e.db.Metrics()
	total := m.Total()
	n := map[string]float64{
		"pebble.w_amp":                    total.WriteAmp(),
		"pebble.read_amp":                 float64(m.ReadAmp()),
		"pebble.compactions":              float64(m.Compact.Count),
		"pebble.compactions.default":      float64(m.Compact.DefaultCount),
		"pebble.compactions.delete_only":  float64(m.Compact.DeleteOnlyCount),
		"pebble.compactions.move":         float64(m.Compact.MoveCount),
		"pebble.compactions.in_progress":  float64(m.Compact.NumInProgress),
		"pebble.compaction_debt_bytes":    float64(m.Compact.EstimatedDebt),
		"pebble.flushes":                  float64(m.Flush.Count),
		"pebble.memtable.size":            float64(m.MemTable.Size),
		"pebble.memtable.count":           float64(m.MemTable.Count),
		"pebble.block_cache.size":         float64(m.BlockCache.Size),
		"pebble.block_cache.hits":         float64(m.BlockCache.Hits),
		"pebble.block_cache.misses":       float64(m.BlockCache.Misses),
		"pebble.wal.files":                float64(m.WAL.Files),
		"pebble.wal.obsolete_files":       float64(m.WAL.ObsoleteFiles),
		engine.RetainedBytesMetric:        float64(m.WAL.ObsoletePhysicalSize),
		"pebble.wal.size":                 float64(m.WAL.Size),
		"pebble.wal.bytes_in":             float64(m.WAL.BytesIn),
		"pebble.wal.bytes_written":        float64(m.WAL.BytesWritten),
		"pebble.table.live_bytes":         float64(m.Table.Local.LiveSize),
		"pebble.table.obsolete_bytes":     float64(m.Table.Local.ObsoleteSize),
		"pebble.table.zombie_bytes":       float64(m.Table.Local.ZombieSize),
		"pebble.tombstones":               float64(m.Keys.TombstoneCount),
		"pebble.snapshots":                float64(m.Snapshots.Count),
		"pebble.disk_space_usage":         float64(m.DiskSpaceUsage()),
		"pebble.write_stalls":             float64(e.writeStalls.Load()),
		"pebble.background_errors":        float64(e.backgroundErrors.Load()),
		"pebble.corruptions":              float64(e.corruptions.Load()),
		"pebble.fs.sync_ranges":           float64(e.counters.syncRanges.Load()),
		"pebble.fs.allocated_bytes":       float64(e.allocated()),
		"pebble.fs.sampling_metadata_ops": float64(e.sampleFS.MetadataOps()),
	}
	for i := range m.Levels {
		l := &m.Levels[i]
		p := fmt.Sprintf("pebble.l%d.", i)
		n[p+"files"] = float64(l.TablesCount)
		n[p+"bytes"] = float64(l.TablesSize)
		n[p+"score"] = l.Score
		n[p+"bytes_compacted"] = float64(l.TableBytesCompacted)
		n[p+"bytes_flushed"] = float64(l.TableBytesFlushed)
	}
	n["pebble.l0.sublevels"] = float64(m.Levels[0].Sublevels)
	return n
}

// Close closes open views (their later use returns ErrClosed), waits for
// commits, Reclaim, Stats and WriteImage in progress, and closes pebble. With
// wal=disabled it flushes the memtables first, so a clean Close loses nothing.
// A second Close returns ErrClosed.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return e.errClosed()
	}
	e.closed = true
	e.cond.Broadcast()
	views := make([]*view, 0, len(e.views))
	for v := range e.views {
		views = append(views, v)
	}
	e.mu.Unlock()
	var errs []error
	for _, v := range views {
		if err := v.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	e.mu.Lock()
	for e.active > 0 || e.readers > 0 || e.reclaiming {
		e.cond.Wait()
	}
	e.mu.Unlock()
	if e.opts.WAL == WALDisabled {
		if err := e.db.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("pebble: flushing %s before close: %w", e.dir, err))
		}
	}
	nat := e.native()
	e.mu.Lock()
	e.lastNative = nat
	e.mu.Unlock()
	if err := e.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("pebble: closing %s: %w", e.dir, err))
	}
	return errors.Join(errs...)
}

// Sync implements engine.Engine. With wal=disabled it flushes the memtables
// to sstables (pebble's Flush returns once they are in the MANIFEST, both
// synced); otherwise it fdatasyncs the WAL (an empty LogData with
// pebble.Sync), which makes every earlier NoSync commit durable. It does
// nothing when every commit since the last Sync was already durable (all
// synced under wal=synced). A fatal pebble error is ErrFailed, as in Commit.
func (e *Engine) Sync() (err error) {
	if err := e.enter(false); err != nil {
		return err
	}
	defer e.leave(false)
	e.mu.Lock()
	failed := e.failed
	e.mu.Unlock()
	if failed != nil {
		return failed
	}
	if !e.unsynced.Swap(false) {
		return nil
	}
	defer func() {
		if err != nil {
			e.unsynced.Store(true) // still owed
		}
	}()
	defer e.recoverFatal("sync", &err, nil)
	if e.opts.WAL == WALDisabled {
		if err := e.db.Flush(); err != nil {
			return fmt.Errorf("pebble: flush %s: %w", e.dir, err)
		}
		return nil
	}
	if err := e.db.LogData(nil, pdb.Sync); err != nil {
		return fmt.Errorf("pebble: wal sync %s: %w", e.dir, err)
	}
	return nil
}

// settlePoll is how often Settle reads pebble's metrics while it waits:
// often enough to add little to a run's wall time, rarely enough that the
// metrics reads cost nothing next to the compactions they watch.
const settlePoll = 20 * time.Millisecond

// Settle implements engine.Settler: it flushes the memtable and waits until
// no flush or compaction is in progress and none started or finished over
// two polls in a row (pebble schedules the next compaction as soon as one
// ends, so a quiet interval means its picker found nothing to do).
func (e *Engine) Settle(ctx context.Context) (err error) {
	if err := e.enter(false); err != nil {
		return err
	}
	defer e.leave(false)
	defer e.recoverFatal("settle", &err, nil)
	if err := e.db.Flush(); err != nil {
		return fmt.Errorf("pebble: flush %s before settling: %w", e.dir, err)
	}
	var last [2]int64
	quiet := 0
	for {
		m := e.db.Metrics()
		counts := [2]int64{m.Flush.Count, m.Compact.Count}
		if m.Flush.NumInProgress == 0 && m.Compact.NumInProgress == 0 && counts == last {
			if quiet++; quiet == 2 {
				return nil
			}
		} else {
			quiet = 0
		}
		last = counts
		t := time.NewTimer(settlePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("pebble: settling %s: %w", e.dir, ctx.Err())
		case <-t.C:
		}
	}
}

// recoverFatal, deferred by Commit and Sync, turns a fatalError panic (pebble
// calling Logger.Fatalf on the caller's goroutine, e.g. a failed WAL write)
// into a sticky ErrFailed for op in *errp, then runs after (if set); any
// other panic goes on.
func (e *Engine) recoverFatal(op string, errp *error, after func()) {
	r := recover()
	if r == nil {
		return
	}
	f, ok := r.(fatalError)
	if !ok {
		panic(r)
	}
	*errp = fmt.Errorf("%w: %s in %s: %v", ErrFailed, op, e.dir, f)
	e.mu.Lock()
	if e.failed == nil {
		e.failed = *errp
	}
	e.mu.Unlock()
	if after != nil {
		after()
	}
}

// fatalError is what quietLogger.Fatalf panics with, so that Commit can tell
// pebble's fatal errors from other panics.
type fatalError struct{ msg string }

func (f fatalError) Error() string { return f.msg }

// quietLogger drops pebble's informational chatter (flushes, compactions) so
// tests and benchmarks are readable, keeps errors, and turns Fatalf (pebble's
// "cannot continue", e.g. a failed WAL write) into a panic of fatalError
// instead of os.Exit: Commit recovers it into ErrFailed, and elsewhere the
// stack shows where it happened.
type quietLogger struct{ log *log.Logger }

func (quietLogger) Infof(string, ...any)                {}
func (l quietLogger) Errorf(format string, args ...any) { l.log.Printf(format, args...) }
func (l quietLogger) Fatalf(format string, args ...any) {
	panic(fatalError{msg: fmt.Sprintf(format, args...)})
}
