package wal

import (
	crand "crypto/rand"
	"encoding/binary"
	"flag"
	"math/rand/v2"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0 picks one and logs it)")

// testSeed returns the -seed flag or a fresh random seed, and logs it so a
// failure can be replayed.
func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		var b [8]byte
		if _, err := crand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		s = binary.LittleEndian.Uint64(b[:])
	}
	t.Logf("seed=%d (rerun with -seed=%d)", s, s)
	return s
}

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

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
