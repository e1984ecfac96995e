package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Detect is one engine's recognition of its data: given the names of a
// data dir's entries, it returns the entry that marks the dir as holding
// that engine's data, or "" when none does. Each engine package exports its
// own (bbolt.Detect, pebble.Detect, memory.Detect); the registry
// (etcdlab/engines), the one place that knows every engine, runs them all so
// that a dir opened with the wrong engine is recognised instead of being
// silently initialised next to foreign data. This package knows no engine
// by name.
type Detect func(names []string) (marker string)

// ListDir returns the names of dir's entries; an absent dir has none.
func ListDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("engines: reading data dir %s: %w", dir, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// WrongEngine is the error for a dir that holds engine got's data (marker
// is the entry that says so) opened as engine want; it wraps ErrWrongEngine.
func WrongEngine(dir, got, marker, want string) error {
	return fmt.Errorf("%w: %s holds %s data (found %s), cannot open it as %s",
		ErrWrongEngine, dir, got, filepath.Join(dir, marker), want)
}
