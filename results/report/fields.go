package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"etcdlab/internal/event"
	"etcdlab/results"
)

// stableSections are the result.json objects whose leaves go into
// summary.csv and can be compared.
var stableSections = []string{"config", "summary", "ops", "disk", "fsyncs", "memory", "events", "recovery", "quota_recovery", "linearizability",
	"watch", "leases", "k8s"}

// Fields flattens r into path → value for the stable sections: numbers as
// float64, strings and booleans as strings. config.workload.spec and
// summary.errors_by_message are left out (free text).
func Fields(r *results.Result) map[string]any {
	b, err := json.Marshal(r)
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return map[string]any{}
	}
	out := map[string]any{}
	for _, sec := range stableSections {
		flatten(sec, m[sec], out)
	}
	faultFields(r, out)
	watchLeaseFields(r, out)
	maintenanceFields(m["maintenance"], out)
	k8sFields(r, out)
	steadyFields(r, out)
	delete(out, "config.workload.spec")
	for k := range out {
		if strings.HasPrefix(k, "summary.errors_by_message.") {
			delete(out, k)
		}
	}
	return out
}

// steadyFields adds the steady-state verdict and, per judged series, its
// two windows' means, the shift and the shift allowed (the series list
// itself does not flatten into columns).
func steadyFields(r *results.Result, out map[string]any) {
	ss := r.SteadyState
	if ss == nil {
		return
	}
	out["steady_state.verdict"] = ss.Verdict
	if ss.Criterion != "" {
		out["steady_state.criterion"] = ss.Criterion
	}
	for _, s := range ss.Series {
		p := "steady_state." + s.Name + "."
		out[p+"prev_mean"], out[p+"mean"], out[p+"change"], out[p+"allowed"] = s.PrevMean, s.Mean, s.Change, s.Allowed
	}
}

func flatten(prefix string, v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			flatten(prefix+"."+k, vv, out)
		}
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, fmt.Sprint(e))
		}
		out[prefix] = strings.Join(parts, " ")
	case float64:
		out[prefix] = x
	case bool:
		out[prefix] = strconv.FormatBool(x)
	case string:
		out[prefix] = x
	}
}

// maintenanceFields adds the summaries of result.json's maintenance
// (compaction.*, defrag.*, outside.*, space_amp.*, fragmentation.*,
// defrag_rounds), not its per-event list: a run has as many events as its
// duration allows, and a column per event would not compare across runs.
func maintenanceFields(v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for _, k := range []string{"compaction", "defrag", "outside", "space_amp", "fragmentation", "defrag_rounds"} {
		if x, ok := m[k]; ok {
			flatten("maintenance."+k, x, out)
		}
	}
}

// watchLeaseFields replaces the revoke apply buckets' list with one field
// per bucket (leases.revoke_apply.keys=8-15.mean_us, ...) and leaves out a
// catch-up that never happened (-1).
func watchLeaseFields(r *results.Result, out map[string]any) {
	if r.Watch != nil && r.Watch.CatchUpS < 0 {
		delete(out, "watch.catch_up_s")
	}
	delete(out, "leases.revoke_apply_by_keys")
	if r.Leases == nil {
		return
	}
	for _, b := range r.Leases.RevokeApplyByKeys {
		p := fmt.Sprintf("leases.revoke_apply.keys=%d-%d.", b.KeysMin, b.KeysMax)
		if b.KeysMax == math.MaxInt64 {
			p = fmt.Sprintf("leases.revoke_apply.keys=%d+.", b.KeysMin)
		}
		out[p+"revokes"] = float64(b.Revokes)
		out[p+"mean_us"] = b.MeanUs
		out[p+"us_per_key"] = b.UsPerKey
	}
}

// k8sFields replaces the k8s driver's list of compactions with their
// count, errors and mean and longest request time (k8s.compactions.*).
func k8sFields(r *results.Result, out map[string]any) {
	delete(out, "k8s.compactions")
	if r.K8s == nil || len(r.K8s.Compactions) == 0 {
		return
	}
	var sum, longest, errs float64
	for _, c := range r.K8s.Compactions {
		sum += c.DurationS
		longest = max(longest, c.DurationS)
		if c.Error != "" {
			errs++
		}
	}
	n := float64(len(r.K8s.Compactions))
	out["k8s.compactions.count"] = n
	out["k8s.compactions.errors"] = errs
	out["k8s.compactions.mean_s"] = sum / n
	out["k8s.compactions.max_s"] = longest
}

// faultFields flattens the per-fault figures under faults.<kind> (the
// second entry of a kind under faults.<kind>#2, and so on), with the first
// restart's catch-up as catch_up_s and snapshot_bytes. A figure of -1
// ("never") is left out rather than averaged as a time.
func faultFields(r *results.Result, out map[string]any) {
	seen := map[string]int{}
	for _, f := range r.Faults {
		seen[f.Kind]++
		p := "faults." + f.Kind
		if n := seen[f.Kind]; n > 1 {
			p += "#" + strconv.Itoa(n)
		}
		put := func(name string, v float64) {
			if v >= 0 {
				out[p+"."+name] = v
			}
		}
		out[p+".spec"] = f.Spec
		put("start_s", f.StartS)
		put("end_s", f.EndS)
		put("unavailable_s", f.UnavailableS)
		put("first_success_s", f.FirstSuccessS)
		put("recovery_90_s", f.Recovery90S)
		put("pre_fault_ops_s", f.PreFaultOpsS)
		put("during_p99_us", f.DuringP99Us)
		put("during_errors", float64(f.DuringErrors))
		if len(f.CatchUp) > 0 {
			c := f.CatchUp[0]
			put("catch_up_s", c.CatchUpS)
			put("snapshot_bytes", float64(c.SnapshotBytes))
			put("snapshots_received", float64(c.SnapshotsReceived))
		}
		if f.Error != "" {
			out[p+".error"] = f.Error
		}
	}
}

// Value returns the numeric field path of r, or NaN when r has none.
func Value(r *results.Result, path string) float64 {
	if v, ok := Fields(r)[path].(float64); ok {
		return v
	}
	return math.NaN()
}

// WriteSummaryCSV writes one row per run of s (see the package contract).
func WriteSummaryCSV(w io.Writer, s *Set) error {
	var params []string
	seen := map[string]bool{}
	if s.Manifest != nil {
		for _, p := range s.Manifest.Params {
			params = append(params, p.Name)
			seen[p.Name] = true
		}
	}
	for _, r := range s.Runs {
		for _, p := range r.Params {
			if !seen[p.Name] {
				seen[p.Name] = true
				params = append(params, p.Name)
			}
		}
	}
	rows := make([]map[string]any, len(s.Runs))
	cols := map[string]bool{}
	for i, r := range s.Runs {
		rows[i] = Fields(r.Result)
		for k := range rows[i] {
			cols[k] = true
		}
	}
	keys := make([]string, 0, len(cols))
	for k := range cols {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cw := csv.NewWriter(w)
	head := []string{"run", "point", "repeat"}
	for _, p := range params {
		head = append(head, "param."+p)
	}
	head = append(head, keys...)
	if err := cw.Write(head); err != nil {
		return err
	}
	for i, r := range s.Runs {
		rec := []string{r.Dir, r.Point, strconv.Itoa(r.Repeat)}
		for _, p := range params {
			v, _ := Point{Params: r.Params}.Param(p)
			rec = append(rec, v)
		}
		for _, k := range keys {
			switch v := rows[i][k].(type) {
			case float64:
				rec = append(rec, strconv.FormatFloat(v, 'g', -1, 64))
			case string:
				rec = append(rec, v)
			default:
				rec = append(rec, "")
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Metric is a numeric field worth a table, a figure and a comparison.
type Metric struct {
	Path  string // field path, e.g. "ops.get.p99_us"
	Label string // e.g. "get p99 latency"
	Unit  string // unit after Scale
	Scale float64
	// HigherBetter says which direction is an improvement (throughput).
	HigherBetter bool
}

// Metrics returns the metrics present in the runs: throughput, overall and
// per-op p50/p99, CPU time per op, memory, disk, fsyncs, errors and event
// counts (backend commits left out: there is one every batch interval).
func Metrics(runs []Run) []Metric {
	ms := []Metric{
		{Path: "summary.throughput_ops_s", Label: "throughput", Unit: "ops/s", Scale: 1, HigherBetter: true},
		{Path: "summary.latency.p50_us", Label: "p50 latency (all ops)", Unit: "µs", Scale: 1},
		{Path: "summary.latency.p99_us", Label: "p99 latency (all ops)", Unit: "µs", Scale: 1},
	}
	ops := map[string]bool{}
	events := map[string]bool{}
	cpu := false
	for _, r := range runs {
		cpu = cpu || r.Result.Summary.CPUPerOpUs > 0
		for op, st := range r.Result.Ops {
			if st.Count > 0 {
				ops[op] = true
			}
		}
		for k := range r.Result.Events {
			if k != event.BackendCommit {
				events[k] = true
			}
		}
	}
	if cpu {
		ms = append(ms, Metric{Path: "summary.cpu_per_op_us", Label: "CPU time per op (process)", Unit: "µs", Scale: 1})
	}
	for _, op := range sortedKeys(ops) {
		ms = append(ms,
			Metric{Path: "ops." + op + ".p50_us", Label: op + " p50 latency", Unit: "µs", Scale: 1},
			Metric{Path: "ops." + op + ".p99_us", Label: op + " p99 latency", Unit: "µs", Scale: 1},
			Metric{Path: "ops." + op + ".p999_us", Label: op + " p99.9 latency", Unit: "µs", Scale: 1})
	}
	ms = append(ms,
		Metric{Path: "memory.peak_rss_bytes", Label: "peak RSS", Unit: "MiB", Scale: 1.0 / (1 << 20)},
		Metric{Path: "memory.peak_heap_bytes", Label: "peak Go heap", Unit: "MiB", Scale: 1.0 / (1 << 20)},
		Metric{Path: "disk.db_size_bytes", Label: "db size on disk", Unit: "MiB", Scale: 1.0 / (1 << 20)},
		Metric{Path: "disk.db_size_in_use_bytes", Label: "db size in use", Unit: "MiB", Scale: 1.0 / (1 << 20)},
		Metric{Path: "disk.db_quota_size_bytes", Label: "db size (quota's)", Unit: "MiB", Scale: 1.0 / (1 << 20)},
		Metric{Path: "disk.wal_bytes", Label: "WAL size", Unit: "MiB", Scale: 1.0 / (1 << 20)},
		Metric{Path: "disk.bytes_written", Label: "disk bytes written", Unit: "MiB", Scale: 1.0 / (1 << 20)},
		Metric{Path: "disk.write_amplification", Label: "write amplification", Unit: "×", Scale: 1},
		Metric{Path: "fsyncs.wal", Label: "WAL fsyncs", Unit: "", Scale: 1},
		Metric{Path: "fsyncs.engine", Label: "engine fsyncs", Unit: "", Scale: 1},
		Metric{Path: "summary.errors", Label: "errors", Unit: "", Scale: 1},
	)
	for _, k := range sortedKeys(events) {
		ms = append(ms, Metric{Path: "events." + k, Label: k + " events", Unit: "", Scale: 1})
	}
	ms = append(ms, faultMetrics(runs)...)
	ms = append(ms, watchLeaseMetrics(runs)...)
	var recovery, quota bool
	for _, r := range runs {
		recovery = recovery || (r.Result.Recovery != nil && r.Result.Recovery.Error == "")
		quota = quota || r.Result.QuotaRecovery != nil
	}
	if recovery {
		ms = append(ms,
			Metric{Path: "recovery.restart_s", Label: "restarted follower serving after", Unit: "s", Scale: 1},
			Metric{Path: "recovery.restore_s", Label: "restarted follower index rebuild", Unit: "s", Scale: 1},
			Metric{Path: "recovery.catch_up_s", Label: "restarted follower caught up after", Unit: "s", Scale: 1})
	}
	if quota {
		ms = append(ms,
			Metric{Path: "quota_recovery.total_s", Label: "NOSPACE recovery total", Unit: "s", Scale: 1},
			Metric{Path: "quota_recovery.defrag_s", Label: "NOSPACE recovery defrag (all nodes)", Unit: "s", Scale: 1},
			Metric{Path: "quota_recovery.during_defrag.linearizable.p99_us", Label: "linearizable get p99 during defrag", Unit: "µs", Scale: 1},
			Metric{Path: "quota_recovery.during_defrag.serializable.p99_us", Label: "serializable get p99 during defrag", Unit: "µs", Scale: 1})
	}
	return ms
}

// watchLeaseMetrics are the watch and lease figures, for runs that have
// them: the watchers' event latency, lag and catch-up reads, the lease
// renewals' latency, and the revokes' apply time, in all and by keys per
// lease.
func watchLeaseMetrics(runs []Run) []Metric {
	var watch, leases bool
	buckets := map[string]bool{}
	for _, r := range runs {
		watch = watch || r.Result.Watch != nil
		leases = leases || r.Result.Leases != nil
		for k := range Fields(r.Result) {
			if rest, ok := strings.CutPrefix(k, "leases.revoke_apply.keys="); ok {
				b, _, _ := strings.Cut(rest, ".")
				buckets[b] = true
			}
		}
	}
	var ms []Metric
	if watch {
		ms = append(ms,
			Metric{Path: "watch.events", Label: "watch events received", Unit: "", Scale: 1},
			Metric{Path: "watch.event_latency.p50_us", Label: "watch event latency p50 (from the write's ack)", Unit: "µs", Scale: 1},
			Metric{Path: "watch.event_latency.p99_us", Label: "watch event latency p99 (from the write's ack)", Unit: "µs", Scale: 1},
			Metric{Path: "watch.max_lag_revs", Label: "largest watcher lag", Unit: "revisions", Scale: 1},
			Metric{Path: "watch.catch_up_s", Label: "watchers all caught up after", Unit: "s", Scale: 1},
			Metric{Path: "watch.records_read", Label: "catch-up: key-bucket records read", Unit: "", Scale: 1},
			Metric{Path: "watch.bytes_read", Label: "catch-up: key-bucket bytes read", Unit: "MiB", Scale: 1.0 / (1 << 20)},
			Metric{Path: "watch.scan_s", Label: "catch-up: time in key-bucket reads", Unit: "s", Scale: 1})
	}
	if leases {
		ms = append(ms,
			Metric{Path: "leases.granted", Label: "leases granted", Unit: "", Scale: 1},
			Metric{Path: "leases.renew_latency.p99_us", Label: "lease renew p99", Unit: "µs", Scale: 1},
			Metric{Path: "leases.revokes_applied.revokes", Label: "revokes applied (all members)", Unit: "", Scale: 1},
			Metric{Path: "leases.revokes_applied.mean_us", Label: "revoke apply time, mean", Unit: "µs", Scale: 1},
			Metric{Path: "leases.revokes_applied.us_per_key", Label: "revoke apply time per key", Unit: "µs", Scale: 1})
		for _, b := range sortedKeys(buckets) {
			ms = append(ms, Metric{Path: "leases.revoke_apply.keys=" + b + ".mean_us", Label: "revoke apply time, leases of " + b + " keys", Unit: "µs", Scale: 1})
		}
	}
	return ms
}

// faultMetrics are the per-fault figures of the fault kinds the runs had.
func faultMetrics(runs []Run) []Metric {
	kinds := map[string]bool{}
	for _, r := range runs {
		for k, v := range Fields(r.Result) {
			if rest, ok := strings.CutPrefix(k, "faults."); ok {
				if _, num := v.(float64); num {
					kind, _, _ := strings.Cut(rest, ".")
					kinds[kind] = true
				}
			}
		}
	}
	var ms []Metric
	for _, k := range sortedKeys(kinds) {
		p := "faults." + k + "."
		ms = append(ms,
			Metric{Path: p + "unavailable_s", Label: k + ": longest time without a completed write", Unit: "s", Scale: 1},
			Metric{Path: p + "first_success_s", Label: k + ": time to first success", Unit: "s", Scale: 1},
			Metric{Path: p + "recovery_90_s", Label: k + ": time back to 90% throughput", Unit: "s", Scale: 1},
			Metric{Path: p + "during_p99_us", Label: k + ": p99 latency during the fault", Unit: "µs", Scale: 1},
			Metric{Path: p + "during_errors", Label: k + ": errors during the fault", Unit: "", Scale: 1},
			Metric{Path: p + "catch_up_s", Label: k + ": restarted node caught up after", Unit: "s", Scale: 1},
			Metric{Path: p + "snapshot_bytes", Label: k + ": snapshot bytes sent to the restarted node", Unit: "MiB", Scale: 1.0 / (1 << 20)},
		)
	}
	return ms
}

// LinearizabilityProblems names the runs whose linearizability verdict is
// not "ok", with the verdict: their figures come from a run that broke
// consistency, or could not be shown not to have.
func LinearizabilityProblems(runs []Run) []string {
	var out []string
	for _, r := range runs {
		l := r.Result.Linearizability
		if l == nil || l.Verdict == "ok" {
			continue
		}
		msg := fmt.Sprintf("%s: linearizability verdict %q", r.Dir, l.Verdict)
		if l.Error != "" {
			msg += " (" + l.Error + ")"
		}
		out = append(out, msg)
	}
	return out
}

// values returns the metric's scaled values over runs, skipping runs that
// lack it.
func (m Metric) values(runs []Run) []float64 {
	var out []float64
	for _, r := range runs {
		v := Value(r.Result, m.Path)
		if m.Path == "summary.errors" || strings.HasPrefix(m.Path, "events.") {
			if math.IsNaN(v) {
				v = 0 // no event of this kind in this run is a count of zero
			}
		}
		if !math.IsNaN(v) {
			out = append(out, v*m.Scale)
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
