package wal

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"
)

// Snapshot is a snapshot marker in the WAL: the raft snapshot at Index/Term
// has been saved, so segments before it may go once the marker is synced.
// ConfState is optional (nil encodes as absent).
type Snapshot struct {
	Index     uint64
	Term      uint64
	ConfState *raftpb.ConfState
}

// marshal encodes index, term, then the ConfState's protobuf bytes.
func (s Snapshot) marshal() []byte {
	n := 16
	if s.ConfState != nil {
		n += s.ConfState.Size()
	}
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, s.Index)
	binary.LittleEndian.PutUint64(b[8:], s.Term)
	if s.ConfState != nil {
		if _, err := s.ConfState.MarshalToSizedBuffer(b[16:]); err != nil {
			panic(err) // sized exactly above; gogo only fails on a short buffer
		}
	}
	return b
}

func unmarshalSnapshot(b []byte) (Snapshot, error) {
	if len(b) < 16 {
		return Snapshot{}, fmt.Errorf("snapshot marker of %d bytes", len(b))
	}
	s := Snapshot{Index: binary.LittleEndian.Uint64(b), Term: binary.LittleEndian.Uint64(b[8:])}
	if len(b) > 16 {
		s.ConfState = &raftpb.ConfState{}
		if err := s.ConfState.Unmarshal(b[16:]); err != nil {
			return Snapshot{}, fmt.Errorf("snapshot marker conf state: %v", err)
		}
	}
	return s, nil
}
