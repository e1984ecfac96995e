package engines_test

import (
	"testing"

	"etcdlab/engines"
	"etcdlab/engines/enginetest"
)

// BenchmarkEngines runs the engine benchmark suite on every engine with its
// default options: engine=NAME/op=.../keys=.../value=256.
func BenchmarkEngines(b *testing.B) {
	for _, name := range engines.Names() {
		b.Run("engine="+name, func(b *testing.B) {
			enginetest.Bench(b, func(b *testing.B, dir string) engines.Engine {
				e, err := engines.Open(name, dir, nil)
				if err != nil {
					b.Fatalf("engines.Open(%s): %v", name, err)
				}
				return e
			})
		})
	}
}
