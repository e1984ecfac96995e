package wal

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestOneWriterPerWAL: a WAL that is open (created or reopened) cannot be
// created or opened again, on disk or in memory, until it is closed; the
// error names the directory and what to do. Two nodes on one data dir
// would otherwise interleave records and corrupt the log.
func TestOneWriterPerWAL(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string
	}{
		{"disk", vfs.Default, filepath.Join(t.TempDir(), "member", "wal")},
		{"memory", vfs.NewMem(), "member/wal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{SegmentSize: 1 << 20}
			w, err := Create(tc.fs, tc.dir, []byte("meta"), opts)
			if err != nil {
				t.Fatal(err)
			}
			checkLocked := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), tc.dir) || !strings.Contains(err.Error(), "another node on the same data dir") {
					t.Fatalf("%s while the WAL is open: %v, want ErrLocked naming %s", what, err, tc.dir)
				}
			}
			_, err = Open(tc.fs, tc.dir, Snapshot{}, opts)
			checkLocked("Open", err)
			_, err = Create(tc.fs, tc.dir, nil, opts)
			if !errors.Is(err, ErrExist) && !errors.Is(err, ErrLocked) {
				t.Fatalf("Create over an open WAL: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			w2, err := Open(tc.fs, tc.dir, Snapshot{}, opts)
			if err != nil {
				t.Fatalf("Open after Close: %v", err)
			}
			if _, _, _, err := w2.ReadAll(); err != nil {
				t.Fatal(err)
			}
			_, err = Open(tc.fs, tc.dir, Snapshot{}, opts)
			checkLocked("second Open", err)
			if err := w2.Close(); err != nil {
				t.Fatal(err)
			}
			// A WAL whose read fails still releases the lock at Close.
			w3, err := Open(tc.fs, tc.dir, Snapshot{Index: 99, Term: 1}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := w3.ReadAll(); !errors.Is(err, ErrSnapshotNotFound) {
				t.Fatalf("ReadAll at a snapshot the WAL does not hold: %v", err)
			}
			if err := w3.Close(); err != nil {
				t.Fatal(err)
			}
			w3, err = Open(tc.fs, tc.dir, Snapshot{}, opts)
			if err != nil {
				t.Fatalf("Open after a failed Open: %v", err)
			}
			if err := w3.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
