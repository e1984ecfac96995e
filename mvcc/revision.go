package mvcc

import (
	"encoding/binary"
	"fmt"
)

// Revision identifies one change in the store: Main is the store-wide counter,
// bumped once per mutating txn; Sub is the index of the change inside that txn,
// from 0. Revisions are ordered by (Main, Sub).
type Revision struct {
	Main int64
	Sub  int64
}

// GreaterThan reports whether r orders after o.
func (r Revision) GreaterThan(o Revision) bool {
	if r.Main != o.Main {
		return r.Main > o.Main
	}
	return r.Sub > o.Sub
}

func (r Revision) String() string { return fmt.Sprintf("%d.%d", r.Main, r.Sub) }

const (
	// RevBytesLen is the length of an encoded revision: 8 bytes Main, '_', 8
	// bytes Sub, all big-endian so that byte order is revision order.
	RevBytesLen = 8 + 1 + 8
	// MarkedRevBytesLen is RevBytesLen plus the one-byte tombstone mark.
	MarkedRevBytesLen = RevBytesLen + 1

	revSeparator  = '_'
	tombstoneMark = 't'
)

// AppendRevBytes appends the 17-byte encoding of r to dst.
func AppendRevBytes(dst []byte, r Revision) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Main))
	dst = append(dst, revSeparator)
	return binary.BigEndian.AppendUint64(dst, uint64(r.Sub))
}

// RevBytes returns the 17-byte key of r, or its 18-byte tombstone key.
func RevBytes(r Revision, tombstone bool) []byte {
	n := RevBytesLen
	if tombstone {
		n = MarkedRevBytesLen
	}
	b := AppendRevBytes(make([]byte, 0, n), r)
	if tombstone {
		b = append(b, tombstoneMark)
	}
	return b
}

// ParseRevBytes decodes a key of the key bucket: 17 bytes, or 18 with the
// tombstone mark. Any other shape is an error wrapping ErrBadRevision.
func ParseRevBytes(b []byte) (rev Revision, tombstone bool, err error) {
	switch {
	case len(b) == MarkedRevBytesLen:
		if b[RevBytesLen] != tombstoneMark {
			return Revision{}, false, fmt.Errorf("%w: 18-byte key %x does not end with the tombstone mark 't'", ErrBadRevision, b)
		}
		tombstone = true
	case len(b) != RevBytesLen:
		return Revision{}, false, fmt.Errorf("%w: key %x is %d bytes, want %d or %d", ErrBadRevision, b, len(b), RevBytesLen, MarkedRevBytesLen)
	}
	if b[8] != revSeparator {
		return Revision{}, false, fmt.Errorf("%w: key %x lacks the '_' separator at byte 8", ErrBadRevision, b)
	}
	rev.Main = int64(binary.BigEndian.Uint64(b[0:8]))
	rev.Sub = int64(binary.BigEndian.Uint64(b[9:17]))
	if rev.Main < 0 || rev.Sub < 0 {
		return Revision{}, false, fmt.Errorf("%w: key %x encodes a negative revision", ErrBadRevision, b)
	}
	return rev, tombstone, nil
}
