package wal

import (
	"math/rand/v2"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/internal/testseed"
)

// testSeed: the shared -seed flag (internal/testseed).
func testSeed(t testing.TB) uint64 { t.Helper(); return testseed.Seed(t) }

func newRNG(seed uint64) *rand.Rand { return testseed.RNG(seed) }

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(255) + 1) // never zero: a zero sector means torn
	}
	return b
}

// makeEnts returns n entries from index first at term, each with size
// bytes of data.
func makeEnts(rng *rand.Rand, first, term uint64, n, size int) []raftpb.Entry {
	ents := make([]raftpb.Entry, n)
	for i := range ents {
		ents[i] = raftpb.Entry{Index: first + uint64(i), Term: term, Type: raftpb.EntryNormal, Data: randBytes(rng, size)}
	}
	return ents
}

func entsEqual(a, b []raftpb.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Index != b[i].Index || a[i].Term != b[i].Term || a[i].Type != b[i].Type || string(a[i].Data) != string(b[i].Data) {
			return false
		}
	}
	return true
}
