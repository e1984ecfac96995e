// Package vfsutil holds file-system steps that several packages need through
// pebble's vfs seam, written once so that they cannot drift apart.
package vfsutil

import "github.com/cockroachdb/pebble/v2/vfs"

// SyncDir fsyncs a directory so that creates, renames and removes in it
// survive a crash (a rename is durable only once its directory is synced).
func SyncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
