package wal

import (
	"bytes"
	"errors"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// validSegment encodes a small well-formed segment, the base of the seeds.
func validSegment() []byte {
	e := &encoder{pw: newPageWriter(nil, 0)}
	_ = e.encodeCRC()
	_ = e.encodeBytes(metadataType, []byte("meta"))
	_ = e.encodeSnapshot(Snapshot{Index: 1, Term: 1, ConfState: &raftpb.ConfState{Voters: []uint64{1}}})
	for i := uint64(2); i < 5; i++ {
		ent := raftpb.Entry{Index: i, Term: 1, Data: bytes.Repeat([]byte{byte(i)}, int(i)*3)}
		_ = e.encodeEntry(&ent)
	}
	st := raftpb.HardState{Term: 1, Vote: 1, Commit: 3}
	_ = e.encodeState(&st)
	return append([]byte(nil), e.pw.buf...)
}

// FuzzDecode feeds arbitrary bytes to the segment decoder and the replay
// that interprets records: it must never panic, and must end in io.EOF, a
// torn tail, or a named error, never read past the data.
func FuzzDecode(f *testing.F) {
	valid := validSegment()
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, snap := range []Snapshot{{}, {Index: 1, Term: 1}} {
			dec := newDecoder(newSegReader("f.wal", bytes.NewReader(data), int64(len(data))))
			res, err := replay(dec, snap, true)
			if dec.lastOffset() > int64(len(data)) {
				t.Fatalf("decoder claims %d valid bytes of %d", dec.lastOffset(), len(data))
			}
			var torn *tornError
			var ce *CorruptError
			switch {
			case err == nil, errors.As(err, &torn), errors.As(err, &ce),
				errors.Is(err, ErrMetadataConflict), errors.Is(err, ErrSnapshotMismatch):
			default:
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			for i, e := range res.ents {
				if e.Index != snap.Index+uint64(i)+1 {
					t.Fatalf("entry %d has index %d after snapshot %d", i, e.Index, snap.Index)
				}
			}
		}
	})
}
