// Package plots draws etcdlab's figures with gonum.org/v1/plot and writes them
// as PNG and SVG.
//
// It is independent of the results package on purpose: every figure is drawn
// from plain input types declared here (SpectrumLine, Timeline, Event,
// SweepPoint, Bar), so a figure can be made from a run directory, from a sweep
// summary or from synthetic data in a test alike. fromresults.go adapts
// run directories: RunDirSpectra and RunDirAllOps draw the full histograms
// of a run's latency.hlog (nanosecond values, HistUnit set accordingly) and
// fall back to the summary's four percentiles only when a run has no log.
//
// Figures:
//   - PercentileSpectrum: latency against percentile on a 1/(1−p) log scale
//     (0 … 99.99), one line per run or engine. A line stops at the highest
//     percentile its sample count supports (1−1/n): a "p99.99" of 100 samples is
//     only their maximum and is not drawn as if it were a tail estimate.
//   - CDF: share of operations at or below a latency.
//   - LatencyOverTime / ThroughputOverTime: p50 and p99 per second, ops/s per
//     second, with cluster events (kinds named in package internal/event:
//     snapshot-taken, leader-changed, compaction, defrag, alarm-raised and
//     slow-apply have fixed looks; others take the next ones) as vertical
//     markers, one legend entry per kind.
//     Compactions and defrags (timed events) and faults are shaded bands.
//   - MetricOverTime and MaintenanceFigures (RunDirMaintenanceFigures for a
//     run directory): per-second throughput and writes, p50/p99, stall,
//     CPU %, RSS, disk writes, db size and live bytes, space amplification,
//     fragmentation and pebble's L0 sublevels, compaction debt and write
//     stalls, with the compaction and defrag bands; a figure with no known
//     value (pebble's on bbolt) is left out.
//   - SweepCurve: a parameter against a metric, one line per engine, points at
//     the mean of the repeats with a 95% confidence interval (Student t).
//   - Bars: grouped bars comparing configurations, same error bars.
//
// Contract:
//   - Every figure has a title, axis labels with units and a legend; a figure
//     function returns an error wrapping ErrNoData or ErrBadInput for empty or
//     malformed input (NaN where a value is required, mismatched lengths,
//     percentiles outside [0,100)) and never panics on bad input.
//   - Output is deterministic for the same input: legend order follows the
//     input order (engines in SweepCurve are sorted by name), and colors come
//     from a fixed palette. The engines named in the figure's Style (the
//     caller passes the registry's engines.Names(); plots does not import the
//     registry, see Style) keep their color across figures (bbolt blue,
//     memory gray, pebble orange) when a label names exactly one engine;
//     other labels take the remaining palette colors in order.
//   - Latencies are given in microseconds (histograms: in units of
//     SpectrumLine.HistUnit, default one microsecond); the drawn unit (µs, ms
//     or s) is chosen from the data unless the options fix it, and is named in
//     the axis label.
//   - Save writes name.png and name.svg (by default 8in × 5in, PNG at 150 dpi,
//     i.e. 1200 × 750 pixels) through a temporary file and a rename, so a
//     reader never sees a half-written figure.
//
// Error bars use internal/stats.MeanCI, the "mean ± 95% confidence
// interval from repeats" that results/report uses too; living below both, it
// keeps the imports one way: report → plots → results.
package plots
