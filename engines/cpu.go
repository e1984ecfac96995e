package engines

import (
	"etcdlab/engines/bbolt"
	"etcdlab/engines/memory"
	"etcdlab/engines/pebble"
)

// CodePackages returns the Go package path prefixes whose functions are
// engine name's own work: the engine's library and etcdlab's adapter for it.
// A CPU profile sample with any of them on its stack is the engine's work;
// the bench uses this to split a run's CPU into the engine's share and the
// rest of the pipeline's (the batching layer, engines/backend, is shared
// code and not in any engine's list).
func CodePackages(name string) ([]string, error) {
	if _, err := lookup(name); err != nil {
		return nil, err
	}
	switch name {
	case bbolt.Name:
		return []string{"go.etcd.io/bbolt.", "etcdlab/engines/bbolt."}, nil
	case pebble.Name:
		return []string{"github.com/cockroachdb/", "etcdlab/engines/pebble."}, nil
	case memory.Name:
		return []string{"etcdlab/engines/memory."}, nil
	}
	return nil, nil
}
