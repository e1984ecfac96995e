package plots

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"sort"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"etcdlab/internal/event"
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

// RunDirSpectra returns one spectrum line per op kind of the run in dir,
// drawn from the full histograms of its latency.hlog (every interval
// merged), so the curve reaches as far into the tail as the sample count
// allows. A run directory without a log gets RunSpectra's four summary
// percentiles instead; a log that cannot be read is an error.
func RunDirSpectra(label, dir string, r *results.Result) ([]SpectrumLine, error) {
	hs, err := results.ReadHistLog(filepath.Join(dir, results.LatencyLogFile))
	if errors.Is(err, fs.ErrNotExist) {
		return RunSpectra(label, r), nil
	}
	if err != nil {
		return nil, err
	}
	ops := make([]string, 0, len(hs))
	for op, h := range hs {
		if h.TotalCount() > 0 {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops)
	lines := make([]SpectrumLine, 0, len(ops))
	for _, op := range ops {
		lines = append(lines, SpectrumLine{Label: strings.TrimSpace(label + " " + op), Hist: hs[op], HistUnit: results.HistLogUnit})
	}
	return lines, nil
}

// RunDirAllOps is one spectrum line over every op kind of the run in dir:
// the merged histograms of its latency.hlog, or, without a log, the four
// percentiles of the result's all-ops summary.
func RunDirAllOps(label, dir string, r *results.Result) (SpectrumLine, error) {
	hs, err := results.ReadHistLog(filepath.Join(dir, results.LatencyLogFile))
	if errors.Is(err, fs.ErrNotExist) {
		l := r.Summary.Latency
		return OpSpectrum(label, results.OpStats{P50Us: l.P50Us, P90Us: l.P90Us, P99Us: l.P99Us, P999Us: l.P999Us}), nil
	}
	if err != nil {
		return SpectrumLine{}, err
	}
	var all *hdrhistogram.Histogram
	for _, h := range hs {
		if all == nil {
			all = hdrhistogram.Import(h.Export())
			continue
		}
		if dropped := all.Merge(h); dropped > 0 {
			return SpectrumLine{}, fmt.Errorf("%w: %s: %d values outside the histogram range", ErrBadInput, dir, dropped)
		}
	}
	if all == nil {
		return SpectrumLine{}, fmt.Errorf("%w: %s: the latency log holds no histogram", ErrNoData, dir)
	}
	return SpectrumLine{Label: label, Hist: all, HistUnit: results.HistLogUnit}, nil
}

// TimelineFromSamples builds a Timeline from a run's timeline.jsonl samples.
// With op "" it uses the all-ops figures of each interval, else that op
// kind's. A second without completed operations gets NaN latencies (a gap,
// not a zero). Events before the measured phase (negative time) are left
// out; with kinds given, only events of those kinds are kept (a run can log
// a backend commit every few milliseconds, too dense to draw). Fault
// samples become bands (instant ones, such as a restart, events), and so do
// the timed events (compactions, defrags: event.Timed).
func TimelineFromSamples(label string, samples []results.Sample, op string, kinds ...string) (Timeline, error) {
	tl := Timeline{Label: label}
	watch := false
	keep := map[string]bool{}
	for _, k := range kinds {
		keep[normKind(k)] = true
	}
	for i, s := range samples {
		switch s.Type {
		case results.SampleInterval:
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
			wp99 := s.WatchEventP99Us
			if s.WatchEvents == 0 {
				wp99 = math.NaN()
			}
			tl.WatchLag = append(tl.WatchLag, float64(s.WatchLagRevs))
			tl.WatchP99Micros = append(tl.WatchP99Micros, wp99)
			watch = watch || s.WatchEvents > 0 || s.WatchLagRevs > 0 || s.WatchLagMeanRevs > 0
		case results.SampleFault:
			if s.EndS > s.T {
				tl.Bands = append(tl.Bands, Band{Start: s.T, End: s.EndS, Kind: s.Kind, Label: s.Detail})
			} else {
				tl.Events = append(tl.Events, Event{Second: s.T, Kind: s.Kind, Label: s.Detail})
			}
		case results.SampleEvent:
			if len(keep) > 0 && !keep[normKind(s.Kind)] {
				continue
			}
			if event.Timed(s.Kind) && s.EndS > s.T {
				// A compaction or defrag spans a time: a band, kept
				// when it reaches into the measured phase.
				if s.EndS > 0 {
					tl.Bands = append(tl.Bands, Band{Start: math.Max(s.T, 0), End: s.EndS, Kind: s.Kind, Label: s.Detail})
				}
				continue
			}
			if s.T < 0 {
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
	if !watch {
		tl.WatchLag, tl.WatchP99Micros = nil, nil
	}
	return tl, nil
}
