package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files that mark a directory as belonging to an engine. Each engine keeps its
// data under its own names so that a directory opened with the wrong engine is
// recognised instead of being silently initialised next to foreign data.
const (
	BboltFile    = "db"         // bbolt keeps one file, named as in etcd's member/snap/db
	PebbleMarker = "CURRENT"    // pebble always writes CURRENT (and MANIFEST-*, OPTIONS-*)
	MemoryFile   = "memory.img" // the memory engine's image, written on Close
)

// DetectDir reports which engine's data dir holds, or "" when dir is absent or
// holds none of the marker files.
func DetectDir(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("engines: reading data dir %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == BboltFile:
			return "bbolt", nil
		case name == PebbleMarker, len(name) > 9 && name[:9] == "MANIFEST-":
			return "pebble", nil
		case name == MemoryFile:
			return "memory", nil
		}
	}
	return "", nil
}

// CheckDir returns an error wrapping ErrWrongEngine when dir holds another
// engine's data than want's.
func CheckDir(dir, want string) error {
	got, err := DetectDir(dir)
	if err != nil {
		return err
	}
	if got != "" && got != want {
		return fmt.Errorf("%w: %s holds %s data (found %s), cannot open it as %s",
			ErrWrongEngine, dir, got, filepath.Join(dir, markerOf(got)), want)
	}
	return nil
}

func markerOf(name string) string {
	switch name {
	case "bbolt":
		return BboltFile
	case "pebble":
		return PebbleMarker
	default:
		return MemoryFile
	}
}
