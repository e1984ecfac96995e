package plots

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"etcdlab/internal/event"
	"etcdlab/results"
)

// MetricSeries is one named per-second series; NaN leaves a gap (a second
// the figure is unknown).
type MetricSeries struct {
	Name   string
	Values []float64
}

// MetricTimeline is per-second series of one run that share an axis, with
// the run's spans (compactions, defrags, faults) drawn as shaded bands.
type MetricTimeline struct {
	Seconds []float64
	Series  []MetricSeries
	Bands   []Band
}

// MetricOverTime draws each series of mt per second, over the shaded bands.
// The y axis starts at zero unless a value is negative. It fails with
// ErrNoData when no series has a known value.
func MetricOverTime(title, yLabel string, mt MetricTimeline, style Style) (*plot.Plot, error) {
	if err := style.Validate(); err != nil {
		return nil, err
	}
	if err := checkTitle(title); err != nil {
		return nil, err
	}
	if len(mt.Seconds) == 0 || len(mt.Series) == 0 {
		return nil, fmt.Errorf("%w: %s: no seconds or no series", ErrNoData, title)
	}
	for j, s := range mt.Seconds {
		if !finite(s) || j > 0 && s <= mt.Seconds[j-1] {
			return nil, fmt.Errorf("%w: %s: second %v not finite and increasing", ErrBadInput, title, s)
		}
	}
	neg := false
	for _, s := range mt.Series {
		if s.Name == "" || len(s.Values) != len(mt.Seconds) {
			return nil, fmt.Errorf("%w: %s: series %q has %d values for %d seconds", ErrBadInput, title, s.Name, len(s.Values), len(mt.Seconds))
		}
		for _, v := range s.Values {
			if math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: %s: series %q: value %v", ErrBadInput, title, s.Name, v)
			}
			neg = neg || v < 0
		}
	}
	p := newPlot(title, "time since start (s)", yLabel)
	p.Add(plotter.NewGrid())
	if err := addBands(p, []Timeline{{Label: title, Bands: mt.Bands}}); err != nil {
		return nil, err
	}
	cs := newColorer(style)
	drawn := false
	for _, s := range mt.Series {
		ok, err := addSeries(p, s.Name, segments(mt.Seconds, s.Values, 1), lineStyle(cs.look(s.Name), vg.Points(1.5)))
		if err != nil {
			return nil, err
		}
		drawn = drawn || ok
	}
	if !drawn {
		return nil, fmt.Errorf("%w: %s: no known value in any series", ErrNoData, title)
	}
	if !neg {
		startAtZero(&p.Y)
	}
	return p, nil
}

// MaintenanceSeries are the per-second series of one run that the
// maintenance figures draw (MaintenanceFigures), NaN where unknown.
type MaintenanceSeries struct {
	Label   string
	Seconds []float64
	// Throughput and WriteThroughput are ops/s, all ops and writes.
	Throughput, WriteThroughput []float64
	// P50Micros and P99Micros are all ops' latency; StallMs the longest
	// stretch without a completed op (results.Sample.StallMs).
	P50Micros, P99Micros, StallMs []float64
	CPUPct                        []float64
	RSSBytes                      []float64
	// DiskWriteBytesS is the process's writes to storage per second.
	DiskWriteBytesS []float64
	// DBSizeBytes is the size on disk (the largest node's), LiveBytes the
	// live logical bytes; SpaceAmp their ratio, Fragmentation
	// results.Fragmentation and NotLive results.PebbleNotLive.
	DBSizeBytes, LiveBytes, SpaceAmp, Fragmentation, NotLive []float64
	// DBInUseBytes is the engine's part in use (the largest node's:
	// results.Sample.DBSizeInUse).
	DBInUseBytes []float64
	// Pebble's (the leader's): L0 sublevels, compaction debt, and the
	// write stalls that began in the second.
	L0Sublevels, CompactionDebtBytes, WriteStalls []float64
	// Bands are the compactions, defrags and faults.
	Bands []Band
}

// MaintenanceSeriesFromSamples builds the series from a run's
// timeline.jsonl samples; writeOps names the op kinds that write
// (results.Maintenance.WriteOps; nil: put, insert, delete, rmw, txn-cas).
// Timed events (compactions, defrags) and faults with a span become bands.
func MaintenanceSeriesFromSamples(label string, samples []results.Sample, writeOps []string) (MaintenanceSeries, error) {
	if writeOps == nil {
		writeOps = results.DefaultWriteOps()
	}
	writes := map[string]bool{}
	for _, op := range writeOps {
		writes[op] = true
	}
	ivs := results.Intervals(samples)
	if len(ivs) == 0 {
		return MaintenanceSeries{}, fmt.Errorf("%w: no interval samples for %q", ErrNoData, label)
	}
	nan := math.NaN()
	known := func(v float64, ok bool) float64 {
		if !ok {
			return nan
		}
		return v
	}
	pos := func(v float64) float64 { return known(v, v > 0) }
	extra := func(s results.Sample, k string) float64 {
		v, ok := s.Extra[k]
		return known(v, ok)
	}
	ms := MaintenanceSeries{Label: label}
	rates := results.DiskWriteRates(ivs)
	prevStalls := math.NaN()
	for i, s := range ivs {
		ms.Seconds = append(ms.Seconds, s.T)
		ms.Throughput = append(ms.Throughput, s.OpsS)
		var w int64
		for name, op := range s.PerOp {
			if writes[name] {
				w += op.Count
			}
		}
		ms.WriteThroughput = append(ms.WriteThroughput, known(float64(w)/s.LengthS, s.LengthS > 0))
		ms.P50Micros = append(ms.P50Micros, known(s.P50Us, s.Ops > 0))
		ms.P99Micros = append(ms.P99Micros, known(s.P99Us, s.Ops > 0))
		ms.StallMs = append(ms.StallMs, s.StallMs)
		ms.CPUPct = append(ms.CPUPct, pos(s.CPUPct))
		ms.RSSBytes = append(ms.RSSBytes, pos(float64(s.RSSBytes)))
		ms.DiskWriteBytesS = append(ms.DiskWriteBytesS, known(rates[i], rates[i] >= 0))
		ms.DBSizeBytes = append(ms.DBSizeBytes, pos(float64(s.DBSize)))
		ms.DBInUseBytes = append(ms.DBInUseBytes, pos(float64(s.DBSizeInUse)))
		ms.LiveBytes = append(ms.LiveBytes, pos(float64(s.LiveLogicalBytes)))
		ms.SpaceAmp = append(ms.SpaceAmp, known(results.SpaceAmp(s)))
		ms.Fragmentation = append(ms.Fragmentation, known(results.Fragmentation(s)))
		ms.NotLive = append(ms.NotLive, known(results.PebbleNotLive(s)))
		ms.L0Sublevels = append(ms.L0Sublevels, extra(s, "pebble.l0.sublevels"))
		ms.CompactionDebtBytes = append(ms.CompactionDebtBytes, extra(s, "pebble.compaction_debt_bytes"))
		// Cumulative in the samples: the stalls that began in the second.
		stalls := extra(s, "pebble.write_stalls")
		d := stalls - prevStalls
		if math.IsNaN(prevStalls) {
			d = known(0, !math.IsNaN(stalls))
		}
		ms.WriteStalls = append(ms.WriteStalls, math.Max(d, 0)) // NaN stays NaN
		prevStalls = stalls
	}
	// Bands are clipped to the measured phase: the recovery phases after it
	// (a quota recovery's compaction and defrags) ran no workload.
	end := ivs[len(ivs)-1].T + ivs[len(ivs)-1].LengthS
	for _, s := range samples {
		switch {
		case s.Type == results.SampleFault && s.EndS > s.T,
			s.Type == results.SampleEvent && event.Timed(s.Kind) && s.EndS > s.T:
			if s.EndS > 0 && s.T < end { // overlaps the measured phase
				ms.Bands = append(ms.Bands, Band{Start: math.Max(s.T, 0), End: math.Min(s.EndS, end), Kind: s.Kind, Label: s.Detail})
			}
		}
	}
	return ms, nil
}

// NamedPlot is a figure and the file name (without extension) it is saved
// under.
type NamedPlot struct {
	Name string
	Plot *plot.Plot
}

// MaintenanceFigures draws the over-time figures of one run, each with the
// run's compactions and defrags (and faults) as bands: throughput (all ops
// and writes), p50/p99, the stall, CPU %, RSS, disk writes, db size and
// live bytes, space amplification, fragmentation, and pebble's L0
// sublevels, compaction debt and write stalls. A figure whose series are
// all unknown (pebble's on bbolt, space amplification without the live
// bytes) is left out.
func MaintenanceFigures(ms MaintenanceSeries, style Style) ([]NamedPlot, error) {
	scale := func(v []float64, by float64) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = x / by
		}
		return out
	}
	maxMicros := 0.0
	for _, v := range ms.P99Micros {
		if !math.IsNaN(v) {
			maxMicros = math.Max(maxMicros, v)
		}
	}
	unit := pickUnit(maxMicros)
	const mib = 1 << 20
	figs := []struct {
		name, title, y string
		series         []MetricSeries
	}{
		{"maint-throughput", "throughput", "ops/s", []MetricSeries{{"all ops", ms.Throughput}, {"writes", ms.WriteThroughput}}},
		{"maint-latency", "latency per second, all ops", "latency (" + unit.name + ")",
			[]MetricSeries{{"p50", scale(ms.P50Micros, unit.micros)}, {"p99", scale(ms.P99Micros, unit.micros)}}},
		{"maint-stall", "longest time without a completed op", "stall (ms)", []MetricSeries{{"stall", ms.StallMs}}},
		{"maint-cpu", "process CPU", "CPU (% of one core)", []MetricSeries{{"cpu", ms.CPUPct}}},
		{"maint-rss", "resident memory", "RSS (MiB)", []MetricSeries{{"rss", scale(ms.RSSBytes, mib)}}},
		{"maint-disk-write", "disk writes (process)", "written (MiB/s)", []MetricSeries{{"writes", scale(ms.DiskWriteBytesS, mib)}}},
		{"maint-db-size", "db size on disk and live logical data", "MiB",
			[]MetricSeries{{"db size on disk", scale(ms.DBSizeBytes, mib)}, {"in use (engine)", scale(ms.DBInUseBytes, mib)},
				{"live logical bytes", scale(ms.LiveBytes, mib)}}},
		{"maint-space-amp", "space amplification (size on disk / live logical bytes)", "space amplification", []MetricSeries{{"space amp", ms.SpaceAmp}}},
		{"maint-fragmentation", "fragmentation", "share of the engine's files",
			[]MetricSeries{{"dead (bbolt: free pages; pebble: obsolete and zombie sstables)", ms.Fragmentation},
				{"pebble: not in live sstables (dead, WAL, manifest)", ms.NotLive}}},
		{"maint-pebble-l0", "pebble L0 sublevels (leader)", "sublevels", []MetricSeries{{"L0 sublevels", ms.L0Sublevels}}},
		{"maint-pebble-debt", "pebble compaction debt (leader)", "debt (MiB)", []MetricSeries{{"compaction debt", scale(ms.CompactionDebtBytes, mib)}}},
		{"maint-pebble-stalls", "pebble write stalls begun per second (leader)", "write stalls", []MetricSeries{{"write stalls", ms.WriteStalls}}},
	}
	var out []NamedPlot
	for _, f := range figs {
		p, err := MetricOverTime(ms.Label+": "+f.title, f.y, MetricTimeline{Seconds: ms.Seconds, Series: f.series, Bands: ms.Bands}, style)
		if errors.Is(err, ErrNoData) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		out = append(out, NamedPlot{Name: f.name, Plot: p})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %q: no series to draw", ErrNoData, ms.Label)
	}
	return out, nil
}

// RunDirMaintenanceFigures reads the run directory dir (timeline.jsonl, and
// result.json for the write op kinds when present) and saves its
// maintenance figures into outDir with opts (default PNG and SVG). It
// returns the paths written.
func RunDirMaintenanceFigures(dir, label, outDir string, style Style, opts SaveOptions) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, results.TimelineFile))
	if err != nil {
		return nil, err
	}
	samples, err := results.ReadTimeline(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("plots: %s: %w", dir, err)
	}
	var writeOps []string
	if r, err := results.Load(dir); err == nil && r.Maintenance != nil {
		writeOps = r.Maintenance.WriteOps
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("plots: %s: %w", dir, err)
	}
	ms, err := MaintenanceSeriesFromSamples(label, samples, writeOps)
	if err != nil {
		return nil, err
	}
	figs, err := MaintenanceFigures(ms, style)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, np := range figs {
		ps, err := SaveWith(np.Plot, outDir, np.Name, opts)
		if err != nil {
			return nil, err
		}
		paths = append(paths, ps...)
	}
	return paths, nil
}
