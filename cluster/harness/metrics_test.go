package harness_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestMetricsPerNode: the nodes of one in-process cluster keep apart
// registries, each reporting its own member; the leader times its
// heartbeats' round trips to each follower (etcd's peer RTT, with etcd's
// buckets and a To label per peer).
func TestMetricsPerNode(t *testing.T) {
	c := startCluster(t, 3, fastNode("memory"), nil)
	leader := c.Node(waitLeader(t, c))
	rtt := func() *dto.MetricFamily {
		fams, err := leader.Metrics().GatherServer()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == "etcd_network_peer_round_trip_time_seconds" && len(f.GetMetric()) == 2 {
				return f
			}
		}
		return nil
	}
	waitFor(t, "round trips to both followers", 20*time.Second, func() bool { return rtt() != nil })
	f := rtt()
	if f.GetType() != dto.MetricType_HISTOGRAM || f.GetMetric()[0].GetLabel()[0].GetName() != "To" {
		t.Errorf("peer RTT: %v", f)
	}
	if got, want := bounds(f.GetMetric()[0]), prometheus.ExponentialBuckets(0.0001, 2, 16); !reflect.DeepEqual(got, want) {
		t.Errorf("peer RTT buckets %v, etcd's %v", got, want)
	}
	ids := make(map[string]bool)
	leaders := 0.0
	for _, n := range c.Nodes() {
		fams, err := n.Metrics().GatherServer()
		if err != nil {
			t.Fatal(err)
		}
		byName := make(map[string]*dto.MetricFamily)
		for _, f := range fams {
			byName[f.GetName()] = f
		}
		if byName["go_goroutines"] != nil {
			t.Error("GatherServer includes the Go collector")
		}
		ids[byName["etcd_server_id"].GetMetric()[0].GetLabel()[0].GetValue()] = true
		leaders += value(t, byName, "etcd_server_is_leader")
	}
	if len(ids) != 3 || leaders != 1 {
		t.Fatalf("server IDs %v, leaders %v: want 3 distinct IDs and one leader", ids, leaders)
	}
}
