package report

import (
	"testing"

	"etcdlab/results"
)

// TestK8sFields: the k8s driver's figures go into summary.csv, its
// compactions as a count, errors and mean and longest time.
func TestK8sFields(t *testing.T) {
	r := results.New()
	r.K8s = &results.K8sResult{Ops: map[string]int64{"update": 5}, Conflicts: 2, LiveLogicalBytes: 1000,
		Compactions: []results.K8sCompaction{{DurationS: 1}, {DurationS: 3, Error: "etcdserver: mvcc: required revision has been compacted"}}}
	f := Fields(r)
	for k, want := range map[string]float64{"k8s.ops.update": 5, "k8s.conflicts": 2, "k8s.live_logical_bytes": 1000,
		"k8s.compactions.count": 2, "k8s.compactions.errors": 1, "k8s.compactions.mean_s": 2, "k8s.compactions.max_s": 3} {
		if got, ok := f[k].(float64); !ok || got != want {
			t.Errorf("%s = %v, want %v", k, f[k], want)
		}
	}
	if _, ok := f["k8s.compactions"]; ok {
		t.Error("the compactions' list is a field")
	}
}
