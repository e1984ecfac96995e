package report

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"

	"etcdlab/internal/event"
	"etcdlab/internal/stats"
	"etcdlab/plots"
	"etcdlab/results"
)

// maxTimelines caps the per-second figures: one line per point beyond a
// handful is unreadable.
const maxTimelines = 8

// timelineKinds are the events drawn on the timelines (backend commits are
// too dense to draw).
var timelineKinds = []string{event.LeaderElected, event.LeaderChanged, event.SnapshotTaken, event.SnapshotSent,
	event.SnapshotInstalled, event.Compaction, event.Defrag, event.AlarmRaised, event.AlarmDisarmed, event.SlowApply,
	event.SlowFsync, event.HeartbeatLate, event.NodeKilled, event.NodeRestarted}

// figure is a written figure and what it shows.
type figure struct{ file, caption string }

// WritePlots draws the set's figures as PNG into dir/plots and returns
// their paths relative to dir. A figure that has no data is skipped. style
// pins the engines' colors: callers pass the registry's names
// (plots.Style{Engines: engines.Names()}).
func WritePlots(s *Set, dir string, style plots.Style) ([]figure, error) {
	if err := style.Validate(); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	pd := filepath.Join(dir, PlotsDir)
	if err := os.MkdirAll(pd, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	pts := s.Points()
	var figs []figure
	save := func(p *plot.Plot, err error, name, caption string) error {
		if err != nil {
			return nil // no data for this figure: skip it, the table says so
		}
		if _, err := plots.SaveWith(p, pd, name, plots.SaveOptions{Formats: []plots.Format{plots.PNG}}); err != nil {
			return err
		}
		figs = append(figs, figure{file: PlotsDir + "/" + name + ".png", caption: caption})
		return nil
	}
	metrics := Metrics(s.Runs)
	xParam := numericParam(s)
	for _, m := range metrics {
		if !drawn(m) {
			continue
		}
		name := "metric-" + sanitize(m.Path)
		if xParam != "" {
			sw := plots.Sweep{Title: m.Label + " vs " + xParam, Param: xParam, Metric: m.Label, MetricUnit: m.Unit, Style: style}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, p := range pts {
				xs, _ := p.Param(xParam)
				x, _ := strconv.ParseFloat(numeric(xs), 64)
				lo, hi = math.Min(lo, x), math.Max(hi, x)
				vals := m.values(p.Runs)
				if len(vals) == 0 {
					continue
				}
				sw.Points = append(sw.Points, plots.SweepPoint{Engine: settingsLabel(p.Params, xParam, "all"), X: x, Values: vals})
			}
			sw.LogX = lo > 0 && hi/lo >= 100
			p, err := plots.SweepCurve(sw)
			if err := save(p, err, name, sw.Title); err != nil {
				return nil, err
			}
			continue
		}
		bc := plots.BarChart{Title: m.Label, Group: "configuration", Metric: m.Label, Unit: m.Unit, Style: style}
		for _, p := range pts {
			vals := m.values(p.Runs)
			if len(vals) == 0 {
				continue
			}
			group, label := settingsLabel(p.Params, "engine", "all"), p.Label()
			if e, ok := p.Param("engine"); ok {
				label = e
			} else if e := p.Runs[0].Result.Config.Engine; e != "" {
				label = e
			}
			bc.Bars = append(bc.Bars, plots.Bar{Group: group, Label: label, Values: vals})
		}
		p, err := plots.Bars(bc)
		if err := save(p, err, name, bc.Title+" (mean of the repeats, 95% CI)"); err != nil {
			return nil, err
		}
	}
	// Percentile spectrum of the first repeat of each point.
	var lines []plots.SpectrumLine
	var tls []plots.Timeline
	fromLog := 0 // lines drawn from a latency.hlog rather than 4 summary percentiles
	for _, p := range pts {
		r := p.Runs[0]
		line, err := plots.RunDirAllOps(p.Label(), r.Dir, r.Result)
		if err != nil {
			return nil, fmt.Errorf("report: spectrum of %s: %w", r.Dir, err)
		}
		if line.Hist != nil {
			fromLog++
		}
		lines = append(lines, line)
		if len(tls) < maxTimelines {
			if tl, err := loadTimeline(r.Dir, p.Label()); err == nil {
				tls = append(tls, tl)
			}
		}
	}
	src := "from each run's latency.hlog (every interval merged), up to p(1−1/n)"
	if fromLog < len(lines) {
		src = fmt.Sprintf("%d of %d lines from latency.hlog, the others from the summary's p50/p90/p99/p99.9 only", fromLog, len(lines))
	}
	p, err := plots.PercentileSpectrum("latency percentiles, all ops (first repeat)", lines, plots.LatencyOptions{LogScale: true, Style: style})
	if err := save(p, err, "spectrum", "latency by percentile, all ops, first repeat of each point; "+src); err != nil {
		return nil, err
	}
	p, err = plots.CDF("latency CDF, all ops (first repeat)", lines, plots.LatencyOptions{LogScale: true, Style: style})
	if err := save(p, err, "cdf", "share of ops at or below a latency, all ops, first repeat of each point; "+src); err != nil {
		return nil, err
	}
	if len(tls) > 0 {
		p, err := plots.ThroughputOverTime("throughput over time (first repeat)", tls, style)
		if err := save(p, err, "throughput-over-time", "throughput per second with cluster events, first repeat of each point"); err != nil {
			return nil, err
		}
		p, err = plots.LatencyOverTime("latency over time (first repeat)", tls, plots.LatencyOptions{LogScale: true, Style: style})
		if err := save(p, err, "latency-over-time", "p50 and p99 per second with cluster events, first repeat of each point"); err != nil {
			return nil, err
		}
		if err := watchFigures(tls, style, save); err != nil {
			return nil, err
		}
	}
	return figs, nil
}

// drawn: the metrics that get a figure (the tables have them all).
func drawn(m Metric) bool {
	switch {
	case m.Path == "summary.throughput_ops_s", m.Path == "summary.latency.p99_us", m.Path == "summary.cpu_per_op_us",
		strings.HasSuffix(m.Path, ".p99_us"), m.Path == "memory.peak_rss_bytes",
		m.Path == "disk.db_size_bytes", m.Path == "disk.write_amplification",
		m.Path == "events."+event.SnapshotTaken, m.Path == "events."+event.AlarmRaised,
		m.Path == "recovery.restart_s", m.Path == "recovery.catch_up_s", m.Path == "quota_recovery.total_s",
		m.Path == "watch.max_lag_revs", m.Path == "watch.catch_up_s", m.Path == "watch.bytes_read",
		m.Path == "leases.revokes_applied.mean_us", m.Path == "leases.revokes_applied.us_per_key":
		return true
	}
	return false
}

func loadTimeline(dir, label string) (plots.Timeline, error) {
	f, err := os.Open(filepath.Join(dir, results.TimelineFile))
	if err != nil {
		return plots.Timeline{}, err
	}
	defer f.Close()
	samples, err := results.ReadTimeline(f)
	if err != nil {
		return plots.Timeline{}, err
	}
	return plots.TimelineFromSamples(label, samples, "", timelineKinds...)
}

// numericParam is the first swept parameter other than engine whose values
// are all numbers (durations count, in ms) and that has 2+ values.
func numericParam(s *Set) string {
	if s.Manifest == nil {
		return ""
	}
	for _, p := range s.Manifest.Params {
		if p.Name == "engine" || len(p.Values) < 2 {
			continue
		}
		ok := true
		for _, v := range p.Values {
			if _, err := strconv.ParseFloat(numeric(v), 64); err != nil {
				ok = false
			}
		}
		if ok {
			return p.Name
		}
	}
	return ""
}

// numeric turns a duration value into milliseconds, anything else as is.
func numeric(v string) string {
	if d, err := parseDuration(v); err == nil && strings.ContainsAny(v, "smhµu") {
		return strconv.FormatFloat(float64(d)/1e6, 'g', -1, 64)
	}
	return v
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// Write writes dir/summary.csv, dir/plots/*.png and dir/report.md for the
// set loaded from dir and returns the report's path; style is as for
// WritePlots.
func Write(dir string, style plots.Style) (string, error) {
	s, err := Load(dir)
	if err != nil {
		return "", err
	}
	var csvBuf bytes.Buffer
	if err := WriteSummaryCSV(&csvBuf, s); err != nil {
		return "", err
	}
	if err := writeFile(filepath.Join(dir, SummaryFile), csvBuf.Bytes()); err != nil {
		return "", err
	}
	figs, err := WritePlots(s, dir, style)
	if err != nil {
		return "", err
	}
	if ComputeK8sStorage(s) != nil {
		kf, err := k8sStorageFigures(s, dir, style)
		if err != nil {
			return "", err
		}
		figs = append(figs, kf...)
	}
	md := Markdown(s, figs)
	path := filepath.Join(dir, ReportFile)
	return path, writeFile(path, []byte(md))
}

func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return os.Rename(tmp, path)
}

// Markdown renders the report.
func Markdown(s *Set, figs []figure) string {
	var b strings.Builder
	name := "run"
	if s.Manifest != nil {
		name = s.Manifest.Name
	}
	pts := s.Points()
	first := s.Runs[0].Result
	fmt.Fprintf(&b, "# etcdlab report: %s\n\n", name)
	if s.Manifest != nil && s.Manifest.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", s.Manifest.Description)
	}
	fmt.Fprintf(&b, "%d completed runs over %d points", len(s.Runs), len(pts))
	if s.Manifest != nil {
		fmt.Fprintf(&b, " (%d repeats each planned, run in a seeded interleaved order, seed %d)", s.Manifest.Repeat, s.Manifest.Seed)
	}
	fmt.Fprintf(&b, ". Every run's figures are in [%s](%s).\n\n", SummaryFile, SummaryFile)
	if len(s.Skipped) > 0 {
		fmt.Fprintf(&b, "Left out: %s.\n\n", strings.Join(s.Skipped, "; "))
	}
	if bad := LinearizabilityProblems(s.Runs); len(bad) > 0 {
		b.WriteString("**Consistency: NOT OK.** These runs did not pass the linearizability check (porcupine over a sample of their operations): their figures must not be reported as those of a correct system.\n\n")
		for _, m := range bad {
			fmt.Fprintf(&b, "- %s\n", m)
		}
		b.WriteString("\n")
	}
	if notes := caveats(s); len(notes) > 0 {
		b.WriteString("**Caveats.**\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}

	parity := ComputeParity(s)
	b.WriteString("## What this shows\n\n")
	if parity != nil {
		fmt.Fprintf(&b, "- %s\n", parity.Finding())
	}
	for _, line := range findings(s, pts) {
		fmt.Fprintf(&b, "- %s\n", line)
	}
	b.WriteString("\n")
	if parity != nil {
		b.WriteString(parity.Markdown())
	}
	if k := ComputeK8sStorage(s); k != nil {
		b.WriteString(k.Markdown())
		b.WriteString(k8sStorageEvents(s))
	}

	b.WriteString("## Configuration\n\n")
	if s.Manifest != nil {
		b.WriteString("| swept parameter | values |\n|---|---|\n")
		for _, p := range s.Manifest.Params {
			fmt.Fprintf(&b, "| %s | %s |\n", p.Name, strings.Join(p.Values, ", "))
		}
		b.WriteString("\n")
		if len(s.Manifest.Fixed) > 0 {
			b.WriteString("Fixed settings (run flags): ")
			var parts []string
			for _, f := range s.Manifest.Fixed {
				parts = append(parts, "`--"+f.Name+"="+f.Value+"`")
			}
			b.WriteString(strings.Join(parts, " ") + "\n\n")
		}
		if len(s.Manifest.Exclude) > 0 {
			fmt.Fprintf(&b, "Points left out of the product (not a run): `%s`.\n\n", strings.Join(s.Manifest.Exclude, "`, `"))
		}
	}
	c := first.Config
	fmt.Fprintf(&b, "First run executed: layer `%s`, engine `%s`, nodes %d, workload `%s`, clients %d, %s loop, duration %.0fs, warm-up %.0fs, read consistency `%s`, link delay %gms, seed %d, backend `%s`; node options `%s`.",
		c.Layer, c.Engine, c.Nodes, c.Workload.Name, c.Clients, c.Loop, c.DurationS, c.WarmupS, c.ReadConsistency, c.LinkDelayMs, c.Seed, c.Backend, c.NodeKnobs())
	if c.RaftLogCompaction == "" {
		b.WriteString(" The raft log compaction rule was not recorded: etcdlab compacted only at disk snapshots then (3.5).")
	}
	b.WriteString("\n\n")

	b.WriteString("## Environment\n\n")
	e := first.Env
	fmt.Fprintf(&b, "| | |\n|---|---|\n| Go | %s %s/%s, GOMAXPROCS %d |\n| CPU | %s (%d CPUs) |\n| kernel | %s |\n| file system | %s |\n| fsync probe | p50 %.0f µs, p99 %.0f µs (%d fdatasyncs) |\n| commit | %s |\n| started | %s |\n\n",
		e.GoVersion, e.GOOS, e.GOARCH, e.GOMAXPROCS, e.CPU, e.NumCPU, e.Kernel, e.Filesystem, e.FsyncP50Us, e.FsyncP99Us, e.FsyncProbeSize, e.Commit, first.Started.UTC().Format("2006-01-02 15:04 MST"))

	if len(figs) > 0 {
		b.WriteString("## Figures\n\n")
		for _, f := range figs {
			fmt.Fprintf(&b, "![%s](%s)\n\n*%s*\n\n", f.caption, f.file, f.caption)
		}
	}

	if rows := alarmRows(s); len(rows) > 0 {
		b.WriteString("## Alarms\n\nFirst alarm-raised event per run (seconds since the measured phase began; negative: during preload or warm-up), the db size sampled at or after it, the ops acknowledged in the measured phase and the NOSPACE errors clients got (a closed loop retries at once, so this count is large once the alarm is up).\n\n| point | repeat | first alarm (s) | db size then | acknowledged ops | NOSPACE errors |\n|---|---|---|---|---|---|\n")
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
		b.WriteString("\n")
	}
	if rows := faultRows(s); len(rows) > 0 {
		b.WriteString("## Faults\n\nEach scheduled fault (run flag `--faults`) with its figures, per run. Times in seconds from the fault's injection; figures follow writes (they need a leader and a quorum). *Unavailable*: the longest stretch without a completed write overlapping the fault. *First success*: until the first write issued after the injection completed. *90% back*: until a 1 s window's throughput was back at 90% of the 3 s before the fault, after dropping below it (0: never dropped; never: not back by the end). *p99 during*: the ops in flight while the fault was in force. *Catch-up*: a restarted node's time until its applied index reached the leader's commit index at the restart, and the snapshots (backend images) it received.\n\n| point | repeat | fault | nodes | in force (s) | unavailable | first success | 90% back | p99 during (µs) | errors during | catch-up | error |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
		b.WriteString("\n")
	}
	if rows := linRows(s); len(rows) > 0 {
		b.WriteString("## Linearizability\n\nThe operations on a sample of the keys (preload, warm-up, measured phase, and a final read of each) checked with porcupine after each run.\n\n| point | repeat | verdict | ops checked | keys | unknown outcome | truncated | check (s) |\n|---|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
		b.WriteString("\n")
	}
	if rows := recoveryRows(s); len(rows) > 0 {
		b.WriteString("## Recovery of a restarted follower\n\nAfter the measured phase, with no client load, a follower was killed (a crash: its unsynced backend writes are dropped; the WAL is what survives) and restarted from its data directory. *Serving* is restart to the first serializable read it answers (engine open, snapshot load, WAL replay, index rebuild); *index rebuild* is mvcc's part of that; *caught up* is restart until its applied index reached the leader's commit index (read before the restart).\n\n| point | repeat | node | serving (s) | index rebuild (s) | caught up (s) | applied at open | leader commit | error |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
		b.WriteString("\n")
	}
	if rows, lat := quotaRecoveryRows(s); len(rows) > 0 {
		b.WriteString("## Quota recovery\n\nAfter a measured phase that ended with NOSPACE raised: compact at the current revision (waiting for the physical deletion), defragment every node one after another, disarm, then one test put. Times in seconds; db size is the largest node's. *Re-armed*: the alarm was up again after the disarm and the test put.\n\n| point | repeat | compact | defrag (per node) | disarm | total | db before → after | put accepted after | re-armed | error |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
		b.WriteString("\nLatency of gets sent to the node being defragmented while the defrags ran (µs; serializable and linearizable alternate; failed gets counted):\n\n| point | repeat | consistency | gets | p50 | p99 | max | failed |\n|---|---|---|---|---|---|---|---|\n")
		for _, r := range lat {
			b.WriteString(r + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("## Tables\n\nMean over the repeats ± half the 95% confidence interval (Student t; none with one repeat).\n\n")
	for _, m := range Metrics(s.Runs) {
		unit := ""
		if m.Unit != "" {
			unit = " (" + m.Unit + ")"
		}
		var rows []string
		for _, p := range pts {
			vals := m.values(p.Runs)
			if len(vals) == 0 {
				continue
			}
			mean, lo, hi := stats.MeanCI(vals)
			ci := "—"
			if len(vals) > 1 {
				ci = num(lo) + " – " + num(hi)
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %d |\n", p.Label(), num(mean), ci, len(vals)))
		}
		if len(rows) == 0 {
			continue // a figure no run has (a fault kind's catch-up without a restart)
		}
		fmt.Fprintf(&b, "### %s%s\n\n| point | mean | 95%% CI | n |\n|---|---|---|---|\n", m.Label, unit)
		b.WriteString(strings.Join(rows, "") + "\n")
	}
	return b.String()
}

// headline metrics of "what this shows".
var headline = []string{"summary.throughput_ops_s", "summary.latency.p99_us", "summary.cpu_per_op_us", "ops.get.p50_us", "ops.get.p99_us", "memory.peak_rss_bytes", "disk.db_size_bytes", "disk.write_amplification", "events." + event.SnapshotTaken}

// findings compares, for each swept parameter, every point with the point
// that differs from it only in that parameter's first value.
func findings(s *Set, pts []Point) []string {
	var out []string
	if s.Manifest == nil || len(pts) < 2 {
		m := Metrics(s.Runs)
		for _, mm := range m[:2] {
			mean, lo, hi := stats.MeanCI(mm.values(s.Runs))
			out = append(out, fmt.Sprintf("%s: %s %s (95%% CI %s – %s, %d runs).", mm.Label, num(mean), mm.Unit, num(lo), num(hi), len(s.Runs)))
		}
		return out
	}
	metrics := map[string]Metric{}
	for _, m := range Metrics(s.Runs) {
		metrics[m.Path] = m
	}
	byLabel := map[string]Point{}
	for _, p := range pts {
		byLabel[p.Label()] = p
	}
	for _, par := range s.Manifest.Params {
		if len(par.Values) < 2 {
			continue
		}
		for _, p := range pts {
			v, _ := p.Param(par.Name)
			if v == par.Values[0] {
				continue
			}
			base := Point{Params: replace(p.Params, par.Name, par.Values[0])}
			bp, ok := byLabel[base.Label()]
			if !ok {
				continue
			}
			ctx := settingsLabel(p.Params, par.Name, "")
			if ctx != "" {
				ctx = " at " + ctx
			}
			var parts []string
			for _, path := range headline {
				m, ok := metrics[path]
				if !ok {
					continue
				}
				a, bv := m.values(bp.Runs), m.values(p.Runs)
				if len(a) == 0 || len(bv) == 0 {
					continue
				}
				r, lo, hi := RatioCI(a, bv)
				if math.IsNaN(r) {
					continue
				}
				ci := "no CI: one repeat"
				if len(a) > 1 && len(bv) > 1 {
					ci = "no CI: a zero mean"
				}
				if !math.IsNaN(lo) {
					sig := "not significant"
					if lo > 1 || hi < 1 {
						sig = "significant"
					}
					ci = fmt.Sprintf("95%% CI %.2f–%.2f, %s", lo, hi, sig)
				}
				parts = append(parts, fmt.Sprintf("%s ×%.2f (%s)", m.Label, r, ci))
			}
			if len(parts) > 0 {
				out = append(out, fmt.Sprintf("**%s=%s vs %s=%s**%s: %s.", par.Name, v, par.Name, par.Values[0], ctx, strings.Join(parts, "; ")))
			}
		}
	}
	if len(out) == 0 {
		out = append(out, "No two points differ in one parameter only; see the tables.")
	}
	return out
}

func replace(ss []Setting, name, value string) []Setting {
	out := make([]Setting, len(ss))
	copy(out, ss)
	for i := range out {
		if out[i].Name == name {
			out[i].Value = value
		}
	}
	return out
}

// caveats are the manifest's notes plus what the numbers cannot show: a
// swept cluster knob on another layer, a closed loop's sizes scaling with
// the ops done, single repeats.
func caveats(s *Set) []string {
	var out []string
	if s.Manifest != nil {
		out = append(out, s.Manifest.Notes...)
		layer := s.Runs[0].Result.Config.Layer
		sweptLayer := slices.ContainsFunc(s.Manifest.Params, func(p Param) bool { return p.Name == "layer" })
		for _, p := range s.Manifest.Params {
			if len(p.Layers) > 0 && !slices.Contains(p.Layers, layer) && !sweptLayer {
				out = append(out, fmt.Sprintf("%s is read only by the %s layer; this sweep ran on the %s layer, so differences across its values are run-to-run noise.", p.Name, strings.Join(p.Layers, " and "), layer))
			}
		}
		if s.Manifest.Repeat < 2 {
			out = append(out, "One repeat per point: no confidence intervals, and no difference can be called significant.")
		}
	}
	if s.Runs[0].Result.Config.Loop == "closed" && s.Runs[0].Result.Config.DurationS > 0 {
		out = append(out, "Closed loop for a fixed duration: a faster configuration does more writes, so db size, disk bytes and event counts grow with its throughput; compare them per op.")
	}
	return out
}

// alarmRows lists, for every run whose timeline has an alarm-raised event,
// when the first one came (seconds since the measured phase began; negative:
// during preload or warm-up), the db size sampled in that second, and the
// NOSPACE errors the clients saw.
func alarmRows(s *Set) []string {
	var rows []string
	for _, r := range s.Runs {
		f, err := os.Open(filepath.Join(r.Dir, results.TimelineFile))
		if err != nil {
			continue
		}
		samples, err := results.ReadTimeline(f)
		f.Close()
		if err != nil {
			continue
		}
		first := math.NaN()
		for _, sm := range samples {
			if sm.Type == results.SampleEvent && sm.Kind == event.AlarmRaised && (math.IsNaN(first) || sm.T < first) {
				first = sm.T
			}
		}
		if math.IsNaN(first) {
			continue
		}
		db := "—"
		for _, sm := range samples {
			// The quota compares the backend size; runs recorded before it
			// was sampled have only the size on disk.
			if size := cmp.Or(sm.DBQuotaSize, sm.DBSize); sm.Type == results.SampleInterval && sm.T >= first && size > 0 {
				db = num(float64(size)/(1<<20)) + " MiB"
				break
			}
		}
		var nospace int64
		for msg, n := range r.Result.Summary.ErrorsByMessage {
			if strings.Contains(msg, "space exceeded") || strings.Contains(msg, "NOSPACE") {
				nospace += n
			}
		}
		rows = append(rows, fmt.Sprintf("| %s | %d | %.2f | %s | %d | %d |", Point{ID: r.Point, Params: r.Params}.Label(), r.Repeat, first, db, r.Result.Summary.Ops, nospace))
	}
	return rows
}

// faultRows lists every run's scheduled faults and their figures.
func faultRows(s *Set) []string {
	var rows []string
	// secs prints a time where -1 means "never".
	secs := func(v float64) string {
		if v < 0 {
			return "never"
		}
		return fmt.Sprintf("%.3f", v)
	}
	for _, r := range s.Runs {
		label := Point{ID: r.Point, Params: r.Params}.Label()
		for _, f := range r.Result.Faults {
			var errs []string
			for _, k := range sortedKeys(boolKeys(f.ErrorsByKind)) {
				errs = append(errs, fmt.Sprintf("%s %d", k, f.ErrorsByKind[k]))
			}
			errText := fmt.Sprint(f.DuringErrors)
			if len(errs) > 0 {
				errText += " (" + strings.Join(errs, ", ") + ")"
			}
			var cus []string
			for _, c := range f.CatchUp {
				took := "not caught up by the end"
				if c.CatchUpS >= 0 {
					took = fmt.Sprintf("%.3f s", c.CatchUpS)
				}
				cu := fmt.Sprintf("node %d: %s, %d snapshots, %s MiB", c.Node, took, c.SnapshotsReceived, num(float64(c.SnapshotBytes)/(1<<20)))
				if c.Error != "" {
					cu += " (" + c.Error + ")"
				}
				cus = append(cus, cu)
			}
			cuText, errMsg := "—", "—"
			if len(cus) > 0 {
				cuText = strings.Join(cus, "; ")
			}
			if f.Error != "" {
				errMsg = f.Error
			}
			rows = append(rows, fmt.Sprintf("| %s | %d | `%s` | %v | %.2f – %.2f | %.3f | %s | %s | %s | %s | %s | %s |",
				label, r.Repeat, f.Spec, f.Nodes, f.StartS, f.EndS, f.UnavailableS, secs(f.FirstSuccessS), secs(f.Recovery90S),
				num(f.DuringP99Us), errText, strings.ReplaceAll(cuText, "|", "/"), strings.ReplaceAll(errMsg, "|", "/")))
		}
	}
	return rows
}

// linRows lists every run's linearizability verdict.
func linRows(s *Set) []string {
	var rows []string
	for _, r := range s.Runs {
		l := r.Result.Linearizability
		if l == nil {
			continue
		}
		v := l.Verdict
		if v != "ok" {
			v = "**" + strings.ToUpper(v) + "**"
			if l.Error != "" {
				v += " (" + strings.ReplaceAll(l.Error, "|", "/") + ")"
			}
		}
		rows = append(rows, fmt.Sprintf("| %s | %d | %s | %d | %d | %d | %v | %.2f |", Point{ID: r.Point, Params: r.Params}.Label(), r.Repeat, v, l.Ops, l.Keys, l.Unknown, l.Truncated, l.CheckS))
	}
	return rows
}

// recoveryRows lists the runs that measured a follower's restart.
func recoveryRows(s *Set) []string {
	var rows []string
	for _, r := range s.Runs {
		rc := r.Result.Recovery
		if rc == nil {
			continue
		}
		errMsg := rc.Error
		if errMsg == "" {
			errMsg = "—"
		}
		rows = append(rows, fmt.Sprintf("| %s | %d | %d (%s) | %.3f | %.3f | %.3f | %d | %d | %s |",
			Point{ID: r.Point, Params: r.Params}.Label(), r.Repeat, rc.Node, rc.Method, rc.RestartS, rc.RestoreS, rc.CatchUpS,
			rc.AppliedAtStart, rc.LeaderCommit, strings.ReplaceAll(errMsg, "|", "/")))
	}
	return rows
}

// quotaRecoveryRows lists the runs that ran the NOSPACE procedure, and the
// read latency during their defrags.
func quotaRecoveryRows(s *Set) (rows, lat []string) {
	for _, r := range s.Runs {
		q := r.Result.QuotaRecovery
		if q == nil {
			continue
		}
		label := Point{ID: r.Point, Params: r.Params}.Label()
		var per []string
		for _, id := range sortedKeys(boolKeys(q.DefragNodeS)) {
			per = append(per, fmt.Sprintf("%s: %.3f", id, q.DefragNodeS[id]))
		}
		errMsg := q.Error
		if errMsg == "" {
			errMsg = "—"
		}
		rows = append(rows, fmt.Sprintf("| %s | %d | %.3f | %.3f (%s) | %.3f | %.3f | %s → %s MiB | %v | %v | %s |",
			label, r.Repeat, q.CompactS, q.DefragS, strings.Join(per, ", "), q.DisarmS, q.TotalS,
			num(float64(q.DBSizeBefore)/(1<<20)), num(float64(q.DBSizeAfter)/(1<<20)), q.WritesOKAfter, q.Rearmed,
			strings.ReplaceAll(errMsg, "|", "/")))
		names := make([]string, 0, len(q.DuringDefrag))
		for k := range q.DuringDefrag {
			names = append(names, k)
		}
		sort.Strings(names)
		for i, k := range names {
			st := q.DuringDefrag[k]
			failed := ""
			if i == 0 {
				failed = strconv.FormatInt(q.DuringDefragErrors, 10)
			}
			lat = append(lat, fmt.Sprintf("| %s | %d | %s | %d | %s | %s | %s | %s |", label, r.Repeat, k, st.Count, num(st.P50Us), num(st.P99Us), num(st.MaxUs), failed))
		}
		if len(names) == 0 {
			lat = append(lat, fmt.Sprintf("| %s | %d | — | 0 | — | — | — | %d |", label, r.Repeat, q.DuringDefragErrors))
		}
	}
	return rows, lat
}

func boolKeys[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// watchFigures draws, for the timelines of runs with watchers, their
// largest lag per second and their events' latency p99 per second.
func watchFigures(tls []plots.Timeline, style plots.Style, save func(*plot.Plot, error, string, string) error) error {
	var lag, lat []plots.Timeline
	for _, tl := range tls {
		if tl.WatchLag == nil {
			continue
		}
		lag = append(lag, tl)
		lat = append(lat, plots.Timeline{Label: tl.Label, Seconds: tl.Seconds, P99Micros: zeroToNaN(tl.WatchP99Micros),
			Events: tl.Events, Bands: tl.Bands})
	}
	if len(lag) == 0 {
		return nil
	}
	p, err := plots.WatchLagOverTime("watcher lag over time (first repeat)", lag, style)
	if err := save(p, err, "watch-lag-over-time", "the watchers' largest lag, in revisions behind the leader, checked once a second; first repeat of each point"); err != nil {
		return err
	}
	p, err = plots.LatencyOverTime("watch event latency over time (first repeat)", lat, plots.LatencyOptions{LogScale: true, Style: style})
	return save(p, err, "watch-latency-over-time", "p99 per second of the watch events' latency, from the ack of the write to the watcher's receipt; first repeat of each point")
}

// zeroToNaN copies v with zeros as NaN (a gap on a log scale).
func zeroToNaN(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		if x == 0 {
			x = math.NaN()
		}
		out[i] = x
	}
	return out
}
