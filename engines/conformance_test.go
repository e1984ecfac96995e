package engines_test

import (
	"io"
	"testing"

	"etcdlab/engines"
	"etcdlab/engines/enginetest"
)

// harness reaches engine name through the registry with default options, so
// the conformance run also covers Open and OpenImage of the registry.
func harness(name string) enginetest.Harness {
	return enginetest.Harness{
		Open: func(t *testing.T, dir string) engines.Engine {
			t.Helper()
			e, err := engines.Open(name, dir, nil)
			if err != nil {
				t.Fatalf("engines.Open(%s, %s): %v", name, dir, err)
			}
			return e
		},
		OpenImage: func(t *testing.T, r io.Reader, dir string) (engines.Engine, error) {
			return engines.OpenImage(name, r, dir, nil)
		},
	}
}

func TestConformance(t *testing.T) {
	for _, name := range engines.Names() {
		t.Run("engine="+name, harness(name).Run)
	}
}
