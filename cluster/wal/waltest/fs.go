// Package waltest holds test helpers shared by the wal and snap tests: a
// filesystem wrapper that records every durability-relevant operation (for
// tests that pin the order of create, write, sync, rename and directory sync)
// and that can stop the world at the k-th operation (for crash tests that
// clone a crashable MemFS at that point).
//
// It is a test helper: production code never imports it.
package waltest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrCrashed is returned for every mutating operation after a simulated
// crash: the process is "dead", so nothing it does afterwards may reach disk.
var ErrCrashed = errors.New("waltest: crashed")

// OpKind names a recorded operation.
type OpKind string

// The recorded operation kinds. Reads are not recorded: they cannot change
// what survives a crash.
const (
	OpCreate   OpKind = "create"
	OpWrite    OpKind = "write"
	OpSync     OpKind = "sync"     // fsync or fdatasync of a file
	OpSyncDir  OpKind = "sync-dir" // fsync of a directory
	OpRename   OpKind = "rename"
	OpRemove   OpKind = "remove"
	OpTruncate OpKind = "truncate"
	OpMkdir    OpKind = "mkdir"
	OpPrealloc OpKind = "prealloc"
)

// Op is one recorded operation. Path and NewPath are base names, so traces do
// not depend on the temporary directory.
type Op struct {
	Kind    OpKind
	Path    string
	NewPath string
}

func (o Op) String() string {
	if o.NewPath != "" {
		return fmt.Sprintf("%s %s %s", o.Kind, o.Path, o.NewPath)
	}
	return fmt.Sprintf("%s %s", o.Kind, o.Path)
}

// FS wraps a vfs.FS, records mutating operations and lets a hook fail or
// observe each one before it runs.
type FS struct {
	vfs.FS
	mu      sync.Mutex
	ops     []Op
	crashed bool
	// Before, when set, runs before each mutating operation with the
	// operation and its 0-based sequence number among counted operations. A
	// non-nil error is returned to the caller and the operation is skipped.
	before func(op Op, n int) error
	// counted reports whether an operation counts for Before's sequence
	// number; nil counts everything.
	counted func(op Op) bool
	n       int
}

var (
	_ vfs.FS   = (*FS)(nil)
	_ vfs.File = (*file)(nil)
)

// Wrap returns a recording wrapper around fs.
func Wrap(fs vfs.FS) *FS { return &FS{FS: fs} }

// SetBefore installs the hook; counted filters which operations get a
// sequence number (others still run the hook with n = -1).
func (fs *FS) SetBefore(counted func(Op) bool, before func(op Op, n int) error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.before, fs.counted = before, counted
}

// Ops returns a copy of the recorded trace.
func (fs *FS) Ops() []Op {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]Op(nil), fs.ops...)
}

// Reset clears the recorded trace.
func (fs *FS) Reset() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.ops = nil
}

// Crash makes every later mutating operation fail with ErrCrashed.
func (fs *FS) Crash() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.crashed = true
}

// Count returns how many counted operations have been seen.
func (fs *FS) Count() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.n
}

func (fs *FS) record(op Op) error {
	fs.mu.Lock()
	if fs.crashed {
		fs.mu.Unlock()
		return ErrCrashed
	}
	n := -1
	if fs.counted == nil || fs.counted(op) {
		n = fs.n
		fs.n++
	}
	before := fs.before
	fs.mu.Unlock()
	if before != nil {
		if err := before(op, n); err != nil {
			return err
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.crashed {
		return ErrCrashed
	}
	fs.ops = append(fs.ops, op)
	return nil
}

func (fs *FS) base(p string) string { return fs.FS.PathBase(p) }

// Unwrap implements vfs.FS.
func (fs *FS) Unwrap() vfs.FS { return fs.FS }

// Create implements vfs.FS.
func (fs *FS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.record(Op{Kind: OpCreate, Path: fs.base(name)}); err != nil {
		return nil, err
	}
	f, err := fs.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	return &file{File: f, fs: fs, name: fs.base(name)}, nil
}

// OpenReadWrite implements vfs.FS.
func (fs *FS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	if err != nil {
		return nil, err
	}
	return &file{File: f, fs: fs, name: fs.base(name)}, nil
}

// Open implements vfs.FS.
func (fs *FS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.Open(name, opts...)
	if err != nil {
		return nil, err
	}
	return &file{File: f, fs: fs, name: fs.base(name)}, nil
}

// OpenDir implements vfs.FS.
func (fs *FS) OpenDir(name string) (vfs.File, error) {
	f, err := fs.FS.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return &file{File: f, fs: fs, name: fs.base(name), dir: true}, nil
}

// Rename implements vfs.FS.
func (fs *FS) Rename(oldname, newname string) error {
	if err := fs.record(Op{Kind: OpRename, Path: fs.base(oldname), NewPath: fs.base(newname)}); err != nil {
		return err
	}
	return fs.FS.Rename(oldname, newname)
}

// Remove implements vfs.FS.
func (fs *FS) Remove(name string) error {
	if err := fs.record(Op{Kind: OpRemove, Path: fs.base(name)}); err != nil {
		return err
	}
	return fs.FS.Remove(name)
}

// RemoveAll implements vfs.FS.
func (fs *FS) RemoveAll(name string) error {
	if err := fs.record(Op{Kind: OpRemove, Path: fs.base(name)}); err != nil {
		return err
	}
	return fs.FS.RemoveAll(name)
}

// MkdirAll implements vfs.FS.
func (fs *FS) MkdirAll(dir string, perm os.FileMode) error {
	if err := fs.record(Op{Kind: OpMkdir, Path: fs.base(dir)}); err != nil {
		return err
	}
	return fs.FS.MkdirAll(dir, perm)
}

// ReuseForWrite implements vfs.FS.
func (fs *FS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.record(Op{Kind: OpRename, Path: fs.base(oldname), NewPath: fs.base(newname)}); err != nil {
		return nil, err
	}
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	if err != nil {
		return nil, err
	}
	return &file{File: f, fs: fs, name: fs.base(newname)}, nil
}

// Link implements vfs.FS.
func (fs *FS) Link(oldname, newname string) error {
	if err := fs.record(Op{Kind: OpCreate, Path: fs.base(newname)}); err != nil {
		return err
	}
	return fs.FS.Link(oldname, newname)
}

// Lock implements vfs.FS.
func (fs *FS) Lock(name string) (io.Closer, error) { return fs.FS.Lock(name) }

type file struct {
	vfs.File
	fs   *FS
	name string
	dir  bool
}

func (f *file) Write(p []byte) (int, error) {
	if err := f.fs.record(Op{Kind: OpWrite, Path: f.name}); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.record(Op{Kind: OpWrite, Path: f.name}); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *file) syncOp() Op {
	if f.dir {
		return Op{Kind: OpSyncDir, Path: f.name}
	}
	return Op{Kind: OpSync, Path: f.name}
}

func (f *file) Sync() error {
	if err := f.fs.record(f.syncOp()); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *file) SyncData() error {
	if err := f.fs.record(f.syncOp()); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *file) Preallocate(off, n int64) error {
	if err := f.fs.record(Op{Kind: OpPrealloc, Path: f.name}); err != nil {
		return err
	}
	return f.File.Preallocate(off, n)
}

// Truncate forwards to the wrapped file when it supports truncation (os
// files do; MemFS files do not), so the wrapper does not change which code
// path the caller takes.
func (f *file) Truncate(size int64) error {
	t, ok := f.File.(interface{ Truncate(int64) error })
	if !ok {
		return errors.New("waltest: truncate not supported")
	}
	if err := f.fs.record(Op{Kind: OpTruncate, Path: f.name}); err != nil {
		return err
	}
	return t.Truncate(size)
}

// CanTruncate reports whether the wrapped file supports Truncate.
func (f *file) CanTruncate() bool {
	_, ok := f.File.(interface{ Truncate(int64) error })
	return ok
}

// Format renders a trace one operation per line, for golden comparisons.
func Format(ops []Op) string {
	var b strings.Builder
	for _, op := range ops {
		b.WriteString(op.String())
		b.WriteByte('\n')
	}
	return b.String()
}
