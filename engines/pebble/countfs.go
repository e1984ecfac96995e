package pebble

import (
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// fsCounters are the exact I/O counts behind Stats.Fsyncs and
// Stats.BytesWritten: every file pebble writes (WAL, sstables, MANIFEST,
// OPTIONS, markers) goes through countingFS, so nothing is estimated.
type fsCounters struct {
	fsyncs     atomic.Int64 // Sync, SyncData, and SyncTo calls that did a full fdatasync
	syncRanges atomic.Int64 // SyncTo calls that only queued writeback (sync_file_range)
	bytes      atomic.Int64 // bytes of Write and WriteAt
}

// countingFS wraps the vfs.FS handed to pebble and counts syncs and written
// bytes on every file opened for writing, and syncs of directories. Files under
// an image staging directory (imageTmpPrefix) are not counted: they are the
// cost of WriteImage, not of storing data, as bbolt's image is a plain read.
type countingFS struct {
	vfs.FS
	c *fsCounters
}

var _ vfs.FS = (*countingFS)(nil)

func (fs *countingFS) counted(name string) bool {
	return !strings.HasPrefix(filepath.Base(filepath.Dir(name)), imageTmpPrefix) &&
		!strings.HasPrefix(filepath.Base(name), imageTmpPrefix)
}

func (fs *countingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !fs.counted(name) {
		return f, err
	}
	return &countingFile{File: f, c: fs.c}, nil
}

func (fs *countingFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrap(name, f, err)
}

func (fs *countingFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, category, opts...)
	return fs.wrap(name, f, err)
}

func (fs *countingFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(newname, f, err)
}

func (fs *countingFS) OpenDir(name string) (vfs.File, error) {
	f, err := fs.FS.OpenDir(name)
	return fs.wrap(name, f, err)
}

func (fs *countingFS) Unwrap() vfs.FS { return fs.FS }

// countingFile counts one file's writes and syncs. vfs.File write methods are
// called sequentially per file, but files are written concurrently, hence the
// shared atomics.
type countingFile struct {
	vfs.File
	c *fsCounters
}

func (f *countingFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.c.bytes.Add(int64(n))
	return n, err
}

func (f *countingFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.c.bytes.Add(int64(n))
	return n, err
}

func (f *countingFile) Sync() error {
	f.c.fsyncs.Add(1)
	return f.File.Sync()
}

func (f *countingFile) SyncData() error {
	f.c.fsyncs.Add(1)
	return f.File.SyncData()
}

// SyncTo is an fdatasync when it reports fullSync and otherwise only asks the
// kernel to start writeback (sync_file_range, used for BytesPerSync); only the
// former is a durability barrier, so only it counts as an fsync.
func (f *countingFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	if full {
		f.c.fsyncs.Add(1)
	} else {
		f.c.syncRanges.Add(1)
	}
	return full, err
}
