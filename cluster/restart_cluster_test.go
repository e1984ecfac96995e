package cluster_test

import (
	"path/filepath"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/engines/backend"
)

// TestRestartReplay: the backend never commits on its own (huge batch
// interval and limit), so a kill loses every applied write from the engine;
// the restart must replay them from the WAL exactly once (version 1 each,
// same revision), and a clean restart after that must replay nothing twice.
func TestRestartReplay(t *testing.T) {
	for _, engine := range []string{"bbolt", "pebble"} {
		t.Run("engine="+engine, func(t *testing.T) {
			node := fastNode(engine)
			node.Backend.BatchInterval = time.Hour
			node.Backend.BatchLimit = 1 << 30
			c := startCluster(t, 1, node, nil)
			waitLeader(t, c)
			ctx := ctxT(t)
			const n = 300
			for i := 0; i < n; i++ {
				if _, err := c.Node(1).Put(ctx, put(key(i), "v")); err != nil {
					t.Fatal(err)
				}
			}
			rev := c.Node(1).Rev()
			h0, _, err := c.Node(1).Hash(0)
			if err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				t.Helper()
				waitLeader(t, c)
				nd := c.Node(1)
				waitFor(t, "replay", 10*time.Second, func() bool { return nd.Rev() >= rev })
				r, err := nd.Range(ctx, &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")})
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Kvs) != n {
					t.Fatalf("%s: %d keys, want %d", when, len(r.Kvs), n)
				}
				for _, kv := range r.Kvs {
					if kv.Version != 1 {
						t.Fatalf("%s: %s version %d: applied twice", when, kv.Key, kv.Version)
					}
				}
				h, _, err := nd.Hash(rev)
				if err != nil {
					t.Fatal(err)
				}
				if h.Hash != h0.Hash {
					t.Fatalf("%s: hash %x, want %x", when, h.Hash, h0.Hash)
				}
			}
			applied := c.Node(1).AppliedIndex()
			if err := c.Kill(1); err != nil {
				t.Fatal(err)
			}
			// The kill lost the uncommitted backend writes: the replay below
			// really has work to do.
			o := node
			o.EnsureDefaults()
			st, le, err := cluster.OpenStore(o, filepath.Join(c.NodeDir(1), "member", "engine"), backend.Config{})
			if err != nil {
				t.Fatal(err)
			}
			ci, _ := st.ConsistentIndex()
			le.Close()
			_ = st.Close()
			if ci >= applied {
				t.Fatalf("backend consistent index %d after kill; the kill kept everything (applied %d)", ci, applied)
			}
			if err := c.Restart(1); err != nil {
				t.Fatal(err)
			}
			check("after kill")
			if got := c.Node(1).Rev(); got != rev {
				t.Fatalf("revision %d after replay, want %d", got, rev)
			}
			if err := c.Stop(1); err != nil {
				t.Fatal(err)
			}
			if err := c.Restart(1); err != nil {
				t.Fatal(err)
			}
			check("after clean restart")
		})
	}
}
