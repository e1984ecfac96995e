package results

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// timeline builds n one-second interval samples, with an event sample
// between each (ignored), the figures at second i from fill.
func timeline(n int, fill func(i int, s *Sample)) []Sample {
	var out []Sample
	for i := range n {
		s := Sample{Type: SampleInterval, T: float64(i), LengthS: 1, Extra: map[string]float64{}}
		fill(i, &s)
		out = append(out, s, Sample{Type: SampleEvent, T: float64(i) + 0.5, Kind: "backend-commit"})
	}
	return out
}

// noise is a deterministic wobble in [-1, 1].
func noise(i int) float64 { return math.Sin(float64(i) * 2.7) }

// cycle is the measured run's L0 sublevels, second by second: 0 or 1.
func cycle(i int) float64 {
	const measured = "1101010101100100000000001000000000000001111110000000101111111111"
	return float64(measured[i%len(measured)] - '0')
}

func pebble(l0, debt func(i int) float64) func(int, *Sample) {
	return func(i int, s *Sample) {
		s.Extra[ExtraPebbleL0Sublevels] = l0(i)
		s.Extra[ExtraPebbleDebt] = debt(i)
	}
}

func bbolt(hwm, live func(i int) float64) func(int, *Sample) {
	return func(i int, s *Sample) {
		s.DBQuotaSize, s.DBSizeInUse = int64(hwm(i)), int64(live(i))
		s.Extra[ExtraBBoltHWM] = hwm(i)
	}
}

func TestSteadyStateOf(t *testing.T) {
	const gb = 1e9
	flat := func(v float64) func(int) float64 { return func(int) float64 { return v } }
	for _, c := range []struct {
		name    string
		samples []Sample
		verdict string
		reason  string // a part of Reason
	}{
		{"pebble flat with noise", timeline(90, pebble(
			func(i int) float64 { return 3 + 2*noise(i) },
			func(i int) float64 { return 500e6 + 200e6*noise(i+1) })), SteadyReached, "no trend"},
		{"pebble L0 rising", timeline(90, pebble(
			func(i int) float64 { return float64(i) / 4 },
			flat(300e6))), SteadyNotReached, "pebble.l0.sublevels rose"},
		{"pebble debt falling after the preload", timeline(90, pebble(
			flat(2),
			func(i int) float64 { return 3 * gb * (1 - float64(i)/100) })), SteadyNotReached, "pebble.compaction_debt_bytes fell"},
		{"pebble debt near zero under the floor", timeline(60, pebble(
			flat(0),
			func(i int) float64 { return float64(i) * 100e3 })), SteadyReached, "no trend"},
		{"pebble slow rise within 20% of the mean", timeline(60, pebble(
			func(i int) float64 { return 10 + float64(i)/40 },
			flat(1e9))), SteadyReached, "no trend"},
		// Measured (1 GB preload, 60 s of ycsb-a through a 1-node cluster):
		// L0 and debt switch between empty and one compaction's worth,
		// more often at the end; a cycle, not a trend.
		{"pebble flush and compaction cycle", timeline(60, pebble(
			func(i int) float64 { return cycle(i) },
			func(i int) float64 { return 75e6 * cycle(i) })), SteadyReached, "no trend"},
		{"pebble run too short", timeline(20, pebble(flat(1), flat(1))), SteadyUnknown, "fewer than 10"},
		{"pebble debt missing", timeline(60, func(i int, s *Sample) { s.Extra[ExtraPebbleL0Sublevels] = 1 }), SteadyUnknown, "missing"},
		{"bbolt grows with its live data", timeline(90, bbolt(
			func(i int) float64 { return 2*gb + float64(i)*20e6 },
			func(i int) float64 { return 1.8*gb + float64(i)*20e6 })), SteadyReached, "btree-growth"},
		{"bbolt grows while live data is flat", timeline(90, bbolt(
			func(i int) float64 { return 2*gb + float64(i)*10e6 },
			flat(1.5*gb))), SteadyNotReached, "db_quota_size_bytes rose"},
		{"bbolt flat, live data shrinking", timeline(90, bbolt(
			flat(2*gb),
			func(i int) float64 { return 1.5*gb - float64(i)*1e6 })), SteadyReached, "no trend"},
		{"no engine figures, no criterion", timeline(90, func(i int, s *Sample) { s.DBQuotaSize, s.DBSizeInUse = 1e6, 1e6 }), SteadyUnknown, "no steady-state criterion"},
		{"no samples", nil, SteadyUnknown, "no interval samples"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := SteadyStateOf(c.samples)
			if _, err := json.Marshal(got); err != nil {
				t.Fatalf("result.json cannot hold the verdict: %v", err)
			}
			if got.Verdict != c.verdict || !strings.Contains(got.Reason, c.reason) {
				t.Fatalf("verdict %q (%s), want %q with %q; series %+v", got.Verdict, got.Reason, c.verdict, c.reason, got.Series)
			}
			if c.verdict == SteadyUnknown {
				return
			}
			n := len(c.samples) / 2
			if got.Samples < n/3 || got.Samples > n/3+1 || got.WindowEndS != float64(n) || math.Abs(got.WindowStartS-float64(n)*2/3) > 1e-9 {
				t.Fatalf("window [%v, %v] with %d samples, want the last third of %d s", got.WindowStartS, got.WindowEndS, got.Samples, n)
			}
			if len(got.Series) != 2 {
				t.Fatalf("series %+v", got.Series)
			}
		})
	}
}

// TestSteadyCompareExact: the windows' means, their shift and its
// standard error, on a noiseless ramp.
func TestSteadyCompareExact(t *testing.T) {
	got := SteadyStateOf(timeline(60, pebble(
		func(i int) float64 { return 5 + 0.5*float64(i) },
		func(int) float64 { return 1e9 })))
	l0 := got.Series[0]
	// The last third [40 s, 60 s] holds the samples read at 40..60 s
	// (seconds 39..59), the middle third those read at 20..39 s (19..38).
	se := math.Sqrt(0.25*21*22/12/21 + 0.25*20*21/12/20)
	if math.Abs(l0.Mean-29.5) > 1e-9 || math.Abs(l0.PrevMean-19.25) > 1e-9 || math.Abs(l0.Change-10.25) > 1e-9 || math.Abs(l0.ChangeSE-se) > 1e-9 {
		t.Fatalf("l0 %+v, want means 19.25 -> 29.5, standard error %v", l0, se)
	}
	if math.Abs(l0.Allowed-0.2*29.5) > 1e-9 || l0.Stable || got.Verdict != SteadyNotReached {
		t.Fatalf("allowed %v stable %v verdict %s", l0.Allowed, l0.Stable, got.Verdict)
	}
}
