package plots

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"etcdlab/results"
)

// OpSpectrum is a spectrum line from the percentiles a result summary keeps
// for one op kind (p50, p90, p99, p99.9; the max is not a percentile and is
// left out). For the full curve draw the op's histogram instead.
func OpSpectrum(label string, op results.OpStats) SpectrumLine {
	return SpectrumLine{
		Label:         label,
		Percentiles:   []float64{50, 90, 99, 99.9},
		LatencyMicros: []float64{op.P50Us, op.P90Us, op.P99Us, op.P999Us},
	}
}

// RunSpectra returns one spectrum line per op kind of a run that completed
// operations, labelled "<label> <op>" and sorted by op name.
func RunSpectra(label string, r *results.Result) []SpectrumLine {
	ops := make([]string, 0, len(r.Ops))
	for op, st := range r.Ops {
		if st.Count > 0 {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops)
	lines := make([]SpectrumLine, 0, len(ops))
	for _, op := range ops {
		lines = append(lines, OpSpectrum(strings.TrimSpace(label+" "+op), r.Ops[op]))
	}
	return lines
}

// TimelineFromSamples builds a Timeline from a run's timeline.jsonl samples.
// With op "" it uses the all-ops figures of each interval, else that op
// kind's. A second without completed operations gets NaN latencies (a gap,
// not a zero). Events before the measured phase (negative time) are left
// out; with kinds given, only events of those kinds are kept (a run can log
// a backend commit every few milliseconds, too dense to draw).
func TimelineFromSamples(label string, samples []results.Sample, op string, kinds ...string) (Timeline, error) {
	tl := Timeline{Label: label}
	keep := map[string]bool{}
	for _, k := range kinds {
		keep[normKind(k)] = true
	}
	for i, s := range samples {
		switch s.Type {
		case "interval":
			count := s.Ops
			p50, p99, tp := s.P50Us, s.P99Us, s.OpsS
			if op != "" {
				st := s.PerOp[op]
				count, p50, p99 = st.Count, st.P50Us, st.P99Us
				if s.LengthS <= 0 {
					return Timeline{}, fmt.Errorf("%w: timeline sample %d at %vs has no interval length", ErrBadInput, i, s.T)
				}
				tp = float64(st.Count) / s.LengthS
			}
			if count == 0 {
				p50, p99 = math.NaN(), math.NaN()
			}
			tl.Seconds = append(tl.Seconds, s.T)
			tl.P50Micros = append(tl.P50Micros, p50)
			tl.P99Micros = append(tl.P99Micros, p99)
			tl.Throughput = append(tl.Throughput, tp)
		case "event":
			if s.T < 0 || len(keep) > 0 && !keep[normKind(s.Kind)] {
				continue
			}
			detail := s.Detail
			if s.Node != 0 {
				detail = strings.TrimSpace(fmt.Sprintf("node %d %s", s.Node, s.Detail))
			}
			tl.Events = append(tl.Events, Event{Second: s.T, Kind: s.Kind, Label: detail})
		}
	}
	if len(tl.Seconds) == 0 {
		return Timeline{}, fmt.Errorf("%w: no interval samples for %q", ErrNoData, label)
	}
	return tl, nil
}
