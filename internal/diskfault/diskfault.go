package diskfault

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"etcdlab/engines/engine"
	"etcdlab/internal/clock"
)

// ErrNoSpace is returned by writes and syncs while a disk is full. It wraps
// syscall.ENOSPC, as the real error would.
var ErrNoSpace = fmt.Errorf("diskfault: injected: %w", syscall.ENOSPC)

// Fault is what a disk does wrong. The zero value is a healthy disk.
type Fault struct {
	// SyncLatency is added to every fsync: Sync, SyncData and SyncTo of a
	// file (the WAL's fdatasync, directory syncs), and an engine's synced
	// commit and Sync.
	SyncLatency time.Duration
	// WriteLatency is added to every write call of a file and to every
	// engine commit.
	WriteLatency time.Duration
	// NoSpace makes writes and syncs fail with ErrNoSpace (ENOSPC).
	NoSpace bool
}

// Disk is the fault currently set on one disk. Safe for concurrent use.
type Disk struct {
	clk clock.Clock
	f   atomic.Pointer[Fault]
}

// New returns a healthy disk whose latencies are waited on clk (default
// clock.Real()).
func New(clk clock.Clock) *Disk {
	if clk == nil {
		clk = clock.Real()
	}
	return &Disk{clk: clk}
}

// Set sets the fault; the zero Fault heals the disk.
func (d *Disk) Set(f Fault) {
	if f == (Fault{}) {
		d.f.Store(nil)
		return
	}
	d.f.Store(&f)
}

// Current returns the fault set now.
func (d *Disk) Current() Fault {
	if f := d.f.Load(); f != nil {
		return *f
	}
	return Fault{}
}

// before runs the fault for one I/O call: it waits the call's latency and
// returns ErrNoSpace on a full disk. sync says the call is an fsync.
func (d *Disk) before(sync, write bool) error {
	f := d.f.Load()
	if f == nil {
		return nil
	}
	var lat time.Duration
	if sync {
		lat += f.SyncLatency
	}
	if write {
		lat += f.WriteLatency
	}
	if lat > 0 {
		t := d.clk.NewTimer(lat)
		<-t.C()
	}
	if f.NoSpace {
		return ErrNoSpace
	}
	return nil
}

// FS wraps fs so that the files it opens suffer the disk's fault.
func (d *Disk) FS(fs vfs.FS) vfs.FS { return &faultFS{FS: fs, d: d} }

type faultFS struct {
	vfs.FS
	d *Disk
}

func (fs *faultFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, d: fs.d}, nil
}

func (fs *faultFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.wrap(fs.FS.Create(name, c))
}

func (fs *faultFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.wrap(fs.FS.Open(name, opts...))
}

func (fs *faultFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.wrap(fs.FS.OpenReadWrite(name, c, opts...))
}

func (fs *faultFS) OpenDir(name string) (vfs.File, error) {
	return fs.wrap(fs.FS.OpenDir(name))
}

func (fs *faultFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.wrap(fs.FS.ReuseForWrite(oldname, newname, c))
}

// Unwrap returns the wrapped file system.
func (fs *faultFS) Unwrap() vfs.FS { return fs.FS }

// faultFile passes every call through after the disk's fault. Truncate is
// forwarded when the wrapped file has it: the WAL extends preallocated
// segments with it, and a wrapper that hid it would change what the WAL's
// fdatasyncs cost.
type faultFile struct {
	vfs.File
	d *Disk
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.d.before(false, true); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.d.before(false, true); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.d.before(true, false); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) SyncData() error {
	if err := f.d.before(true, false); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *faultFile) SyncTo(length int64) (bool, error) {
	if err := f.d.before(true, false); err != nil {
		return false, err
	}
	return f.File.SyncTo(length)
}

type truncater interface{ Truncate(size int64) error }

// Truncate forwards to the wrapped file's Truncate.
func (f *faultFile) Truncate(size int64) error {
	t, ok := f.File.(truncater)
	if !ok {
		return &os.PathError{Op: "truncate", Err: syscall.ENOTSUP}
	}
	return t.Truncate(size)
}

// CanTruncate reports whether the wrapped file has Truncate (the WAL asks).
func (f *faultFile) CanTruncate() bool {
	if c, ok := f.File.(interface{ CanTruncate() bool }); ok && !c.CanTruncate() {
		return false
	}
	_, ok := f.File.(truncater)
	return ok
}

// Engine wraps e so that its commits and syncs suffer the disk's fault.
func (d *Disk) Engine(e engine.Engine) engine.Engine { return &faultEngine{Engine: e, d: d} }

type faultEngine struct {
	engine.Engine
	d *Disk
}

var _ engine.Engine = (*faultEngine)(nil)

func (e *faultEngine) NewBatch() engine.Batch {
	return &faultBatch{Batch: e.Engine.NewBatch(), e: e.Engine, d: e.d}
}

func (e *faultEngine) Sync() error {
	if err := e.d.before(true, false); err != nil {
		return err
	}
	return e.Engine.Sync()
}

type faultBatch struct {
	engine.Batch
	e engine.Engine
	d *Disk
}

// Commit waits the write latency (and the fsync latency when synced); on a
// full disk it fails and, as any failed commit does, leaves the batch empty
// (a fresh one replaces the discarded writes).
func (b *faultBatch) Commit(sync bool) error {
	if err := b.d.before(sync, true); err != nil {
		b.Batch.Close()
		b.Batch = b.e.NewBatch()
		return err
	}
	return b.Batch.Commit(sync)
}
