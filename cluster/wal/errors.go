package wal

import (
	"errors"
	"fmt"
)

// Sentinel errors. Corruption is reported as a *CorruptError, which matches
// ErrCorrupt with errors.Is and, for checksum failures, ErrCRCMismatch too.
var (
	ErrCorrupt          = errors.New("wal: corrupt")
	ErrCRCMismatch      = errors.New("wal: crc mismatch")
	ErrSnapshotNotFound = errors.New("wal: snapshot not found")
	ErrSnapshotMismatch = errors.New("wal: snapshot mismatch")
	ErrFileNotFound     = errors.New("wal: file not found")
	ErrMetadataConflict = errors.New("wal: conflicting metadata found")
	ErrClosed           = errors.New("wal: closed")
	ErrExist            = errors.New("wal: directory already holds a wal")
	ErrRecordTooLarge   = errors.New("wal: record too large")
	ErrNotRead          = errors.New("wal: ReadAll must be called before appending")
	ErrAlreadyRead      = errors.New("wal: ReadAll already called")
	ErrReleaseBeyond    = errors.New("wal: release beyond the last synced snapshot marker")
	ErrBadOption        = errors.New("wal: bad option")
	ErrLocked           = errors.New("wal: locked")
)

// CorruptError says where a segment stopped being readable and why. It is
// never produced for a torn tail (which is repaired), only for damage that
// cannot be the result of a crash during an unsynced write.
type CorruptError struct {
	File   string // base name of the segment
	Offset int64  // byte offset of the bad record's length word
	Reason string
	Err    error // ErrCRCMismatch or ErrCorrupt
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%v: %s at offset %d: %s", e.Err, e.File, e.Offset, e.Reason)
}

// Unwrap returns the specific sentinel.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is makes every CorruptError match ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corruptf(file string, off int64, sentinel error, format string, args ...any) *CorruptError {
	return &CorruptError{File: file, Offset: off, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// tornError marks a torn tail: the last record of the last segment was only
// partly written (a zero sector or a short file). ReadAll repairs it once.
type tornError struct {
	file string
	off  int64 // offset of the first invalid byte: everything before is good
}

func (e *tornError) Error() string {
	return fmt.Sprintf("wal: torn write in %s at offset %d", e.file, e.off)
}
