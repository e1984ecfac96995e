package mvcc

import (
	"etcdlab/internal/clock"
	"flag"
	"math/rand/v2"
	"testing"

	"etcdlab/engines"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"etcdlab/engines/backend"
	"etcdlab/engines/engine"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the randomized mvcc tests (0: derived from the time, then logged)")

// testSeed returns the -seed flag or a fresh seed, logged so a failure can be
// replayed with -seed.
func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(clock.Real().Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed=%d)", s, s)
	return s
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// testEngineNames are the engines the mvcc tests run on: every registered one.
func testEngineNames() []string { return engines.Names() }

func openEngine(t testing.TB, name, dir string) engine.Engine {
	t.Helper()
	e, err := engines.Open(name, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// openStore opens an engine in dir, a backend over it and a store over that.
// Tests use NoSync: what is tested is the store's logic, not fsync.
func openStore(t testing.TB, name, dir string, cfg Config) *Store {
	t.Helper()
	b, err := backend.New(openEngine(t, name, dir), backend.Config{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(b, cfg)
	if err != nil {
		_ = b.Close()
		t.Fatal(err)
	}
	return s
}

func mvccKV(key string, mod, create, ver int64) *mvccpb.KeyValue {
	return &mvccpb.KeyValue{Key: []byte(key), ModRevision: mod, CreateRevision: create, Version: ver}
}
