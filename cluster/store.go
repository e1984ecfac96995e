package cluster

import (
	"encoding/binary"
	"fmt"
	"os"

	"etcdlab/engines"
	"etcdlab/engines/backend"
	"etcdlab/mvcc"
)

// openStore opens the node's engine, its batching backend and the MVCC store
// (which rebuilds the index by scanning the key bucket).
func openStore(o NodeOptions, dir string, bcfg backend.Config) (*mvcc.Store, error) {
	open := engines.Open
	if o.openEngine != nil {
		open = o.openEngine
	}
	eng, err := open(o.Engine, dir, o.EngineOptions)
	if err != nil {
		return nil, fmt.Errorf("cluster: open engine %s: %w", o.Engine, err)
	}
	return storeOver(o, eng, bcfg)
}

func storeOver(o NodeOptions, eng engines.Engine, bcfg backend.Config) (*mvcc.Store, error) {
	if o.WrapEngine != nil {
		eng = o.WrapEngine(eng)
	}
	be, err := backend.New(eng, bcfg)
	if err != nil {
		_ = eng.Close()
		return nil, fmt.Errorf("cluster: backend: %w", err)
	}
	st, err := mvcc.Open(be, mvcc.Config{MaxRequestBytes: o.MaxRequestBytes, Clock: o.Clock})
	if err != nil {
		_ = be.Close()
		return nil, fmt.Errorf("cluster: mvcc: %w", err)
	}
	return st, nil
}

// installImage replaces the engine directory with the backend image at path
// (a snapshot received from the leader). The image file stays until a newer
// snapshot supersedes it, so a crash during the swap is repaired on restart
// by installing it again.
func installImage(o NodeOptions, dir, path string, bcfg backend.Config) (*mvcc.Store, error) {
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
	return storeOver(o, eng, bcfg)
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
