package pebble

import (
	"strings"
	"testing"
)

// TestSecondOpenNamesTheLock: a pebble store already open (here in this
// process; another process gets EAGAIN from the same LOCK file) is refused
// with a message that says what holds it and what to do, not pebble's bare
// "resource temporarily unavailable".
func TestSecondOpenNamesTheLock(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, err = Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "locked by another open engine or process") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second open: %v", err)
	}
	t.Logf("second open: %v", err)
}
