package results

import (
	"math"
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Event kinds of the maintenance figures, as package internal/event spells
// them (results imports nothing of etcdlab's).
const (
	MaintenanceCompaction = "compaction"
	MaintenanceDefrag     = "defrag"
)

// DefaultWriteOps returns the op kinds that write, by name (workloads'
// OpKind.IsWrite), for timelines whose writer did not say
// (Maintenance.WriteOps).
func DefaultWriteOps() []string { return []string{"put", "insert", "delete", "rmw", "txn-cas"} }

// Maintenance is what the run's compactions and defrags took and what they
// did to the workload, computed from the timeline (ComputeMaintenance):
// Result.Maintenance, absent when the run had neither.
type Maintenance struct {
	// Events has one entry per compaction (grouped over the nodes by
	// revision: every member compacts the same revision) and per defrag
	// (one per node: the scheduled defrag runs the nodes one after
	// another), in time order.
	Events []MaintenanceEvent `json:"events"`
	// Outside is the workload in the intervals that no event overlaps, the
	// baseline of every dip.
	Outside MaintenanceWindow `json:"outside"`
	// Compaction and Defrag sum up the events of each kind (absent when
	// there were none).
	Compaction *MaintenanceKind `json:"compaction,omitempty"`
	Defrag     *MaintenanceKind `json:"defrag,omitempty"`
	// SpaceAmp is the size on disk over the live logical bytes (key and
	// value bytes of the live keys), per interval; absent when the live
	// bytes are unknown. Fragmentation is the engine's free or dead share
	// of its files (see Fragmentation); absent when the engine's figures
	// are missing.
	SpaceAmp      *SeriesStats `json:"space_amp,omitempty"`
	Fragmentation *SeriesStats `json:"fragmentation,omitempty"`
	// LatencySource says where the percentiles come from: "hdr" (the
	// merged interval histograms of the windows: exact) or "intervals"
	// (the op-weighted mean of the per-second p50 and p99: an
	// approximation, when no histograms were given).
	LatencySource string `json:"latency_source"`
	// WriteOps are the op kinds counted as writes.
	WriteOps []string `json:"write_ops"`
	// DefragRounds is how many scheduled defrag rounds ran and
	// DefragErrors their failures (run flag --defrag-interval).
	DefragRounds int      `json:"defrag_rounds,omitempty"`
	DefragErrors []string `json:"defrag_errors,omitempty"`
}

// MaintenanceEvent is one compaction or defrag.
type MaintenanceEvent struct {
	Kind string `json:"kind"`
	// Nodes are the nodes it ran on (0 on the mvcc and engine layers).
	Nodes []int `json:"nodes"`
	// StartS and EndS bound it over all its nodes (seconds from the start
	// of the measured phase); DurationS is the longest node's own
	// duration: for a compaction, from its index compaction to its last
	// key-bucket batch (etcd logs the deletion part, TookS, as "finished
	// scheduled compaction"); for a defrag, the defrag call.
	StartS    float64 `json:"start_s"`
	EndS      float64 `json:"end_s"`
	DurationS float64 `json:"duration_s"`
	// Compaction figures (the largest over the nodes).
	Revision    int64   `json:"revision,omitempty"`
	TookS       float64 `json:"took_s,omitempty"`
	KeysDeleted int64   `json:"keys_deleted,omitempty"`
	Batches     int64   `json:"batches,omitempty"`
	// Defrag figures: the backend size (what the quota compares) and the
	// size on disk before and after.
	DBSizeBeforeBytes   int64 `json:"db_size_before_bytes,omitempty"`
	DBSizeAfterBytes    int64 `json:"db_size_after_bytes,omitempty"`
	DiskSizeBeforeBytes int64 `json:"disk_size_before_bytes,omitempty"`
	DiskSizeAfterBytes  int64 `json:"disk_size_after_bytes,omitempty"`
	// During is the workload in the intervals the event overlaps.
	During MaintenanceWindow `json:"during"`
	// ThroughputDipPct and WriteDipPct are how much lower the throughput
	// (all ops, writes) was during the event than outside every event,
	// in percent (negative: higher); P50ChangePct and P99ChangePct how
	// much higher the latency was. 0 when a side has no ops.
	ThroughputDipPct float64 `json:"throughput_dip_pct"`
	WriteDipPct      float64 `json:"write_dip_pct"`
	P50ChangePct     float64 `json:"p50_change_pct"`
	P99ChangePct     float64 `json:"p99_change_pct"`
}

// MaintenanceWindow is the workload over a set of intervals, each weighted
// by the share of it the window covers: the rates are the covered parts'
// (each interval's rate taken as uniform within it, the timeline's 1 s
// resolution), the percentiles come from the intervals the window covers at
// least half of (or, if none, the one it covers most), and StallMs is the
// longest stall (1 ms resolution) of the intervals it touches that overlaps
// the window (Sample.StallStartS; a timeline without it: any of theirs). Seconds is
// the covered time; Intervals counts the intervals touched.
type MaintenanceWindow struct {
	Intervals  int     `json:"intervals"`
	Seconds    float64 `json:"seconds"`
	OpsS       float64 `json:"ops_s"`
	WriteOpsS  float64 `json:"write_ops_s"`
	P50Us      float64 `json:"p50_us"`
	P99Us      float64 `json:"p99_us"`
	StallMs    float64 `json:"stall_ms"`
	MeanCPUPct float64 `json:"mean_cpu_pct,omitempty"`
}

// MaintenanceKind sums up the events of one kind. MeanTookS and MaxTookS
// (compactions) are etcd's "took" of "finished scheduled compaction": the
// key-bucket deletion without the index compaction, the figure etcd's logs
// give and #22332 quotes.
type MaintenanceKind struct {
	Count            int     `json:"count"`
	MeanDurationS    float64 `json:"mean_duration_s"`
	MaxDurationS     float64 `json:"max_duration_s"`
	MeanTookS        float64 `json:"mean_took_s,omitempty"`
	MaxTookS         float64 `json:"max_took_s,omitempty"`
	MeanThroughputS  float64 `json:"mean_throughput_ops_s"`
	MeanWriteOpsS    float64 `json:"mean_write_ops_s"`
	ThroughputDipPct float64 `json:"throughput_dip_pct"` // over all its events' intervals
	WriteDipPct      float64 `json:"write_dip_pct"`
	P99ChangePct     float64 `json:"p99_change_pct"`
	MaxStallMs       float64 `json:"max_stall_ms"`
}

// SeriesStats summarizes a per-interval series.
type SeriesStats struct {
	Last float64 `json:"last"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
	Min  float64 `json:"min"`
}

// SpaceAmp is an interval's size on disk over its live logical bytes (ok
// false when either is unknown).
func SpaceAmp(s Sample) (float64, bool) {
	if s.DBSize <= 0 || s.LiveLogicalBytes <= 0 {
		return 0, false
	}
	return float64(s.DBSize) / float64(s.LiveLogicalBytes), true
}

// Fragmentation is the share of the engine's files that holds dead data,
// from the engine figures of an interval (Extra; the leader's on a
// cluster):
//   - bbolt: free and pending pages over the file size
//     (bbolt.free_alloc_bytes / bbolt.file_size): space a compaction freed
//     that only a defrag gives back;
//   - pebble: obsolete and zombie sstables (compacted away, waiting for
//     deletion or for a reader to let go) over pebble's disk usage
//     ((pebble.table.obsolete_bytes + pebble.table.zombie_bytes) /
//     pebble.disk_space_usage). Garbage inside live sstables (overwritten
//     versions and tombstones a compaction has not dropped yet) is not in
//     pebble's metrics; it shows in SpaceAmp. PebbleNotLive adds the WAL
//     and the manifest.
//
// ok is false without the engine's figures.
func Fragmentation(s Sample) (float64, bool) {
	if fs := s.Extra["bbolt.file_size"]; fs > 0 {
		if free, ok := s.Extra["bbolt.free_alloc_bytes"]; ok {
			return free / fs, true
		}
	}
	if du := s.Extra["pebble.disk_space_usage"]; du > 0 {
		obs, ok1 := s.Extra["pebble.table.obsolete_bytes"]
		zom, ok2 := s.Extra["pebble.table.zombie_bytes"]
		if ok1 || ok2 {
			return (obs + zom) / du, true
		}
	}
	return 0, false
}

// PebbleNotLive is the share of pebble's disk usage that is not in live
// sstables ((pebble.disk_space_usage − pebble.table.live_bytes) /
// pebble.disk_space_usage): Fragmentation's dead sstables plus the WAL
// (recycled files included) and the manifest. ok is false without pebble's
// figures.
func PebbleNotLive(s Sample) (float64, bool) {
	if du := s.Extra["pebble.disk_space_usage"]; du > 0 {
		if live, ok := s.Extra["pebble.table.live_bytes"]; ok {
			return math.Max(du-live, 0) / du, true
		}
	}
	return 0, false
}

// DiskWriteRates returns, per interval sample of timeline (in order), the
// bytes per second the process wrote to storage in it (DiskWritten is
// cumulative); -1 where unknown.
func DiskWriteRates(intervals []Sample) []float64 {
	out := make([]float64, len(intervals))
	var prev int64
	for i, s := range intervals {
		d := s.DiskWritten - prev
		if s.LengthS <= 0 || d < 0 {
			out[i] = -1 // unknown (not recorded in this interval)
			continue
		}
		out[i] = float64(d) / s.LengthS
		prev = s.DiskWritten
	}
	return out
}

// Intervals returns the interval samples of a timeline in time order.
func Intervals(timeline []Sample) []Sample {
	var out []Sample
	for _, s := range timeline {
		if s.Type == SampleInterval {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

// MaintenanceBands returns the timed compaction and defrag events of a
// timeline (event samples with a span), in time order.
func MaintenanceBands(timeline []Sample) []Sample {
	var out []Sample
	for _, s := range timeline {
		if s.Type == SampleEvent && (s.Kind == MaintenanceCompaction || s.Kind == MaintenanceDefrag) && s.EndS > s.T {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

// ComputeMaintenance computes the maintenance figures of a timeline: of the
// compactions and defrags that overlap its intervals (the measured phase;
// those of the recovery phases after it, such as the quota recovery's, are
// left out: no workload ran then). latency
// (optional) are the run's interval histograms (the bench has them; from a
// run directory give nil): with them the percentiles are exact, without
// them an op-weighted mean of the per-second ones. writeOps names the op kinds that write (nil: put, insert, delete,
// rmw, txn-cas). It returns nil when the timeline has no timed compaction
// or defrag in the measured phase.
func ComputeMaintenance(timeline []Sample, latency []LogInterval, writeOps []string) *Maintenance {
	ivs := Intervals(timeline)
	var bands []Sample
	if n := len(ivs); n > 0 {
		first, last := ivs[0].T, ivs[n-1].T+ivs[n-1].LengthS
		for _, b := range MaintenanceBands(timeline) {
			if b.T < last && b.EndS > first {
				bands = append(bands, b)
			}
		}
	}
	if len(bands) == 0 {
		return nil
	}
	if writeOps == nil {
		writeOps = DefaultWriteOps()
	}
	writes := map[string]bool{}
	for _, op := range writeOps {
		writes[op] = true
	}
	w := windowCalc{ivs: ivs, writes: writes, hists: decodeIntervals(latency)}
	m := &Maintenance{Events: groupEvents(bands), WriteOps: writeOps, LatencySource: "intervals"}
	if w.hists != nil {
		m.LatencySource = "hdr"
	}

	in := make([]bool, len(ivs)) // overlapped by some event
	perKind := map[string][]float64{}
	for i := range m.Events {
		e := &m.Events[i]
		sel := w.overlapping(e.StartS, e.EndS)
		if perKind[e.Kind] == nil {
			perKind[e.Kind] = make([]float64, len(ivs))
		}
		for j, f := range sel {
			if f > 0 {
				in[j] = true
				perKind[e.Kind][j] = math.Max(perKind[e.Kind][j], f)
			}
		}
		e.During = w.window(sel)
		e.During.StallMs = w.stallWithin(sel, e.StartS, e.EndS)
	}
	out := make([]float64, len(ivs))
	for j := range in {
		if !in[j] {
			out[j] = 1
		}
	}
	m.Outside = w.window(out)
	for i := range m.Events {
		e := &m.Events[i]
		e.ThroughputDipPct = dip(e.During.OpsS, m.Outside.OpsS)
		e.WriteDipPct = dip(e.During.WriteOpsS, m.Outside.WriteOpsS)
		e.P50ChangePct = change(e.During.P50Us, m.Outside.P50Us)
		e.P99ChangePct = change(e.During.P99Us, m.Outside.P99Us)
	}
	for _, kind := range []string{MaintenanceCompaction, MaintenanceDefrag} {
		sel := perKind[kind]
		if sel == nil {
			continue
		}
		k := &MaintenanceKind{}
		var sumOps, sumWrites float64
		for _, e := range m.Events {
			if e.Kind != kind {
				continue
			}
			k.Count++
			k.MeanDurationS += e.DurationS
			k.MaxDurationS = math.Max(k.MaxDurationS, e.DurationS)
			k.MeanTookS += e.TookS
			k.MaxTookS = math.Max(k.MaxTookS, e.TookS)
			sumOps += e.During.OpsS
			sumWrites += e.During.WriteOpsS
			k.MaxStallMs = math.Max(k.MaxStallMs, e.During.StallMs)
		}
		k.MeanDurationS /= float64(k.Count)
		k.MeanTookS /= float64(k.Count)
		k.MeanThroughputS, k.MeanWriteOpsS = sumOps/float64(k.Count), sumWrites/float64(k.Count)
		all := w.window(sel)
		k.ThroughputDipPct = dip(all.OpsS, m.Outside.OpsS)
		k.WriteDipPct = dip(all.WriteOpsS, m.Outside.WriteOpsS)
		k.P99ChangePct = change(all.P99Us, m.Outside.P99Us)
		if kind == MaintenanceCompaction {
			m.Compaction = k
		} else {
			m.Defrag = k
		}
	}
	m.SpaceAmp = seriesStats(ivs, SpaceAmp)
	m.Fragmentation = seriesStats(ivs, Fragmentation)
	return m
}

// groupEvents turns the bands into events: compactions grouped by revision
// over the nodes, defrags one each.
func groupEvents(bands []Sample) []MaintenanceEvent {
	var out []MaintenanceEvent
	byRev := map[int64]int{}
	for _, b := range bands {
		v := b.Values
		d := b.EndS - b.T
		if b.Kind == MaintenanceCompaction {
			rev := int64(v["revision"])
			i, ok := byRev[rev]
			if !ok || rev == 0 {
				out = append(out, MaintenanceEvent{Kind: b.Kind, Revision: rev, StartS: b.T, EndS: b.EndS})
				i = len(out) - 1
				byRev[rev] = i
			}
			e := &out[i]
			e.Nodes = append(e.Nodes, b.Node)
			e.StartS, e.EndS = math.Min(e.StartS, b.T), math.Max(e.EndS, b.EndS)
			e.DurationS = math.Max(e.DurationS, d)
			e.TookS = math.Max(e.TookS, v["took_s"])
			e.KeysDeleted = max(e.KeysDeleted, int64(v["keys_deleted"]))
			e.Batches = max(e.Batches, int64(v["batches"]))
			continue
		}
		out = append(out, MaintenanceEvent{Kind: b.Kind, Nodes: []int{b.Node}, StartS: b.T, EndS: b.EndS, DurationS: d,
			DBSizeBeforeBytes: int64(v["db_size_before_bytes"]), DBSizeAfterBytes: int64(v["db_size_after_bytes"]),
			DiskSizeBeforeBytes: int64(v["db_disk_size_before_bytes"]), DiskSizeAfterBytes: int64(v["db_disk_size_after_bytes"])})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartS < out[j].StartS })
	return out
}

// windowCalc computes the workload figures of sets of intervals.
type windowCalc struct {
	ivs    []Sample
	writes map[string]bool
	// hists are the decoded interval histograms by start (ms), all op
	// kinds merged; nil without latency logs.
	hists map[int64]*hdrhistogram.Histogram
}

// overlapping returns, per interval, the share of it that [start, end)
// covers (0: none).
func (w windowCalc) overlapping(start, end float64) []float64 {
	sel := make([]float64, len(w.ivs))
	for i, s := range w.ivs {
		if s.LengthS <= 0 {
			continue
		}
		cov := math.Min(end, s.T+s.LengthS) - math.Max(start, s.T)
		sel[i] = math.Max(math.Min(cov/s.LengthS, 1), 0)
	}
	return sel
}

// stallWithin is the longest stall of the intervals sel touches that
// overlaps [start, end): each interval lists its stalls of 10 ms or more
// with their starts (Sample.Stalls), and its longest (StallMs,
// StallStartS). A timeline without the starts (older runs) gives each
// touched interval's longest, wherever it was. Stalls under 10 ms that are
// not an interval's longest are not placed: an event without a longer one
// gets 0.
func (w windowCalc) stallWithin(sel []float64, start, end float64) float64 {
	longest := 0.0
	in := func(st Stall) bool { return st.StartS < end && st.StartS+st.Ms/1e3 > start }
	for i, f := range sel {
		s := w.ivs[i]
		if f <= 0 || s.StallMs <= 0 {
			continue
		}
		if s.StallStartS == 0 && s.Stalls == nil {
			longest = math.Max(longest, s.StallMs) // not placed
			continue
		}
		if in(Stall{StartS: s.StallStartS, Ms: s.StallMs}) {
			longest = math.Max(longest, s.StallMs)
		}
		for _, st := range s.Stalls {
			if in(st) {
				longest = math.Max(longest, st.Ms)
			}
		}
	}
	return longest
}

// window computes the workload over the intervals weighted by sel (see
// MaintenanceWindow).
func (w windowCalc) window(sel []float64) MaintenanceWindow {
	var mw MaintenanceWindow
	var ops, writes, cpu float64
	var p50w, p99w, p50n float64
	var h *hdrhistogram.Histogram
	most, mostW := -1, 0.0 // the interval covered most, for the percentiles
	for i, f := range sel {
		if f <= 0 {
			continue
		}
		s := w.ivs[i]
		mw.Intervals++
		mw.Seconds += s.LengthS * f
		ops += float64(s.Ops) * f
		for name, op := range s.PerOp {
			if w.writes[name] {
				writes += float64(op.Count) * f
			}
		}
		cpu += s.CPUPct * s.LengthS * f
		mw.StallMs = math.Max(mw.StallMs, s.StallMs)
		if f > mostW {
			most, mostW = i, f
		}
	}
	// The percentiles, from the intervals covered at least half, else the
	// one covered most.
	pick := func(i int) bool { return sel[i] >= 0.5 || mostW < 0.5 && i == most }
	for i := range sel {
		if sel[i] <= 0 || !pick(i) {
			continue
		}
		s := w.ivs[i]
		p50w += s.P50Us * float64(s.Ops)
		p99w += s.P99Us * float64(s.Ops)
		p50n += float64(s.Ops)
		if w.hists != nil {
			if ih := w.hists[msKey(s.T)]; ih != nil {
				if h == nil {
					h = hdrhistogram.New(ih.LowestTrackableValue(), ih.HighestTrackableValue(), int(ih.SignificantFigures()))
				}
				h.Merge(ih)
			}
		}
	}
	if mw.Seconds > 0 {
		mw.OpsS, mw.WriteOpsS = ops/mw.Seconds, writes/mw.Seconds
		mw.MeanCPUPct = cpu / mw.Seconds
	}
	switch {
	case h != nil && h.TotalCount() > 0:
		mw.P50Us = float64(h.ValueAtQuantile(50)) / 1e3
		mw.P99Us = float64(h.ValueAtQuantile(99)) / 1e3
	case p50n > 0:
		mw.P50Us, mw.P99Us = p50w/p50n, p99w/p50n
	}
	return mw
}

// msKey keys an interval by its start in milliseconds.
func msKey(t float64) int64 { return int64(math.Round(t * 1e3)) }

// decodeIntervals merges the interval histograms of every op kind by
// interval start; nil when there are none or one cannot be decoded.
func decodeIntervals(latency []LogInterval) map[int64]*hdrhistogram.Histogram {
	if len(latency) == 0 {
		return nil
	}
	out := map[int64]*hdrhistogram.Histogram{}
	for _, li := range latency {
		h, err := hdrhistogram.Decode([]byte(li.Payload))
		if err != nil {
			return nil
		}
		k := msKey(li.Start.Seconds())
		if cur := out[k]; cur != nil {
			cur.Merge(h)
		} else {
			out[k] = h
		}
	}
	return out
}

func seriesStats(ivs []Sample, f func(Sample) (float64, bool)) *SeriesStats {
	var st SeriesStats
	n := 0
	for _, s := range ivs {
		v, ok := f(s)
		if !ok {
			continue
		}
		if n == 0 {
			st.Min, st.Max = v, v
		}
		st.Min, st.Max = math.Min(st.Min, v), math.Max(st.Max, v)
		st.Mean += v
		st.Last = v
		n++
	}
	if n == 0 {
		return nil
	}
	st.Mean /= float64(n)
	return &st
}

// dip is how much lower during is than outside, in percent.
func dip(during, outside float64) float64 {
	if outside <= 0 || during == 0 && outside == 0 {
		return 0
	}
	return (outside - during) / outside * 100
}

// change is how much higher during is than outside, in percent.
func change(during, outside float64) float64 {
	if outside <= 0 || during <= 0 {
		return 0
	}
	return (during - outside) / outside * 100
}
