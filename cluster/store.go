package cluster

import (
	"encoding/binary"
	"fmt"
	"os"

	"etcdlab/engines"
	"etcdlab/engines/backend"
	"etcdlab/lease"
	"etcdlab/mvcc"
)

// openStore opens the node's engine and its batching backend, then the
// lessor and the MVCC store over it (storeOver).
func openStore(o NodeOptions, dir string, bcfg backend.Config) (*mvcc.Store, *lease.Lessor, error) {
	be, err := openBackend(o, dir, bcfg)
	if err != nil {
		return nil, nil, err
	}
	return storeOver(o, be)
}

func openBackend(o NodeOptions, dir string, bcfg backend.Config) (*backend.Backend, error) {
	open := engines.Open
	if o.openEngine != nil {
		open = o.openEngine
	}
	eng, err := open(o.Engine, dir, o.EngineOptions)
	if err != nil {
		return nil, fmt.Errorf("cluster: open engine %s: %w", o.Engine, err)
	}
	return backendOver(o, eng, bcfg)
}

func backendOver(o NodeOptions, eng engines.Engine, bcfg backend.Config) (*backend.Backend, error) {
	if o.WrapEngine != nil {
		eng = o.WrapEngine(eng)
	}
	be, err := backend.New(eng, bcfg)
	if err != nil {
		_ = eng.Close()
		return nil, fmt.Errorf("cluster: backend: %w", err)
	}
	return be, nil
}

// lessorConfig is etcd's: the minimum TTL from the election timeout
// (lease.MinTTL), expiry on the node's clock.
func lessorConfig(o NodeOptions) lease.Config {
	return lease.Config{MinLeaseTTL: lease.MinTTL(o.ElectionTicks, o.TickInterval), Clock: o.Clock}
}

// storeOver opens the lessor and the MVCC store over be in etcd's order
// (server.go NewServer): the lessor first, loading the lease bucket, then the
// store, which attaches every live key to its lease while it rebuilds the
// index; the lessor then deletes keys through the store.
func storeOver(o NodeOptions, be *backend.Backend) (*mvcc.Store, *lease.Lessor, error) {
	le, err := lease.New(be, lessorConfig(o))
	if err != nil {
		_ = be.Close()
		return nil, nil, fmt.Errorf("cluster: lessor: %w", err)
	}
	st, err := mvcc.Open(be, mvcc.Config{MaxRequestBytes: o.MaxRequestBytes, Clock: o.Clock, Lessor: le, OnCompacted: o.onCompacted})
	if err != nil {
		le.Close()
		_ = be.Close()
		return nil, nil, fmt.Errorf("cluster: mvcc: %w", err)
	}
	le.SetDeleter(st)
	le.SetTxHook(st.AdoptApplying)
	return st, le, nil
}

// imageBackend replaces the engine directory with the backend image at path
// (a snapshot received from the leader) and opens a backend over it. The
// image file stays until a newer snapshot supersedes it, so a crash during
// the swap is repaired on restart by installing it again. The engine that
// used dir must be closed first.
func imageBackend(o NodeOptions, dir, path string, bcfg backend.Config) (*backend.Backend, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("cluster: remove old engine dir: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: open snapshot image: %w", err)
	}
	defer f.Close()
	eng, err := engines.OpenImage(o.Engine, f, dir, o.EngineOptions)
	if err != nil {
		return nil, fmt.Errorf("cluster: install snapshot image %s: %w", path, err)
	}
	return backendOver(o, eng, bcfg)
}

// installImage opens the lessor and store over a snapshot's backend image
// (imageBackend), for a restart that finds the backend behind its snapshot.
func installImage(o NodeOptions, dir, path string, bcfg backend.Config) (*mvcc.Store, *lease.Lessor, error) {
	be, err := imageBackend(o, dir, path, bcfg)
	if err != nil {
		return nil, nil, err
	}
	return storeOver(o, be)
}

// Conf-change context: 8-byte request ID (0 for bootstrap) then the member's
// address.
func encodeConfContext(id uint64, addr string) []byte {
	b := make([]byte, 8+len(addr))
	binary.BigEndian.PutUint64(b, id)
	copy(b[8:], addr)
	return b
}

func decodeConfContext(b []byte) (id uint64, addr string) {
	if len(b) < 8 {
		return 0, ""
	}
	return binary.BigEndian.Uint64(b), string(b[8:])
}
