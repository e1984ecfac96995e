package engines_test

import (
	"io"
	"testing"

	"etcdlab/engines"
	"etcdlab/engines/backend"
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

// batched wraps an engine in the batching layer (engines/backend) and
// presents it as an engine again, so the same suite checks that the layer
// keeps every promise of the contract: reads of applied-but-uncommitted
// writes, isolated views, durability at Close, images and reclaim.
func batched(name string) enginetest.Harness {
	wrap := func(t *testing.T, e engines.Engine) engines.Engine {
		t.Helper()
		b, err := backend.New(e, backend.Config{})
		if err != nil {
			t.Fatalf("backend.New over %s: %v", name, err)
		}
		return b.AsEngine()
	}
	h := harness(name)
	return enginetest.Harness{
		Open: func(t *testing.T, dir string) engines.Engine { return wrap(t, h.Open(t, dir)) },
		OpenImage: func(t *testing.T, r io.Reader, dir string) (engines.Engine, error) {
			e, err := h.OpenImage(t, r, dir)
			if err != nil {
				return nil, err
			}
			return wrap(t, e), nil
		},
	}
}

func TestConformanceBatched(t *testing.T) {
	for _, name := range engines.Names() {
		t.Run("engine="+name, batched(name).Run)
	}
}
