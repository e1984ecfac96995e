package harness_test

import (
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestReplication: on 1, 3 and 5 nodes a leader is elected, puts through
// every node (followers forward to the leader) are applied everywhere, and
// both read consistencies see them.
func TestReplication(t *testing.T) {
	for _, nodes := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("nodes=%d", nodes), func(t *testing.T) {
			if nodes == 5 && testing.Short() {
				t.Skip("5 nodes: long mode only")
			}
			c := startCluster(t, nodes, fastNode("bbolt"), nil)
			waitLeader(t, c)
			ctx := ctxT(t)
			const n = 50
			for i := 0; i < n; i++ {
				node := c.Nodes()[i%nodes]
				resp, err := node.Put(ctx, put(key(i), fmt.Sprint(i)))
				if err != nil {
					t.Fatalf("put %d via node %d: %v", i, node.ID(), err)
				}
				if resp.Header.Revision != int64(i+2) {
					t.Fatalf("put %d: revision %d, want %d", i, resp.Header.Revision, i+2)
				}
			}
			for _, node := range c.Nodes() {
				r, err := node.Range(ctx, &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")})
				if err != nil {
					t.Fatalf("linearizable range on %d: %v", node.ID(), err)
				}
				if r.Count != n {
					t.Fatalf("node %d: linearizable count %d, want %d", node.ID(), r.Count, n)
				}
			}
			checkConverged(t, c)
			for _, node := range c.Nodes() {
				r, err := node.Range(ctx, &pb.RangeRequest{Key: []byte(key(n - 1)), Serializable: true})
				if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != fmt.Sprint(n-1) {
					t.Fatalf("node %d serializable: %v %v", node.ID(), r, err)
				}
			}
		})
	}
}
