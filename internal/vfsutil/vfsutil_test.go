package vfsutil

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestMetaCountingFS: every namespace call counts one, reads and writes on
// an open file count none.
func TestMetaCountingFS(t *testing.T) {
	fs := NewMetaCountingFS(vfs.NewMem())
	steps := []struct {
		name string
		do   func() error
		want int64
	}{
		{"mkdir", func() error { return fs.MkdirAll("d", 0o755) }, 1},
		{"create, write and sync", func() error {
			f, err := fs.Create("d/a", vfs.WriteCategoryUnspecified)
			if err != nil {
				return err
			}
			if _, err := f.Write([]byte("data")); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			return f.Close()
		}, 1},
		{"open and read", func() error {
			f, err := fs.Open("d/a")
			if err != nil {
				return err
			}
			_, err = f.Read(make([]byte, 4))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}, 1},
		{"list", func() error { _, err := fs.List("d"); return err }, 1},
		{"stat", func() error { _, err := fs.Stat("d/a"); return err }, 1},
		{"link", func() error { return fs.Link("d/a", "d/b") }, 1},
		{"rename", func() error { return fs.Rename("d/b", "d/c") }, 1},
		{"remove", func() error { return fs.Remove("d/c") }, 1},
		{"open dir", func() error {
			d, err := fs.OpenDir("d")
			if err != nil {
				return err
			}
			return d.Close()
		}, 1},
		{"remove all", func() error { return fs.RemoveAll("d") }, 1},
	}
	for _, s := range steps {
		before := fs.MetadataOps()
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := fs.MetadataOps() - before; got != s.want {
			t.Errorf("%s: %d metadata calls counted, want %d", s.name, got, s.want)
		}
	}
}
