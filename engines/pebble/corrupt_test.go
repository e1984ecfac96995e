package pebble

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/engines/engine"
)

// TestCorruptSSTableIsAnError: 16 random bytes inside an sstable used to take
// the process down (pebble's default reaction to on-disk corruption is
// Logger.Fatalf, which panicked with a goroutine dump, even from a background
// compaction at start). Now the store opens, a read that meets the damage
// fails with engine.ErrCorrupt naming the file, and nothing panics.
func TestCorruptSSTableIsAnError(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := engine.Bucket{ID: 1, Name: "kv"}
	bt := e.NewBatch()
	for i := 0; i < 20000; i++ {
		bt.Put(b, []byte(fmt.Sprintf("key-%08d", i)), make([]byte, 100))
	}
	if err := bt.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := e.Reclaim(); err != nil { // flush and compact into one sstable
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	ssts, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil || len(ssts) == 0 {
		t.Fatalf("no sstable in %s: %v", dir, err)
	}
	f, err := os.OpenFile(ssts[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 16)
	rand.New(rand.NewSource(1)).Read(junk)
	if _, err := f.WriteAt(junk, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	f.Close()

	e, err = Open(dir, Options{})
	if err != nil {
		// Refusing at open is as good, if it names the damage.
		if !errors.Is(err, engine.ErrCorrupt) {
			t.Fatalf("open of a store with a damaged sstable: %v", err)
		}
		return
	}
	defer e.Close()
	v, err := e.NewView()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	err = v.Scan(b, nil, nil, 0, func(k, val []byte) bool { return true })
	if !errors.Is(err, engine.ErrCorrupt) || !strings.Contains(err.Error(), strings.TrimSuffix(filepath.Base(ssts[0]), ".sst")) {
		t.Fatalf("scan over a damaged sstable: %v, want ErrCorrupt naming %s", err, filepath.Base(ssts[0]))
	}
	if len(err.Error()) > 1000 {
		t.Errorf("the error carries %d bytes (a stack trace?): %.300s", len(err.Error()), err)
	}
	if n := e.Stats().Native["pebble.corruptions"]; n < 1 {
		t.Errorf("pebble.corruptions = %v after reading damaged data", n)
	}
	t.Logf("scan: %v", err)
}
