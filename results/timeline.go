package results

import (
	"bufio"
	"encoding/json"
	"io"
)

// Sample is one line of timeline.jsonl: a second of the measured phase
// (Type "interval"), one event of the layer (Type "event") or one scheduled
// fault (Type "fault"). T is seconds
// since the measured phase began (negative for events before it).
// DiskWritten, WALFsyncs, EngFsyncs and GCPauseS are cumulative from the
// start of the measured phase to the end of the interval, not the
// interval's own: the difference of two samples is what happened between
// them (see DiskWriteRates).
type Sample struct {
	Type string  `json:"type"`
	T    float64 `json:"t_s"`

	// Interval fields.
	LengthS     float64               `json:"length_s,omitempty"`
	Ops         int64                 `json:"ops,omitempty"`
	Errors      int64                 `json:"errors,omitempty"`
	OpsS        float64               `json:"ops_s,omitempty"`
	P50Us       float64               `json:"p50_us,omitempty"`
	P99Us       float64               `json:"p99_us,omitempty"`
	MaxUs       float64               `json:"max_us,omitempty"`
	PerOp       map[string]IntervalOp `json:"per_op,omitempty"`
	RSSBytes    int64                 `json:"rss_bytes,omitempty"`
	HeapBytes   int64                 `json:"heap_bytes,omitempty"`
	GCPauseS    float64               `json:"gc_pause_total_s,omitempty"`
	DiskWritten int64                 `json:"disk_bytes_written,omitempty"`
	WALFsyncs   int64                 `json:"wal_fsyncs,omitempty"`
	EngFsyncs   int64                 `json:"engine_fsyncs,omitempty"`
	DBSize      int64                 `json:"db_size_bytes,omitempty"`        // on disk
	DBSizeInUse int64                 `json:"db_size_in_use_bytes,omitempty"` // live data
	DBQuotaSize int64                 `json:"db_quota_size_bytes,omitempty"`  // what the quota compares
	Extra       map[string]float64    `json:"extra,omitempty"`
	// Watch figures (runs with watchers): the events received in the
	// interval and their latency p99, the watchers' largest and mean lag
	// (revisions behind the leader) at the last check, and the bytes the
	// members' catch-up reads took from the key bucket in the interval.
	WatchEvents       int64   `json:"watch_events,omitempty"`
	WatchEventP99Us   float64 `json:"watch_event_p99_us,omitempty"`
	WatchLagRevs      int64   `json:"watch_lag_revs,omitempty"`
	WatchLagMeanRevs  float64 `json:"watch_lag_mean_revs,omitempty"`
	WatchCatchUpBytes int64   `json:"watch_catchup_bytes,omitempty"`
	// LiveLogicalBytes is the key plus value bytes of the objects that
	// exist at the end of the interval, as the k8s driver tracks them from
	// its own creates, updates and deletes and its count of expired event
	// leases (k8s workloads only): the denominator of space amplification.
	LiveLogicalBytes int64 `json:"live_logical_bytes,omitempty"`
	// Metrics are the servers' Prometheus figures at the end of the
	// interval, by etcd's names (cumulative counters, histogram _count and
	// _sum, gauges; merged over members: summed, gauges the largest), from
	// the in-process nodes' registries or the --endpoints servers' scrapes.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// CPUPct is the process's CPU time in the interval (user and system,
	// every thread: the in-process nodes, the clients, the harness) as a
	// percentage of one core: 150 is one and a half cores busy.
	CPUPct float64 `json:"cpu_pct,omitempty"`
	// StallMs is the longest stretch without a successfully completed op
	// that overlaps the interval, in ms at a 1 ms resolution: a stretch
	// that began in an earlier interval counts from its start, one still
	// open at the interval's end up to that end. 0 with completions in
	// every millisecond.
	StallMs float64 `json:"stall_ms,omitempty"`
	// StallStartS is when that stretch began (seconds since the measured
	// phase began), so that a stall can be placed inside or outside an
	// event shorter than the interval.
	StallStartS float64 `json:"stall_start_s,omitempty"`
	// Stalls are the interval's stretches without a completion of at
	// least 10 ms (the 16 longest), in time order, each with its start, so
	// that a stall can be attributed to an event shorter than a second.
	Stalls []Stall `json:"stalls,omitempty"`

	// Event and fault fields. A fault sample (Type SampleFault) spans T to
	// EndS: the time a scheduled fault was in force; Kind is its kind,
	// Detail its schedule entry, Node the (first) node it hit. A timed
	// event (event.Timed: compaction, defrag) spans T to EndS as well:
	// from its start to its end; Values holds its figures by name
	// (compaction: revision, keys_deleted, keys_scanned, batches, index_s,
	// took_s, finished, db_size_after_bytes, db_size_in_use_after_bytes;
	// defrag: db_size_before_bytes, db_size_after_bytes,
	// db_disk_size_before_bytes, db_disk_size_after_bytes).
	EndS   float64            `json:"end_s,omitempty"`
	Kind   string             `json:"kind,omitempty"`
	Node   int                `json:"node,omitempty"`
	Detail string             `json:"detail,omitempty"`
	Values map[string]float64 `json:"values,omitempty"`
}

// Sample types.
const (
	SampleInterval = "interval"
	SampleEvent    = "event"
	SampleFault    = "fault"
)

// Stall is a stretch without a completed op: when it began (seconds since
// the measured phase began) and how long it lasted (up to the end of its
// interval if it was still open then).
type Stall struct {
	StartS float64 `json:"start_s"`
	Ms     float64 `json:"ms"`
}

// IntervalOp is one op kind's second.
type IntervalOp struct {
	Count  int64   `json:"count"`
	Errors int64   `json:"errors,omitempty"`
	P50Us  float64 `json:"p50_us"`
	P99Us  float64 `json:"p99_us"`
	MaxUs  float64 `json:"max_us"`
}

// WriteTimeline writes samples as JSON lines.
func WriteTimeline(w io.Writer, samples []Sample) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range samples {
		if err := enc.Encode(&samples[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadTimeline reads timeline.jsonl back.
func ReadTimeline(r io.Reader) ([]Sample, error) {
	dec := json.NewDecoder(r)
	var out []Sample
	for dec.More() {
		var s Sample
		if err := dec.Decode(&s); err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}
