package report

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"etcdlab/internal/event"
	"etcdlab/plots"
	"etcdlab/results"
)

// K8sStorage is the k8s-storage section of a report: etcd issue #22332's
// table (disk, write QPS, MVCC compaction time, write QPS during
// compaction) and the figures that explain it, per engine configuration,
// each a mean over the repeats with its 95% confidence interval, next to
// the numbers #22332 published. It applies to sets whose runs ran a k8s
// workload with the maintenance figures (ComputeK8sStorage returns nil
// otherwise).
type K8sStorage struct {
	Rows []K8sStorageRow
	// Skipped lists the k8s runs left out of the table and why: a run
	// that raised the NOSPACE alarm measured a store refusing writes, and
	// one without compaction or defrag figures has nothing to compare.
	Skipped []string
}

// K8sStorageRow is one engine configuration's figures over its repeats.
// Sizes are in GB (10^9 bytes), rates in ops per second.
type K8sStorageRow struct {
	Engine  string // engine and its options, e.g. "pebble wal=disabled"
	Repeats int
	// LogicalGB is the live logical bytes (key + value of the objects that
	// exist) at the end; DiskGB the engine's files on disk at the end;
	// SpaceAmp the last interval's size on disk over its live bytes.
	LogicalGB, DiskGB, SpaceAmp Cost
	// CapacityWriteQPS is the closed-loop probe's writes per second (the
	// figure #22332's "write throughput" is); WriteQPSOutside and
	// WriteQPSDuring the open loop's writes per second outside every
	// compaction and defrag and during compactions; WriteDipPct how much
	// lower the latter is.
	CapacityWriteQPS, WriteQPSOutside, WriteQPSDuring, WriteDipPct Cost
	// Compactions per run, etcd's "took" of each compaction (the
	// key-bucket deletion etcd logs as "finished scheduled compaction"):
	// the shortest and longest over every run, and the mean.
	Compactions              Cost
	TookMinS, TookMaxS       float64
	TookMeanS                Cost
	KeysDeletedPerCompaction Cost
	// P99WriteMs is the update's p99 (open loop, from the intended start);
	// P99DuringMs the p99 of every op during compactions; MaxStallMs the
	// longest stall (no op completed) during a compaction.
	P99WriteMs, P99DuringMs, MaxStallMs Cost
	// WatchP99Ms is the watch event delivery p99 (write ack to event) and
	// WatchMaxLag the largest lag in revisions at the once-a-second checks.
	WatchP99Ms, WatchMaxLag Cost
	// Fragmentation is the engine's free or dead share of its files at the
	// end (results.Fragmentation); PeakRSSGB the process's peak RSS.
	Fragmentation, PeakRSSGB Cost
	// Defrags per run and their mean duration.
	Defrags, DefragS Cost
	// Steady counts the runs whose steady-state verdict is "reached", of
	// Repeats; Missed the open loop's ops left undone at the end (summed).
	Steady int
	Missed int64
	// Consistent is false when a run's linearizability verdict is not ok.
	Consistent bool
}

// k8sStorageEngine is a run's engine configuration label.
func k8sStorageEngine(r Run) string {
	c := r.Result.Config
	label := c.Engine
	for _, p := range r.Params {
		if p.Name == "engine-opt" && p.Value != "" {
			label += " " + p.Value
		}
	}
	return label
}

// ComputeK8sStorage builds the section from the set's k8s runs that have
// maintenance figures, or returns nil when there are none.
func ComputeK8sStorage(s *Set) *K8sStorage {
	byEngine := map[string][]Run{}
	var order, skipped []string
	for _, r := range s.Runs {
		if r.Result.K8s == nil {
			continue
		}
		if why := k8sStorageSkip(r.Result); why != "" {
			skipped = append(skipped, fmt.Sprintf("%s repeat %d: %s", k8sStorageEngine(r), r.Repeat, why))
			continue
		}
		e := k8sStorageEngine(r)
		if _, ok := byEngine[e]; !ok {
			order = append(order, e)
		}
		byEngine[e] = append(byEngine[e], r)
	}
	if len(order) == 0 && len(skipped) == 0 {
		return nil
	}
	// bbolt first, pebble with its WAL synced before pebble without one:
	// the reading order of #22332's table, whatever order the runs ran in.
	sort.SliceStable(order, func(i, j int) bool {
		di, dj := strings.Contains(order[i], "wal=disabled"), strings.Contains(order[j], "wal=disabled")
		if di != dj {
			return dj
		}
		return order[i] < order[j]
	})
	out := &K8sStorage{Skipped: skipped}
	for _, e := range order {
		out.Rows = append(out.Rows, k8sStorageRow(e, byEngine[e]))
	}
	return out
}

const gb = 1e9

// k8sStorageSkip says why a k8s run cannot stand in the table, or "".
func k8sStorageSkip(r *results.Result) string {
	if n := r.Events[event.AlarmRaised]; n > 0 {
		return fmt.Sprintf("the NOSPACE alarm was raised (quota %d bytes; %d of %d ops failed)", r.Config.QuotaBytes, r.Summary.Errors, r.Summary.Ops)
	}
	if r.Maintenance == nil {
		return "no compaction or defrag ran (no maintenance figures)"
	}
	return ""
}

func k8sStorageRow(engine string, runs []Run) K8sStorageRow {
	row := K8sStorageRow{Engine: engine, Repeats: len(runs), TookMinS: math.Inf(1), Consistent: true}
	var (
		logical, disk, amp, capW, outW, durW, dip, nComp, tookMean, keysDel []float64
		p99w, p99d, stall, wlat, wlag, frag, rss, nDefrag, defragS          []float64
	)
	for _, r := range runs {
		res := r.Result
		m := res.Maintenance
		logical = append(logical, float64(res.K8s.LiveLogicalBytes)/gb)
		disk = append(disk, float64(res.Disk.DBSizeBytes)/gb)
		if m.SpaceAmp != nil && m.SpaceAmp.Last > 0 {
			amp = append(amp, m.SpaceAmp.Last)
		}
		capW = append(capW, res.Summary.CapacityWriteOpsS)
		outW = append(outW, m.Outside.WriteOpsS)
		if c := m.Compaction; c != nil {
			durW = append(durW, c.MeanWriteOpsS)
			dip = append(dip, c.WriteDipPct)
			stall = append(stall, c.MaxStallMs)
			nComp = append(nComp, float64(c.Count))
			tookMean = append(tookMean, c.MeanTookS)
		} else {
			nComp = append(nComp, 0)
		}
		var del, n, worstP99 float64
		for _, ev := range m.Events {
			if ev.Kind != results.MaintenanceCompaction {
				continue
			}
			row.TookMinS = math.Min(row.TookMinS, ev.TookS)
			row.TookMaxS = math.Max(row.TookMaxS, ev.TookS)
			del += float64(ev.KeysDeleted)
			n++
			worstP99 = math.Max(worstP99, ev.During.P99Us/1e3)
		}
		if n > 0 {
			keysDel = append(keysDel, del/n)
		}
		if worstP99 > 0 {
			p99d = append(p99d, worstP99)
		}
		if op, ok := res.Ops["txn-cas"]; ok && op.Count > 0 {
			p99w = append(p99w, op.P99Us/1e3)
		}
		if w := res.Watch; w != nil {
			wlat = append(wlat, w.EventLatency.P99Us/1e3)
			wlag = append(wlag, float64(w.MaxLagRevs))
		}
		if m.Fragmentation != nil {
			frag = append(frag, m.Fragmentation.Last)
		}
		rss = append(rss, float64(res.Memory.PeakRSSBytes)/gb)
		if d := m.Defrag; d != nil {
			nDefrag = append(nDefrag, float64(d.Count))
			defragS = append(defragS, d.MeanDurationS)
		} else {
			nDefrag = append(nDefrag, 0)
		}
		if res.SteadyState != nil && res.SteadyState.Verdict == results.SteadyReached {
			row.Steady++
		}
		row.Missed += res.Summary.OpenLoopMissed
		if l := res.Linearizability; l != nil && l.Verdict == "illegal" {
			row.Consistent = false
		}
	}
	if math.IsInf(row.TookMinS, 1) {
		row.TookMinS = 0
	}
	row.LogicalGB, row.DiskGB, row.SpaceAmp = costOf(logical), costOf(disk), costOf(amp)
	row.CapacityWriteQPS, row.WriteQPSOutside, row.WriteQPSDuring, row.WriteDipPct = costOf(capW), costOf(outW), costOf(durW), costOf(dip)
	row.Compactions, row.TookMeanS, row.KeysDeletedPerCompaction = costOf(nComp), costOf(tookMean), costOf(keysDel)
	row.P99WriteMs, row.P99DuringMs, row.MaxStallMs = costOf(p99w), costOf(p99d), costOf(stall)
	row.WatchP99Ms, row.WatchMaxLag = costOf(wlat), costOf(wlag)
	row.Fragmentation, row.PeakRSSGB = costOf(frag), costOf(rss)
	row.Defrags, row.DefragS = costOf(nDefrag), costOf(defragS)
	return row
}

// issue22332 is what etcd issue #22332 published (bbolt and pebble
// columns; its badger column left out), at ~14.5 GB logical.
var issue22332 = [][2]string{
	{"14.7 GB (1.01× logical)", "2.35 GB (0.16× logical)"},
	{"~30,000", "~34,000"},
	{"2.0–7.1 s", "0.8–2.6 s"},
	{"~15,900 (−47%)", "~35,700 (+5%)"},
}

// Markdown renders the section: the #22332 table with the published
// numbers beside it, then the figures behind it.
func (k *K8sStorage) Markdown() string {
	var b strings.Builder
	b.WriteString("## etcd issue #22332's table\n\n")
	b.WriteString("Each cell is a mean over the repeats ± the half-width of its 95% confidence interval (no interval with one repeat). Sizes in GB (10^9 bytes). The last columns are what #22332 published at ~14.5 GB logical (its bbolt and pebble columns), for comparison, not as a target.\n\n")
	b.WriteString("| | ")
	for _, r := range k.Rows {
		fmt.Fprintf(&b, "%s | ", r.Engine)
	}
	b.WriteString("#22332 bbolt | #22332 pebble |\n|---|")
	for range k.Rows {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	line := func(name string, ref int, cell func(K8sStorageRow) string) {
		fmt.Fprintf(&b, "| %s | ", name)
		for _, r := range k.Rows {
			fmt.Fprintf(&b, "%s | ", cell(r))
		}
		if ref >= 0 {
			fmt.Fprintf(&b, "%s | %s |\n", issue22332[ref][0], issue22332[ref][1])
		} else {
			b.WriteString(" | |\n")
		}
	}
	line("disk footprint, GB (end of run)", 0, func(r K8sStorageRow) string {
		return fmt.Sprintf("%s (%s× logical)", r.DiskGB, r.SpaceAmp)
	})
	line("live logical data, GB (end of run)", -1, func(r K8sStorageRow) string { return r.LogicalGB.String() })
	line("write QPS, closed-loop capacity probe", 1, func(r K8sStorageRow) string { return r.CapacityWriteQPS.String() })
	line("MVCC compaction time (etcd's \"took\"), min–max over runs; mean", 2, func(r K8sStorageRow) string {
		return fmt.Sprintf("%.2f–%.2f s; %s s", r.TookMinS, r.TookMaxS, r.TookMeanS)
	})
	line("write QPS during compaction (open loop), change vs outside", 3, func(r K8sStorageRow) string {
		return fmt.Sprintf("%s (%s%%)", r.WriteQPSDuring, negate(r.WriteDipPct))
	})
	line("write QPS outside compaction and defrag (open loop)", -1, func(r K8sStorageRow) string { return r.WriteQPSOutside.String() })
	line("compactions per run; keys deleted per compaction", -1, func(r K8sStorageRow) string {
		return fmt.Sprintf("%s; %s", r.Compactions, r.KeysDeletedPerCompaction)
	})
	line("update p99, ms (whole run, from intended start)", -1, func(r K8sStorageRow) string { return r.P99WriteMs.String() })
	line("worst p99 during a compaction, ms", -1, func(r K8sStorageRow) string { return r.P99DuringMs.String() })
	line("longest stall during compactions, ms", -1, func(r K8sStorageRow) string { return r.MaxStallMs.String() })
	line("watch event p99, ms; largest watch lag, revisions", -1, func(r K8sStorageRow) string {
		return fmt.Sprintf("%s; %s", r.WatchP99Ms, r.WatchMaxLag)
	})
	line("fragmentation at the end (free or dead share of the files)", -1, func(r K8sStorageRow) string { return r.Fragmentation.String() })
	line("defrags per run; mean defrag time, s", -1, func(r K8sStorageRow) string { return fmt.Sprintf("%s; %s", r.Defrags, r.DefragS) })
	line("peak RSS, GB (process: node, clients, harness)", -1, func(r K8sStorageRow) string { return r.PeakRSSGB.String() })
	line("steady state reached (runs)", -1, func(r K8sStorageRow) string { return fmt.Sprintf("%d of %d", r.Steady, r.Repeats) })
	line("open-loop ops left undone at the end", -1, func(r K8sStorageRow) string { return fmt.Sprint(r.Missed) })
	b.WriteString("\n")
	for _, s := range k.Skipped {
		fmt.Fprintf(&b, "Left out of the table: %s.\n\n", s)
	}
	for _, r := range k.Rows {
		if !r.Consistent {
			fmt.Fprintf(&b, "**%s: a run failed the linearizability check; its figures are not those of a correct system.**\n\n", r.Engine)
		}
	}
	b.WriteString("How to read it: write QPS is writes (updates, creates, deletes) completed per second. #22332's \"write throughput\" was a closed-loop maximum, so compare it with the capacity probe; the open loop then offers a fixed fraction of that capacity, so \"during compaction\" shows how much of the offered writes the engine still completed while a compaction ran (a drop means it fell behind). Compaction time is the background deletion of the compacted revisions (etcd's \"finished scheduled compaction\" took), per member.\n\n")
	return b.String()
}

// negate shows a dip as a change: a 47% dip is −47%.
func negate(c Cost) Cost { return Cost{Mean: -c.Mean, Half: c.Half} }

// k8sStorageFigures draws the over-time figures (plots.RunDirMaintenance-
// Figures: throughput, latency, stalls, CPU, RSS, disk writes, db size and
// live bytes, space amplification, fragmentation, pebble's L0, debt and
// stalls, with compactions and defrags as bands) of the first repeat of
// each engine configuration into dir/plots/k8s-<engine>/.
func k8sStorageFigures(s *Set, dir string, style plots.Style) ([]figure, error) {
	var figs []figure
	for _, r := range k8sFirstRepeats(s) {
		e := k8sStorageEngine(r)
		sub := PlotsDir + "/k8s-" + sanitize(e)
		paths, err := plots.RunDirMaintenanceFigures(r.Dir, e, filepath.Join(dir, sub), style, plots.SaveOptions{Formats: []plots.Format{plots.PNG}})
		if err != nil {
			return nil, fmt.Errorf("report: over-time figures of %s: %w", r.Dir, err)
		}
		for _, p := range paths {
			name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
			figs = append(figs, figure{file: sub + "/" + filepath.Base(p),
				caption: fmt.Sprintf("%s over time (%s, repeat %d); compactions and defrags as bands", strings.TrimPrefix(name, "maint-"), e, r.Repeat)})
		}
	}
	return figs, nil
}

// k8sStorageEvents lists each engine configuration's first repeat's
// compactions and defrags (MaintenanceMarkdown).
func k8sStorageEvents(s *Set) string {
	var b strings.Builder
	for _, r := range k8sFirstRepeats(s) {
		b.WriteString(MaintenanceMarkdown(fmt.Sprintf("%s, repeat %d", k8sStorageEngine(r), r.Repeat), r.Result.Maintenance))
		b.WriteString("\n")
	}
	return b.String()
}

// k8sFirstRepeats returns each engine configuration's first k8s run with
// maintenance figures, in the set's order.
func k8sFirstRepeats(s *Set) []Run {
	seen := map[string]bool{}
	var out []Run
	for _, r := range s.Runs {
		if r.Result.K8s == nil || r.Result.Maintenance == nil || seen[k8sStorageEngine(r)] {
			continue
		}
		seen[k8sStorageEngine(r)] = true
		out = append(out, r)
	}
	return out
}
