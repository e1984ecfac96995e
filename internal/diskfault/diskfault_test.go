package diskfault

import (
	"errors"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"etcdlab/engines/engine"
	"etcdlab/engines/memory"
)

// TestFSNoSpace: a full disk fails writes and syncs of files opened before
// and after the fault was set with ENOSPC, and a healed disk works again.
func TestFSNoSpace(t *testing.T) {
	d := New(nil)
	fs := d.FS(vfs.NewMem())
	before, err := fs.Create("a", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := before.Write([]byte("x")); err != nil {
		t.Fatalf("healthy write: %v", err)
	}
	d.Set(Fault{NoSpace: true})
	after, err := fs.Create("b", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]vfs.File{"before": before, "after": after} {
		if _, err := f.Write([]byte("x")); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%s: write on a full disk: %v, want ENOSPC", name, err)
		}
		if err := f.SyncData(); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%s: sync on a full disk: %v, want ENOSPC", name, err)
		}
	}
	d.Set(Fault{})
	if _, err := after.Write([]byte("x")); err != nil {
		t.Fatalf("write after heal: %v", err)
	}
	if err := after.Sync(); err != nil {
		t.Fatalf("sync after heal: %v", err)
	}
}

// TestEngineNoSpace: a commit on a full disk fails with ENOSPC and writes
// nothing; the batch is empty and usable afterwards.
func TestEngineNoSpace(t *testing.T) {
	m, err := memory.Open(t.TempDir(), memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := New(nil)
	e := d.Engine(m)
	defer e.Close()
	bk := engine.Bucket{ID: 1, Name: "b"}
	b := e.NewBatch()
	b.Put(bk, []byte("k"), []byte("v1"))
	d.Set(Fault{NoSpace: true})
	if err := b.Commit(true); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("commit on a full disk: %v, want ENOSPC", err)
	}
	if err := e.Sync(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("sync on a full disk: %v, want ENOSPC", err)
	}
	if b.Len() != 0 {
		t.Fatalf("batch holds %d ops after a failed commit", b.Len())
	}
	d.Set(Fault{})
	b.Put(bk, []byte("k"), []byte("v2"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	v, err := e.NewView()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	got, err := v.Get(bk, []byte("k"))
	if err != nil || string(got) != "v2" {
		t.Fatalf("after heal: %q, %v; want v2 (and never v1)", got, err)
	}
}

// TestFileKeepsTruncate: the wrapper forwards Truncate where the file has
// it and reports that it cannot where it has not.
func TestFileKeepsTruncate(t *testing.T) {
	d := New(nil)
	f, err := d.FS(vfs.Default).Create(t.TempDir()+"/f", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, ok := f.(interface{ CanTruncate() bool })
	if !ok || !c.CanTruncate() {
		t.Fatal("an OS file lost Truncate behind the wrapper")
	}
	if err := f.(interface{ Truncate(int64) error }).Truncate(100); err != nil {
		t.Fatal(err)
	}
	mf, err := d.FS(vfs.NewMem()).Create("g", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if mf.(interface{ CanTruncate() bool }).CanTruncate() {
		t.Fatal("a MemFS file claims Truncate behind the wrapper")
	}
}
