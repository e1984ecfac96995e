// Package testseed gives randomized tests one -seed flag and one way to pick,
// log and replay a seed. Import it only from tests: importing it registers
// the -seed flag in the test binary.
package testseed

import (
	crand "crypto/rand"
	"encoding/binary"
	"flag"
	"math/rand/v2"
	"testing"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0 picks one and logs it)")

// Seed returns the -seed flag, or a fresh random seed when it is 0, and logs
// it so that a failure can be replayed with -seed.
func Seed(t testing.TB) uint64 {
	t.Helper()
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

// RNG returns a PCG source derived from seed.
func RNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
