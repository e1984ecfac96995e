package report

import (
	"testing"

	"etcdlab/results"
)

func TestSteadyFields(t *testing.T) {
	r := results.New()
	r.SteadyState = &results.SteadyState{Verdict: results.SteadyNotReached, Criterion: "lsm",
		Series: []results.SteadySeries{{Name: results.ExtraPebbleL0Sublevels, PrevMean: 1, Mean: 5, Change: 4, Allowed: 2}}}
	f := Fields(r)
	p := "steady_state." + results.ExtraPebbleL0Sublevels + "."
	if f["steady_state.verdict"] != results.SteadyNotReached || f["steady_state.criterion"] != "lsm" || f[p+"change"] != 4.0 || f[p+"allowed"] != 2.0 || f[p+"prev_mean"] != 1.0 {
		t.Fatalf("fields %v", f)
	}
	if _, ok := Fields(results.New())["steady_state.verdict"]; ok {
		t.Fatal("a verdict column without a verdict")
	}
}
