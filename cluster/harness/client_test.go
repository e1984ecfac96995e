package harness_test

import (
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster/harness"
)

// TestClientPolicies: every policy reaches the data; the leader policy
// retries across a leader's death (the put lands on the new leader).
func TestClientPolicies(t *testing.T) {
	c := startCluster(t, 3, fastNode("memory"), nil)
	waitLeader(t, c)
	ctx := ctxT(t)
	seed := testSeed(t)
	for _, p := range []harness.Policy{harness.PolicyLeader, harness.PolicyRoundRobin, harness.PolicyRandom} {
		cl := c.Client(harness.ClientOptions{Policy: p, Seed: seed})
		if _, err := cl.Put(ctx, put("p-"+p.String(), "v")); err != nil {
			t.Fatalf("%s: put: %v", p, err)
		}
		for _, serializable := range []bool{false, true} {
			if _, err := cl.Range(ctx, &pb.RangeRequest{Key: []byte("p-" + p.String()), Serializable: serializable}); err != nil {
				t.Fatalf("%s: range: %v", p, err)
			}
		}
	}
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
	if err := c.Kill(c.Leader()); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(ctx, put("after-kill", "v")); err != nil {
		t.Fatalf("put across a leader's death: %v", err)
	}
	r, err := cl.Range(ctx, &pb.RangeRequest{Key: []byte("after-kill")})
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("linearizable read after the new leader: %v %v", r, err)
	}
}
