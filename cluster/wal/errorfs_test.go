package wal

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"go.etcd.io/raft/v3/raftpb"
)

var errInjected = errors.New("injected I/O error")

// TestInjectedErrorsSurface injects one kind of write or sync failure at a
// time, after a healthy start, and checks that the failing call returns it,
// that the WAL refuses every later append (a failed fsync cannot be
// retried), and that everything acknowledged before it survives a crash.
func TestInjectedErrorsSurface(t *testing.T) {
	cases := []struct {
		name   string
		kind   errorfs.OpKind
		suffix string
	}{
		{"write=segment", errorfs.OpFileWriteAt, ".wal"},
		{"fdatasync=segment", errorfs.OpFileSyncData, ".wal"},
		{"cut=pipeline-create", errorfs.OpCreate, ".tmp"},
		{"cut=header-write", errorfs.OpFileWriteAt, ".tmp"},
		{"cut=header-sync", errorfs.OpFileSyncData, ".tmp"},
		{"cut=rename", errorfs.OpRename, ".tmp"},
		{"cut=dir-sync", errorfs.OpFileSync, "/w"},
		{"cut=reopen", errorfs.OpOpen, ".wal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := vfs.NewCrashableMem()
			var on atomic.Bool
			var injected atomic.Int32
			efs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if on.Load() && op.Kind == c.kind && strings.HasSuffix(op.Path, c.suffix) {
					injected.Add(1)
					return errInjected
				}
				return nil
			}))
			opts := Options{SegmentSize: 1024}
			w, err := Create(efs, "/w", []byte("m"), opts)
			if err != nil {
				t.Fatal(err)
			}
			on.Store(true)
			rng := newRNG(11)
			var acked []raftpb.Entry
			var failed error
			for i := uint64(1); i <= 40 && failed == nil; i++ {
				e := makeEnts(rng, i, 1, 1, 100)
				if err := w.Save(raftpb.HardState{Term: 1, Commit: i}, e); err != nil {
					failed = err
					break
				}
				acked = append(acked, e...)
			}
			if failed == nil {
				t.Fatalf("40 saves succeeded with %d injected errors", injected.Load())
			}
			if !errors.Is(failed, errInjected) {
				t.Fatalf("Save error %v does not wrap the injected error", failed)
			}
			clone := mem.CrashClone(vfs.CrashCloneCfg{})
			on.Store(false)
			// Sticky: no later write is accepted, even with the disk healthy.
			next := uint64(len(acked) + 2)
			if err := w.Save(raftpb.HardState{Term: 1, Commit: next}, makeEnts(rng, next, 1, 1, 10)); err == nil {
				t.Fatal("Save after a failure succeeded")
			}
			if err := w.SaveSnapshot(Snapshot{Index: 1, Term: 1}); err == nil {
				t.Fatal("SaveSnapshot after a failure succeeded")
			}
			w.Close()
			// Everything acknowledged survives a crash at this point.
			w2, err := Open(clone, "/w", Snapshot{}, opts)
			if err != nil {
				t.Fatal(err)
			}
			_, _, ents, err := w2.ReadAll()
			w2.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) < len(acked) || !entsEqual(ents[:len(acked)], acked) {
				t.Fatalf("after crash: %d entries, %d acknowledged", len(ents), len(acked))
			}
		})
	}
}
