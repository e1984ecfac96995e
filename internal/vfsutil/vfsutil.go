// Package vfsutil holds file-system steps that several packages need through
// pebble's vfs seam, written once so that they cannot drift apart.
package vfsutil

import (
	"io"
	"os"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// SyncDir fsyncs a directory so that creates, renames and removes in it
// survive a crash (a rename is durable only once its directory is synced).
func SyncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// MetaCountingFS wraps a vfs.FS and counts its metadata calls: every open,
// create, link, remove, rename, mkdir, lock, list, stat and disk-usage query.
// Reads, writes and syncs on open files are not metadata and pass through
// uncounted. The engine-parity checks use it to show that no per-request
// path touches the file system's namespace.
type MetaCountingFS struct {
	vfs.FS
	n atomic.Int64
}

var _ vfs.FS = (*MetaCountingFS)(nil)

// NewMetaCountingFS wraps fs.
func NewMetaCountingFS(fs vfs.FS) *MetaCountingFS { return &MetaCountingFS{FS: fs} }

// MetadataOps is the number of metadata calls made so far.
func (f *MetaCountingFS) MetadataOps() int64 { return f.n.Load() }

// Create implements vfs.FS.
func (f *MetaCountingFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f.n.Add(1)
	return f.FS.Create(name, c)
}

// Link implements vfs.FS.
func (f *MetaCountingFS) Link(oldname, newname string) error {
	f.n.Add(1)
	return f.FS.Link(oldname, newname)
}

// Open implements vfs.FS.
func (f *MetaCountingFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f.n.Add(1)
	return f.FS.Open(name, opts...)
}

// OpenReadWrite implements vfs.FS.
func (f *MetaCountingFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f.n.Add(1)
	return f.FS.OpenReadWrite(name, c, opts...)
}

// OpenDir implements vfs.FS.
func (f *MetaCountingFS) OpenDir(name string) (vfs.File, error) {
	f.n.Add(1)
	return f.FS.OpenDir(name)
}

// Remove implements vfs.FS.
func (f *MetaCountingFS) Remove(name string) error {
	f.n.Add(1)
	return f.FS.Remove(name)
}

// RemoveAll implements vfs.FS.
func (f *MetaCountingFS) RemoveAll(name string) error {
	f.n.Add(1)
	return f.FS.RemoveAll(name)
}

// Rename implements vfs.FS.
func (f *MetaCountingFS) Rename(oldname, newname string) error {
	f.n.Add(1)
	return f.FS.Rename(oldname, newname)
}

// ReuseForWrite implements vfs.FS.
func (f *MetaCountingFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f.n.Add(1)
	return f.FS.ReuseForWrite(oldname, newname, c)
}

// MkdirAll implements vfs.FS.
func (f *MetaCountingFS) MkdirAll(dir string, perm os.FileMode) error {
	f.n.Add(1)
	return f.FS.MkdirAll(dir, perm)
}

// Lock implements vfs.FS.
func (f *MetaCountingFS) Lock(name string) (io.Closer, error) {
	f.n.Add(1)
	return f.FS.Lock(name)
}

// List implements vfs.FS.
func (f *MetaCountingFS) List(dir string) ([]string, error) {
	f.n.Add(1)
	return f.FS.List(dir)
}

// Stat implements vfs.FS.
func (f *MetaCountingFS) Stat(name string) (vfs.FileInfo, error) {
	f.n.Add(1)
	return f.FS.Stat(name)
}

// GetDiskUsage implements vfs.FS.
func (f *MetaCountingFS) GetDiskUsage(path string) (vfs.DiskUsage, error) {
	f.n.Add(1)
	return f.FS.GetDiskUsage(path)
}

// Unwrap implements vfs.FS.
func (f *MetaCountingFS) Unwrap() vfs.FS { return f.FS }
