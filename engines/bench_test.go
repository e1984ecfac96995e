package engines_test

import (
	"testing"

	"etcdlab/engines"
	"etcdlab/engines/backend"
	"etcdlab/engines/enginetest"
)

// BenchmarkEngines runs the engine benchmark suite on every engine with its
// default options, directly (layer=raw) and through etcd's batching layer
// (layer=batched): engine=NAME/layer=.../op=.../keys=.../value=256.
//
// The batch-put rate of issue 2 (1,000,000 random 8-byte keys, 256-byte
// values, batches of 1000) is
//
//	go test -run XXX -bench 'Engines//layer=raw/op=put-batch/keys=rand' -benchtime 1000x ./engines/
func BenchmarkEngines(b *testing.B) {
	for _, name := range engines.Names() {
		open := func(b *testing.B, dir string) engines.Engine {
			e, err := engines.Open(name, dir, nil)
			if err != nil {
				b.Fatalf("engines.Open(%s): %v", name, err)
			}
			return e
		}
		b.Run("engine="+name+"/layer=raw", func(b *testing.B) { enginetest.Bench(b, open) })
		b.Run("engine="+name+"/layer=batched", func(b *testing.B) {
			enginetest.Bench(b, func(b *testing.B, dir string) engines.Engine {
				be, err := backend.New(open(b, dir), backend.Config{})
				if err != nil {
					b.Fatal(err)
				}
				return be.AsEngine()
			})
		})
	}
}
