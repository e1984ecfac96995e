package wal

import (
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/cluster/wal/waltest"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// foreground drops the background pipeline's own operations (creating and
// preallocating the next temp file), whose timing is not deterministic.
func foreground(ops []waltest.Op) string {
	var keep []waltest.Op
	for _, op := range ops {
		if countOp(op) {
			keep = append(keep, op)
		}
	}
	return waltest.Format(keep)
}

// TestDurabilityOrder pins, on the real disk, the order of operations that
// makes Create, a cut and a snapshot marker crash-safe.
func TestDurabilityOrder(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "w")
	rfs := waltest.Wrap(vfs.Default)
	w, err := Create(rfs, dir, []byte("m"), Options{SegmentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	seg0 := walName(0, 0)
	want := strings.Join([]string{
		"remove w.tmp",
		"mkdir w.tmp",
		"create " + seg0,
		"prealloc " + seg0,
		"truncate " + seg0, // extend to the segment size
		"write " + seg0,    // crc, metadata, snapshot marker {0,0}
		"sync " + seg0,
		"sync-dir w.tmp", // the segment's name is durable in the new directory
		"rename w.tmp w",
		"sync-dir PARENT", // and the directory's name in its parent
	}, "\n") + "\n"
	got := strings.ReplaceAll(foreground(rfs.Ops()), filepath.Base(parent), "PARENT")
	if got != want {
		t.Fatalf("Create trace:\n%s\nwant:\n%s", got, want)
	}

	// Saves until one cuts; pin the cut's trace.
	rng := newRNG(1)
	var cutTrace string
	for i := uint64(1); i < 100 && cutTrace == ""; i++ {
		rfs.Reset()
		if err := w.Save(raftpb.HardState{Term: 1, Commit: i}, makeEnts(rng, i, 1, 1, 300)); err != nil {
			t.Fatal(err)
		}
		if w.Stats().Cuts > 0 {
			cutTrace = foreground(rfs.Ops())
		}
	}
	segs := w.segs
	old, next := segs[len(segs)-2].name, segs[len(segs)-1].name
	want = strings.Join([]string{
		"write " + old,    // the Save's records
		"truncate " + old, // drop the preallocated tail
		"sync " + old,     // everything in the old segment is durable first
		"write 0.tmp",     // crc + metadata + hard state
		"sync 0.tmp",      // the new segment's header is durable
		"rename 0.tmp " + next,
		"sync-dir w", // before anything is acknowledged in it
	}, "\n") + "\n"
	if cutTrace != want {
		t.Fatalf("cut trace:\n%s\nwant:\n%s", cutTrace, want)
	}

	rfs.Reset()
	if err := w.SaveSnapshot(Snapshot{Index: 3, Term: 1}); err != nil {
		t.Fatal(err)
	}
	want = "write " + next + "\nsync " + next + "\n"
	if got := foreground(rfs.Ops()); got != want {
		t.Fatalf("SaveSnapshot trace:\n%s\nwant:\n%s", got, want)
	}

	// A commit-only save writes nothing and syncs nothing (it stays in the
	// buffer until the next sync), as in etcd.
	rfs.Reset()
	if err := w.Save(raftpb.HardState{Term: 1, Commit: 4}, nil); err != nil {
		t.Fatal(err)
	}
	if got := foreground(rfs.Ops()); got != "" {
		t.Fatalf("commit-only Save trace:\n%s\nwant nothing", got)
	}
}
