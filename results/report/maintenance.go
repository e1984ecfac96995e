package report

import (
	"fmt"
	"strings"

	"etcdlab/results"
)

// MaintenanceMarkdown renders one run's compactions and defrags
// (result.json's maintenance) as markdown: a line per kind with its
// summary, the baseline outside every event, and a table with a row per
// event. It returns "" for a run without maintenance.
func MaintenanceMarkdown(label string, m *results.Maintenance) string {
	if m == nil || len(m.Events) == 0 {
		return ""
	}
	var b strings.Builder
	o := m.Outside
	fmt.Fprintf(&b, "**%s**: outside every event %s ops/s (writes %s/s), p50 %s µs, p99 %s µs, longest stall %s ms (%d s; percentiles from %s).\n",
		label, num(o.OpsS), num(o.WriteOpsS), num(o.P50Us), num(o.P99Us), num(o.StallMs), o.Intervals, m.LatencySource)
	for _, k := range []struct {
		name string
		s    *results.MaintenanceKind
	}{{"compactions", m.Compaction}, {"defrags", m.Defrag}} {
		if k.s == nil {
			continue
		}
		took := ""
		if k.s.MeanTookS > 0 {
			took = fmt.Sprintf(" (etcd's \"took\": mean %s s, max %s s)", num(k.s.MeanTookS), num(k.s.MaxTookS))
		}
		fmt.Fprintf(&b, "%d %s: mean %s s, max %s s%s; during them throughput %+.1f%%, writes %+.1f%%, p99 %+.0f%%, longest stall %s ms.\n",
			k.s.Count, k.name, num(k.s.MeanDurationS), num(k.s.MaxDurationS), took, -k.s.ThroughputDipPct, -k.s.WriteDipPct,
			k.s.P99ChangePct, num(k.s.MaxStallMs))
	}
	if m.SpaceAmp != nil {
		fmt.Fprintf(&b, "Space amplification (size on disk / live logical bytes): last %s, max %s.\n", num(m.SpaceAmp.Last), num(m.SpaceAmp.Max))
	}
	if m.Fragmentation != nil {
		fmt.Fprintf(&b, "Fragmentation (dead share of the engine's files): last %s, max %s.\n", num(m.Fragmentation.Last), num(m.Fragmentation.Max))
	}
	if len(m.DefragErrors) > 0 {
		fmt.Fprintf(&b, "Scheduled defrag failures: %s.\n", strings.Join(m.DefragErrors, "; "))
	}
	b.WriteString("\n| event | nodes | start s | duration s | revision | keys deleted | size before → after MiB | ops/s | writes/s | dip % | write dip % | p99 µs | p99 change % | stall ms |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, e := range m.Events {
		nodes := make([]string, len(e.Nodes))
		for i, n := range e.Nodes {
			nodes[i] = fmt.Sprint(n)
		}
		rev, keys, size := "", "", ""
		if e.Kind == results.MaintenanceCompaction {
			rev, keys = fmt.Sprint(e.Revision), fmt.Sprint(e.KeysDeleted)
		} else {
			size = fmt.Sprintf("%s → %s", num(float64(e.DiskSizeBeforeBytes)/(1<<20)), num(float64(e.DiskSizeAfterBytes)/(1<<20)))
		}
		d := e.During
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %+.0f | %s |\n",
			e.Kind, strings.Join(nodes, ","), num(e.StartS), num(e.DurationS), rev, keys, size,
			num(d.OpsS), num(d.WriteOpsS), num(e.ThroughputDipPct), num(e.WriteDipPct), num(d.P99Us), e.P99ChangePct, num(d.StallMs))
	}
	return b.String()
}
