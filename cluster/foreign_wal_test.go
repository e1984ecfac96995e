package cluster_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/cluster"
	"etcdlab/cluster/transport"
)

// TestForeignWAL: a data dir whose WAL belongs to another member is refused
// with a clear error instead of joining the cluster under the wrong ID.
func TestForeignWAL(t *testing.T) {
	c := startCluster(t, 1, fastNode("memory"), nil)
	waitLeader(t, c)
	if err := c.Stop(1); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "other")
	if err := os.Rename(c.NodeDir(1), dir); err != nil {
		t.Fatal(err)
	}
	o := fastNode("memory")
	o.ID, o.Dir, o.Peers = 2, dir, []cluster.Peer{{ID: 2}}
	nw, err := transport.NewNetwork(transport.NetworkOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cluster.StartNode(o, func(h transport.Handler) (transport.Transport, error) { return nw.Join(2, h), nil })
	if err == nil || !strings.Contains(err.Error(), "belongs to another member") {
		t.Fatalf("foreign WAL: %v", err)
	}
}
