package harness_test

import (
	"testing"

	"etcdlab/cluster/harness"
)

// TestTCPCluster runs three nodes over TCP on 127.0.0.1 through the
// harness (RunNode's test is in cluster/server).
func TestTCPCluster(t *testing.T) {
	c := startCluster(t, 3, fastNode("memory"), func(o *harness.Options) { o.TCP = true })
	waitLeader(t, c)
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyRoundRobin})
	ctx := ctxT(t)
	for i := 0; i < 30; i++ {
		if _, err := cl.Put(ctx, put(key(i), "v")); err != nil {
			t.Fatal(err)
		}
	}
	checkConverged(t, c)
}
