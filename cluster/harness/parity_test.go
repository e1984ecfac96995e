package harness_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
	"etcdlab/engines"
	"etcdlab/internal/vfsutil"
)

// TestEngineParity is the guard of rule 1 (engine parity): every
// per-request path outside the engine's own reads and writes is O(1) and
// the same for every engine. It drives puts and linearizable gets through a
// 3-node in-process cluster on every engine and counts the file-system
// metadata calls (open, create, list, stat, remove, rename, lock) made by the
// WAL and snapshots (through the node's vfs seam) and by each engine (its
// Stats().FSMetadataOps: pebble through its vfs, bbolt through the calls the
// engine makes around the library). Requests may cost none: metadata work
// belongs to commits, flushes, compactions, segment cuts and snapshots, which
// are rare next to requests. Then it puts a few hundred unrelated files in
// every data directory and measures again: a path that lists a directory or
// stats its files would now cost more per request.
//
// The bug it was written for: the quota check asked pebble for its size on
// every put and txn, at proposal and again at apply on every member, and
// pebble's Size listed and stat'ed its directory, so pebble was measured
// 2.5–2.8× slower than it is.
func TestEngineParity(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	for _, eng := range engines.Names() {
		t.Run("engine="+eng, func(t *testing.T) {
			fs := vfsutil.NewMetaCountingFS(vfs.Default)
			node := fastNode(eng)
			node.FS = fs
			// etcd's batch interval: the commit rate (and so per-commit
			// work) that a real node has.
			node.Backend.BatchInterval = 0
			c := startCluster(t, 3, node, nil)
			waitLeader(t, c)
			cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
			ctx := ctxT(t)

			metaOps := func() int64 {
				total := fs.MetadataOps()
				for _, nd := range c.Nodes() {
					total += engineMetaOps(nd)
				}
				return total
			}
			phase := func(name string, base int) float64 {
				t.Helper()
				before := metaOps()
				drive(t, ctx, cl, base, n)
				per := float64(metaOps()-before) / float64(2*n)
				t.Logf("%s: %d puts + %d linearizable gets, %.4f file-system metadata calls per request", name, n, n, per)
				return per
			}
			drive(t, ctx, cl, 0, 50) // leader settled, first commits and file growth done
			few := phase("as opened", 0)
			for _, nd := range c.Nodes() {
				member := filepath.Join(c.NodeDir(nd.ID()), "member")
				for _, dir := range []string{filepath.Join(member, "engine"), filepath.Join(member, "wal"), filepath.Join(member, "snap")} {
					addJunk(t, dir, 300)
				}
			}
			many := phase("with 300 more files in every data directory", n)
			const maxPerRequest = 0.05
			if few > maxPerRequest || many > maxPerRequest {
				t.Errorf("%.4f and %.4f metadata calls per request, want at most %v: a per-request path touches the file system's namespace",
					few, many, maxPerRequest)
			}
			if many > few+0.02 {
				t.Errorf("metadata calls per request grew from %.4f to %.4f with the number of files: a per-request path lists or stats files", few, many)
			}
		})
	}
}

// drive runs n puts and n linearizable gets of keys base..base+n-1 from 8
// concurrent clients, failing the test on any error.
func drive(t *testing.T, ctx context.Context, cl *harness.Client, base, n int) {
	t.Helper()
	runParallel(t, 8, base, n, func(i int) error {
		if _, err := cl.Put(ctx, put(key(i), "value-of-some-length")); err != nil {
			return fmt.Errorf("put %d: %w", i, err)
		}
		if _, err := cl.Range(ctx, &pb.RangeRequest{Key: []byte(key(i))}); err != nil {
			return fmt.Errorf("linearizable get %d: %w", i, err)
		}
		return nil
	})
}

// engineMetaOps is the metadata calls of the node's engine so far (0 while
// the node has no store).
func engineMetaOps(n *cluster.Node) int64 {
	return n.StorageStats().Backend.Engine.FSMetadataOps
}

// addJunk creates count small files in dir that no component owns.
func addJunk(t *testing.T, dir string, count int) {
	t.Helper()
	for i := 0; i < count; i++ {
		p := filepath.Join(dir, fmt.Sprintf("parity-unrelated-%04d.txt", i))
		if err := os.WriteFile(p, []byte("not part of the store"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
