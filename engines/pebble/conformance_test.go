package pebble

import (
	"io"
	"testing"

	"etcdlab/engines/engine"
	"etcdlab/engines/enginetest"
)

// TestConformance runs the shared engine suite on every WAL mode. Under
// wal=disabled a synced commit stays in the memtable until a flush, so Size
// lags the committed data by up to a memtable and the suite's "Size covers
// what was committed" check does not apply (NoDisk); Reclaim's effect on the
// content is still checked, and TestReclaimShrinks covers the disk.
//
// Under -short only wal=disabled runs: the registry's conformance test in
// package engines already runs the default (wal=synced) pebble.
func TestConformance(t *testing.T) {
	modes := []WALMode{WALSynced, WALUnsynced, WALDisabled}
	if testing.Short() {
		modes = []WALMode{WALDisabled}
	}
	for _, mode := range modes {
		o := Options{WAL: mode}
		t.Run("wal="+string(mode), enginetest.Harness{
			Open: func(t *testing.T, dir string) engine.Engine {
				e, err := Open(dir, o)
				if err != nil {
					t.Fatalf("Open(%s): %v", dir, err)
				}
				return e
			},
			NoDisk: mode == WALDisabled,
			OpenImage: func(t *testing.T, r io.Reader, dir string) (engine.Engine, error) {
				e, err := OpenImage(r, dir, o)
				if err != nil {
					return nil, err
				}
				return e, nil
			},
		}.Run)
	}
}
