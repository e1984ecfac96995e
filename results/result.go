package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SchemaV1 names the only schema this package reads and writes.
const SchemaV1 = "etcdlab/result/v1"

// File names inside a run directory.
const (
	ResultFile      = "result.json"
	TimelineFile    = "timeline.jsonl"
	BenchFile       = "bench.txt"
	LatencyLogFile  = "latency.hlog" // per-second latency histograms (from the intended start in open loop)
	ServiceLogFile  = "service.hlog" // per-second service-time histograms (open loop only)
	resultFileMode  = 0o644
	tempDirPrefix   = ".etcdlab-staging-"
	defaultPkgLabel = "etcdlab/bench"
)

var (
	// ErrUnknownSchema: result.json carries a schema this version cannot read.
	ErrUnknownSchema = errors.New("results: unknown schema")
	// ErrBadResult: result.json is not valid JSON of the expected shape.
	ErrBadResult = errors.New("results: malformed result")
	// ErrIncomplete: result.json parses but lacks what every finished run
	// records (its configuration, a measured phase, an op): a run that
	// never finished, or a file cut short or written by hand.
	ErrIncomplete = errors.New("results: incomplete result")
	// ErrOutExists: the output directory already holds files.
	ErrOutExists = errors.New("results: output directory is not empty")
)

// Result is the content of result.json.
type Result struct {
	Schema string `json:"schema"`
	// Interrupted is true when the run was stopped early (Ctrl-C): the figures
	// cover what was measured until then.
	Interrupted bool      `json:"interrupted"`
	Started     time.Time `json:"started"`
	Config      Config    `json:"config"`
	Env         Env       `json:"env"`
	Summary     Summary   `json:"summary"`
	// Ops holds one entry per op kind that ran, keyed by its name ("get",
	// "put", "txn-cas", ...).
	Ops    map[string]OpStats `json:"ops"`
	Disk   Disk               `json:"disk"`
	Fsyncs Fsyncs             `json:"fsyncs"`
	Memory Memory             `json:"memory"`
	// Events counts the layer's events (leader changes, snapshots, backend
	// commits, compactions, alarms...) by kind; timeline.jsonl has each one.
	Events map[string]int64 `json:"events"`
	// Files lists the other files of the run directory.
	Files []string `json:"files"`
	// Recovery is the restart of a crashed follower after the measured
	// phase (run flag --measure-recovery; absent otherwise).
	Recovery *Recovery `json:"recovery,omitempty"`
	// QuotaRecovery is etcd's NOSPACE procedure (compact, defrag, disarm)
	// after a run that ended with the alarm raised (run flag
	// --quota-recovery; absent when not asked for or no alarm was raised).
	QuotaRecovery *QuotaRecovery `json:"quota_recovery,omitempty"`
	// Server is what the servers' own Prometheus metrics (etcd's names) say
	// about the measured phase: the in-process nodes' registries, or the
	// --endpoints servers' /metrics. Absent in layers without servers and in
	// results written before it existed.
	Server *ServerMetrics `json:"server,omitempty"`
	// Faults has one entry per fault of the run's schedule (run flag
	// --faults), in schedule order: when it was in force and what it did
	// to the clients. Absent without a schedule.
	Faults []Fault `json:"faults,omitempty"`
	// Linearizability is the porcupine check of a sample of the run's
	// operations (absent when the check was off). A run whose verdict is
	// not "ok" broke consistency (or could not be shown not to): its
	// performance figures must not be reported as if it had not.
	Linearizability *Linearizability `json:"linearizability,omitempty"`
	// SteadyState says whether the measured phase reached the engine's
	// steady state (SteadyStateOf: pebble's L0 sublevels and compaction
	// debt without a trend, bbolt's file growing no more than its live
	// data, from the middle to the last third of the measured phase), with
	// the figures it rests on.
	SteadyState *SteadyState `json:"steady_state,omitempty"`
	// Watch is what the workload's watchers saw and cost (absent without
	// watchers); Leases the workload's lease traffic and the revokes the
	// members applied (absent without lease traffic or revokes).
	Watch  *WatchResult `json:"watch,omitempty"`
	Leases *LeaseResult `json:"leases,omitempty"`
	// Maintenance is the run's compactions and defrags as timed events
	// and what they did to the workload (ComputeMaintenance over the
	// timeline); absent when the run had neither.
	Maintenance *Maintenance `json:"maintenance,omitempty"`
	// K8s is the k8s driver's figures (workloads with a k8s section).
	K8s *K8sResult `json:"k8s,omitempty"`
}

// WatchResult covers the workload's watchers over the measured phase.
type WatchResult struct {
	Watchers int `json:"watchers"`
	Streams  int `json:"streams"`
	Prefixes int `json:"prefixes"`
	// StartRev is the revision the watchers started at; 0: the next one.
	StartRev int64 `json:"start_rev"`
	// Events is every event the watchers received, BacklogEvents those of
	// revisions written before the watchers started (the catch-up of
	// watchers started behind: counted, not timed). EventLatency times each
	// other event from the ack of the write that made it to its receipt (0
	// when it came before the ack, as etcd's benchmark tool counts it);
	// Unmatched events had no ack to time from (writes the runner did not
	// make, such as the leader's revokes of expired leases); Compacted
	// counts compaction notices.
	Events        int64   `json:"events"`
	BacklogEvents int64   `json:"backlog_events"`
	Unmatched     int64   `json:"unmatched"`
	Compacted     int64   `json:"compacted"`
	EventLatency  Latency `json:"event_latency"`
	// MaxLagRevs is the largest lag of a watcher, in revisions behind the
	// leader, at the once-a-second checks; CatchUpS is when every watcher
	// was first seen caught up (-1: never), in seconds from the start.
	MaxLagRevs int64   `json:"max_lag_revs"`
	CatchUpS   float64 `json:"catch_up_s"`
	// The members' catch-up reads of the key bucket (summed): syncs that
	// read, records and bytes read, and the time the reads took.
	SyncReads   int64   `json:"sync_reads"`
	RecordsRead int64   `json:"records_read"`
	BytesRead   int64   `json:"bytes_read"`
	ScanS       float64 `json:"scan_s"`
}

// LeaseResult covers the workload's lease traffic and the revokes the
// members applied over the measured phase.
type LeaseResult struct {
	// Granted leases (churned and kept alive), their grant errors, the keys
	// put on churned leases, the leases the churn revoked itself.
	Granted      int64 `json:"granted"`
	GrantErrors  int64 `json:"grant_errors"`
	KeysPut      int64 `json:"keys_put"`
	PutErrors    int64 `json:"put_errors"`
	Revoked      int64 `json:"revoked"`
	RevokeErrors int64 `json:"revoke_errors"`
	// Renewals of the kept-alive leases and their latency.
	Renewals     int64   `json:"renewals"`
	RenewErrors  int64   `json:"renew_errors"`
	RenewLatency Latency `json:"renew_latency"`
	// RevokesApplied is every revoke the members applied (by the client or
	// on expiry; summed over members): the apply's time from the lease's
	// lookup to its delete txn's end. RevokeApplyByKeys splits them by keys
	// per lease.
	RevokesApplied    RevokeApply   `json:"revokes_applied"`
	RevokeApplyByKeys []RevokeApply `json:"revoke_apply_by_keys,omitempty"`
}

// RevokeApply is the apply time of a set of lease revokes: those of leases
// with KeysMin to KeysMax keys (both 0 for every revoke).
type RevokeApply struct {
	KeysMin  int64   `json:"keys_min"`
	KeysMax  int64   `json:"keys_max"`
	Revokes  int64   `json:"revokes"`
	Keys     int64   `json:"keys"`
	MeanUs   float64 `json:"mean_us"`
	UsPerKey float64 `json:"us_per_key"`
}

// ServerMetrics are the servers' figures over the measured phase, from the
// metrics taken when it began and after its flush: counters are the
// difference, summed over members; sizes the largest member's at the end;
// latencies come from etcd's histogram buckets as Prometheus'
// histogram_quantile estimates them (so they are only as fine as etcd's
// buckets: 1 ms, 2 ms, 4 ms, ...).
type ServerMetrics struct {
	// Source is "registry" (in-process nodes) or "scrape" (HTTP /metrics of
	// Endpoints); Endpoints are the URLs scraped. Members is how many
	// members answered at the end; Scrapes and ScrapeErrors count the
	// scrapes of the run (each URL counts once per round).
	Source       string   `json:"source"`
	Endpoints    []string `json:"endpoints,omitempty"`
	Members      int      `json:"members"`
	Scrapes      int64    `json:"scrapes,omitempty"`
	ScrapeErrors int64    `json:"scrape_errors,omitempty"`
	// WALFsyncs counts etcd_disk_wal_fsync_duration_seconds observations;
	// its latency figures are in microseconds.
	WALFsyncs      int64   `json:"wal_fsyncs"`
	WALFsyncP50Us  float64 `json:"wal_fsync_p50_us"`
	WALFsyncP99Us  float64 `json:"wal_fsync_p99_us"`
	WALFsyncMeanUs float64 `json:"wal_fsync_mean_us"`
	// WALBytesWritten is etcd_disk_wal_write_bytes_total's growth.
	WALBytesWritten int64 `json:"wal_bytes_written"`
	// BackendCommits counts etcd_disk_backend_commit_duration_seconds
	// observations.
	BackendCommits      int64   `json:"backend_commits"`
	BackendCommitP50Us  float64 `json:"backend_commit_p50_us"`
	BackendCommitP99Us  float64 `json:"backend_commit_p99_us"`
	BackendCommitMeanUs float64 `json:"backend_commit_mean_us"`
	// DBSizeBytes and DBSizeInUseBytes are etcd_mvcc_db_total_size_in_bytes
	// (etcd's db size: what its quota compares) and ..._in_use_in_bytes.
	DBSizeBytes      int64 `json:"db_size_bytes"`
	DBSizeInUseBytes int64 `json:"db_size_in_use_bytes"`
	// Counters of etcd_server_* and etcd_mvcc_put_total.
	LeaderChanges         int64 `json:"leader_changes"`
	SlowApplies           int64 `json:"slow_applies"`
	ProposalsCommitted    int64 `json:"proposals_committed"`
	ProposalsFailed       int64 `json:"proposals_failed"`
	HeartbeatSendFailures int64 `json:"heartbeat_send_failures"`
	SlowReadIndexes       int64 `json:"slow_read_indexes"`
	Puts                  int64 `json:"puts"`
	// EngineFsyncs and EngineBytesWritten come from etcdlab_engine_* (an
	// etcdlab server only; etcd has no such figure).
	EngineFsyncs       int64 `json:"engine_fsyncs,omitempty"`
	EngineBytesWritten int64 `json:"engine_bytes_written,omitempty"`
}

// Fault is one scheduled fault and its figures. Times are seconds from the
// start of the measured phase; figures follow writes when the run wrote
// (Basis "writes"), else every op ("ops").
type Fault struct {
	// Spec is the schedule entry ("kill-leader@5s+3s"); Kind its kind.
	Spec string `json:"spec"`
	Kind string `json:"kind"`
	// Nodes are the raft IDs the fault hit (the leader at the time, a
	// follower, every node...).
	Nodes []uint64 `json:"nodes,omitempty"`
	// StartS and EndS bound the time the fault was in force; EndS is the
	// restart, heal or end of the run that lifted it (StartS for an
	// instant action).
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// Error says why the fault could not be injected or lifted.
	Error string `json:"error,omitempty"`
	Basis string `json:"basis"`
	// UnavailableS is the longest stretch with no successful completion
	// overlapping the fault, from its start at the earliest.
	UnavailableS float64 `json:"unavailable_s"`
	// FirstSuccessS runs from the fault's start to the end of the first
	// successful op that started after it; -1: none before the run ended.
	FirstSuccessS float64 `json:"first_success_s"`
	// PreFaultOpsS is the throughput (successful ops/s) over the 3 s before
	// the fault; Recovery90S the time from the fault's start until a 1 s
	// window is back at 90% of it after dropping below (0: it never
	// dropped; -1: not back before the run ended).
	PreFaultOpsS float64 `json:"pre_fault_ops_s"`
	Recovery90S  float64 `json:"recovery_90_s"`
	// During*: the ops in flight while the fault was in force (µs).
	DuringOps    int64            `json:"during_ops"`
	DuringErrors int64            `json:"during_errors"`
	DuringP50Us  float64          `json:"during_p50_us"`
	DuringP99Us  float64          `json:"during_p99_us"`
	DuringMaxUs  float64          `json:"during_max_us"`
	ErrorsByKind map[string]int64 `json:"errors_by_kind,omitempty"`
	// CatchUp is the restart this entry made (a kill with +for, a
	// restart, a fill-disk that crashed a node), one per node restarted.
	CatchUp []CatchUp `json:"catch_up,omitempty"`
}

// CatchUp is how a restarted node caught up with the cluster.
type CatchUp struct {
	Node uint64 `json:"node"`
	// TargetIndex is the cluster's commit index when the restart began
	// (the highest any running node knew);
	// CatchUpS the time from the restart call until the node's applied
	// index reached it (-1: not before the run ended).
	TargetIndex uint64  `json:"target_index"`
	CatchUpS    float64 `json:"catch_up_s"`
	// SnapshotsReceived and SnapshotBytes count the snapshots (backend
	// images) the node received from the leader after the restart, until
	// the end of the run.
	SnapshotsReceived int64  `json:"snapshots_received"`
	SnapshotBytes     int64  `json:"snapshot_bytes"`
	Error             string `json:"error,omitempty"`
}

// Linearizability is the outcome of the porcupine check over a sample of
// the run's single-key operations.
type Linearizability struct {
	// Verdict is "ok" (linearizable), "illegal" (not: consistency was
	// broken) or "unknown" (the check timed out or did not run: Error).
	Verdict string `json:"verdict"`
	// KeyShare is the share of the key space sampled; Keys the distinct
	// keys the history holds.
	KeyShare float64 `json:"key_share"`
	Keys     int     `json:"keys"`
	// Ops are the operations checked: Reads and Writes acknowledged,
	// Unknown writes whose outcome the client could not know.
	Ops     int `json:"ops"`
	Reads   int `json:"reads"`
	Writes  int `json:"writes"`
	Unknown int `json:"unknown"`
	// Truncated: the history reached its cap and later calls were not
	// recorded (the ones in flight at the cut are checked as unknown).
	Truncated bool    `json:"truncated"`
	CheckS    float64 `json:"check_s"`
	TimeoutS  float64 `json:"timeout_s"`
	Error     string  `json:"error,omitempty"`
}

// LinearizabilityOK reports whether r may be reported as consistent: its
// check ran and found the sample linearizable, or it had no check.
func (r *Result) LinearizabilityOK() bool {
	return r.Linearizability == nil || r.Linearizability.Verdict == "ok"
}

// Recovery is how long a follower took to come back after a crash, measured
// after the measured phase with no client load.
type Recovery struct {
	// Node is the follower's raft ID; Method how it was stopped: "kill" (a
	// crash: unsynced backend writes are dropped, only the WAL survives).
	Node   uint64 `json:"node"`
	Method string `json:"method"`
	// RestartS runs from the restart call until the node serves a
	// serializable read: opening the engine, loading the newest snapshot,
	// replaying the WAL and rebuilding the MVCC index. RestoreS is the index
	// rebuild alone (mvcc's RestoreDuration).
	RestartS float64 `json:"restart_s"`
	RestoreS float64 `json:"restore_s"`
	// CatchUpS runs from the restart call until the node's applied index
	// reaches the leader's commit index as read when the restart began
	// (no writes run meanwhile, so that is the cluster's last commit).
	CatchUpS float64 `json:"catch_up_s"`
	// AppliedAtStart is the node's applied index right after it opened; the
	// target is LeaderCommit.
	AppliedAtStart uint64 `json:"applied_at_start"`
	LeaderCommit   uint64 `json:"leader_commit"`
	// Error says why the measurement did not finish (the times are then 0).
	Error string `json:"error,omitempty"`
}

// QuotaRecovery is etcd's documented way out of NOSPACE: compact at the
// current revision (physically), defragment every member, disarm the
// alarm. Times are seconds from the start of the procedure's step.
// CompactS runs until every member has finished deleting what the
// compaction freed.
type QuotaRecovery struct {
	CompactS float64 `json:"compact_s"`
	// DefragS is the sum of the nodes' defrags (run one after another, as
	// etcdctl defrag --cluster does); DefragNodeS has each, by node ID.
	DefragS     float64            `json:"defrag_s"`
	DefragNodeS map[string]float64 `json:"defrag_node_s"`
	DisarmS     float64            `json:"disarm_s"`
	// TotalS runs from the start of the procedure until a test put after
	// the disarm was accepted (WritesOKAfter) or failed.
	TotalS float64 `json:"total_s"`
	// DBSizeBefore and DBSizeAfter are the largest node's db size before
	// the compaction and after the defrags.
	DBSizeBefore int64 `json:"db_size_before"`
	DBSizeAfter  int64 `json:"db_size_after"`
	// WritesOKAfter: a put after the disarm succeeded. Rearmed: the alarm
	// was raised again after the disarm (the freed space did not suffice).
	WritesOKAfter bool   `json:"writes_ok_after"`
	Rearmed       bool   `json:"rearmed"`
	Error         string `json:"error,omitempty"`
	// DuringDefrag is the latency of the gets a reader issued while the
	// defrags ran, by consistency ("serializable", "linearizable"); gets
	// that failed are counted in DuringDefragErrors.
	DuringDefrag       map[string]OpStats `json:"during_defrag,omitempty"`
	DuringDefragErrors int64              `json:"during_defrag_errors"`
}

// Config records what was run, exactly enough to run it again.
type Config struct {
	Layer string `json:"layer"`
	// Engine is the engine name; EngineOptions the engine's normalized option
	// string (every knob with its value, defaults included).
	Engine                 string   `json:"engine"`
	EngineOptions          string   `json:"engine_options"`
	Nodes                  int      `json:"nodes"`
	Endpoints              []string `json:"endpoints,omitempty"`
	Seed                   int64    `json:"seed"`
	Workload               Workload `json:"workload"`
	Clients                int      `json:"clients"`
	RateOpsS               float64  `json:"rate_ops_s"` // 0: closed loop
	Loop                   string   `json:"loop"`       // "closed" or "open"
	DurationS              float64  `json:"duration_s"` // 0 when run by op count
	Ops                    int64    `json:"ops"`        // 0 when run by duration
	WarmupS                float64  `json:"warmup_s"`
	ReadConsistency        string   `json:"read_consistency"`
	SnapshotCount          uint64   `json:"snapshot_count"`
	SnapshotCatchupEntries uint64   `json:"snapshot_catchup_entries"`
	// RaftLogCompaction is the cluster's raft log compaction rule, "3.6" or
	// "3.5" (empty in results written before it existed: those ran "3.5").
	RaftLogCompaction string  `json:"raft_log_compaction"`
	QuotaBytes        int64   `json:"quota_bytes"`
	BatchIntervalMs   float64 `json:"batch_interval_ms"`
	BatchLimit        int     `json:"batch_limit"`
	LinkDelayMs       float64 `json:"link_delay_ms"`
	// Backend is the batching layer's String form.
	Backend string `json:"backend"`
	// NodeOptions is the node template's every knob with its value, as
	// cluster.NodeOptions.String renders it and cluster.ParseNodeOptions
	// reads it back: space-separated name=value under the flag names, a
	// value Go-quoted when empty or holding a space or a quote. The fields
	// above that repeat a knob (nodeFields) are filled from it. Empty with
	// --endpoints (the servers took their own flags) and in results written
	// before it existed (NodeKnobs then renders those fields).
	NodeOptions string `json:"node_options,omitempty"`
	// Faults is the fault schedule in its canonical form (empty: none).
	Faults string `json:"faults,omitempty"`
	// AutoCompactionMode and AutoCompactionRetention are the nodes'
	// --auto-compaction-* (empty in results written before they existed:
	// those never compacted on their own); DefragIntervalS the scheduled
	// defrag's interval (0: none).
	AutoCompactionMode      string  `json:"auto_compaction_mode,omitempty"`
	AutoCompactionRetention string  `json:"auto_compaction_retention,omitempty"`
	DefragIntervalS         float64 `json:"defrag_interval_s,omitempty"`
	// RateFraction is the open loop's fraction of the measured capacity
	// (RateOpsS is then that fraction of Summary.CapacityOpsS) and
	// CapacityProbeS the closed-loop probe's length; 0 without.
	RateFraction   float64 `json:"rate_fraction,omitempty"`
	CapacityProbeS float64 `json:"capacity_probe_s,omitempty"`
	// ScaleBytes is the logical preload size asked for (--scale; 0: the
	// workload's key count).
	ScaleBytes int64 `json:"scale_bytes,omitempty"`
	// PreloadLoaders, PreloadTxnOps and PreloadTxnBytes are how the preload
	// was written: concurrent loaders, puts per txn (1: one Put per key),
	// request size bound.
	PreloadLoaders  int `json:"preload_loaders,omitempty"`
	PreloadTxnOps   int `json:"preload_txn_ops,omitempty"`
	PreloadTxnBytes int `json:"preload_txn_bytes,omitempty"`
	// MemoryLimitBytes is the memory limit of the cgroup the run was in
	// (0: none) and MemoryLimitCgroup how it was set: "v2" (memory.max) or
	// "v1" (memory.limit_in_bytes).
	MemoryLimitBytes  int64  `json:"memory_limit_bytes,omitempty"`
	MemoryLimitCgroup string `json:"memory_limit_cgroup,omitempty"`
}

// nodeFields are the Config fields that repeat a knob of NodeOptions, under
// the names scripts and summary.csv read (config.snapshot_count ...), by the
// knob's name there: the one place that maps one to the other. field
// returns a pointer to the field (setKnob and getKnob take its type).
var nodeFields = []struct {
	knob  string
	field func(c *Config) any
}{
	{"snapshot-count", func(c *Config) any { return &c.SnapshotCount }},
	{"experimental-snapshot-catchup-entries", func(c *Config) any { return &c.SnapshotCatchupEntries }},
	{"raft-log-compaction", func(c *Config) any { return &c.RaftLogCompaction }},
	{"quota-backend-bytes", func(c *Config) any { return &c.QuotaBytes }},
	{"backend-batch-interval", func(c *Config) any { return (*millis)(&c.BatchIntervalMs) }},
	{"backend-batch-limit", func(c *Config) any { return &c.BatchLimit }},
}

// millis is a field in milliseconds whose knob is a duration ("100ms").
type millis float64

func setKnob(p any, v string) (err error) {
	switch p := p.(type) {
	case *uint64:
		*p, err = strconv.ParseUint(v, 10, 64)
	case *int64:
		*p, err = strconv.ParseInt(v, 10, 64)
	case *int:
		*p, err = strconv.Atoi(v)
	case *string:
		*p = v
	case *millis:
		var d time.Duration
		d, err = time.ParseDuration(v)
		*p = millis(float64(d) / 1e6)
	default:
		panic(fmt.Sprintf("results: nodeFields: field of type %T", p))
	}
	return err
}

func getKnob(p any) string {
	switch p := p.(type) {
	case *uint64:
		return strconv.FormatUint(*p, 10)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *int:
		return strconv.Itoa(*p)
	case *string:
		if *p == "" {
			return `""`
		}
		return *p
	case *millis:
		return time.Duration(float64(*p) * 1e6).String()
	default:
		panic(fmt.Sprintf("results: nodeFields: field of type %T", p))
	}
}

// ErrBadNodeOptions marks a node options string SetNodeOptions cannot read.
var ErrBadNodeOptions = errors.New("results: bad node options")

// SetNodeOptions records s (cluster.NodeOptions.String) as NodeOptions and
// fills the fields that repeat its knobs from it. Every such knob must be
// in s.
func (c *Config) SetNodeOptions(s string) error {
	kv, err := splitKnobs(s)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range nodeFields {
		v, ok := kv[f.knob]
		if !ok {
			errs = append(errs, fmt.Errorf("%w: %s missing", ErrBadNodeOptions, f.knob))
		} else if err := setKnob(f.field(c), v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s=%s: %v", ErrBadNodeOptions, f.knob, v, err))
		}
	}
	c.NodeOptions = s
	return errors.Join(errs...)
}

// NodeKnobs returns NodeOptions or, for a result written without it, the
// knobs the fields repeat (nodeFields) in the same form.
func (c Config) NodeKnobs() string {
	if c.NodeOptions != "" {
		return c.NodeOptions
	}
	parts := make([]string, len(nodeFields))
	for i, f := range nodeFields {
		parts[i] = f.knob + "=" + getKnob(f.field(&c))
	}
	return strings.Join(parts, " ")
}

// splitKnobs reads NodeOptions' form into name → value (a repeated name
// keeps its last value).
func splitKnobs(s string) (map[string]string, error) {
	kv := map[string]string{}
	for rest := strings.TrimLeft(s, " "); rest != ""; rest = strings.TrimLeft(rest, " ") {
		eq := strings.IndexByte(rest, '=')
		if sp := strings.IndexByte(rest, ' '); eq <= 0 || (sp >= 0 && sp < eq) {
			return nil, fmt.Errorf("%w: %q is not name=value", ErrBadNodeOptions, strings.SplitN(rest, " ", 2)[0])
		}
		name, val := rest[:eq], rest[eq+1:]
		if strings.HasPrefix(val, `"`) {
			q, err := strconv.QuotedPrefix(val)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: bad quoted value %s", ErrBadNodeOptions, name, val)
			}
			rest = val[len(q):]
			val, _ = strconv.Unquote(q)
		} else {
			end := strings.IndexByte(val, ' ')
			if end < 0 {
				end = len(val)
			}
			val, rest = val[:end], val[end:]
		}
		kv[name] = val
	}
	return kv, nil
}

// Workload names the workload and holds its full spec as YAML
// (workloads.ParseSpec reads it back).
type Workload struct {
	Name string `json:"name"`
	Spec string `json:"spec"`
}

// Env fingerprints the machine the run happened on.
type Env struct {
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
	CPU        string `json:"cpu"`
	Kernel     string `json:"kernel"`
	Filesystem string `json:"filesystem"`
	Hostname   string `json:"hostname"`
	Commit     string `json:"commit"`
	// FsyncP50Us is the median of a short fdatasync probe (4 KiB overwrites of
	// a file in the output directory's file system) taken before the run.
	FsyncP50Us     float64 `json:"fsync_p50_us"`
	FsyncP99Us     float64 `json:"fsync_p99_us"`
	FsyncProbeSize int     `json:"fsync_probe_count"`
}

// Summary gives the measured phase in totals.
type Summary struct {
	Ops            int64   `json:"ops"`
	Errors         int64   `json:"errors"`
	DurationS      float64 `json:"duration_s"`
	ThroughputOpsS float64 `json:"throughput_ops_s"`
	// PreloadKeys and PreloadBytes are the keys and the logical bytes (key
	// + value) the preload wrote, in PreloadTxns requests (batches of puts:
	// txns on the mvcc and cluster layers, write transactions on the engine
	// layer; one per key when unbatched) over PreloadS seconds, PreloadMBs
	// the logical MB (10^6 bytes) per second. PreloadSettleS is the flush
	// and settle after it (pebble's flushes and compactions of the preload),
	// not in PreloadS.
	PreloadKeys    int64   `json:"preload_keys"`
	PreloadBytes   int64   `json:"preload_bytes,omitempty"`
	PreloadTxns    int64   `json:"preload_txns,omitempty"`
	PreloadS       float64 `json:"preload_s"`
	PreloadMBs     float64 `json:"preload_mb_s,omitempty"`
	PreloadSettleS float64 `json:"preload_settle_s,omitempty"`
	// CapacityOpsS and CapacityWriteOpsS are the closed-loop capacity
	// probe's throughput of ops completed without error, all and writes
	// (Config.RateFraction; the open loop's rate is RateFraction ×
	// CapacityOpsS, Config.RateOpsS). Absent without a probe.
	CapacityOpsS      float64 `json:"capacity_ops_s,omitempty"`
	CapacityWriteOpsS float64 `json:"capacity_write_ops_s,omitempty"`
	WarmupOps         int64   `json:"warmup_ops"`
	LogicalBytes      int64   `json:"logical_bytes_written"`
	// OpenLoopMissed counts the open loop's ops that were due in the
	// measured phase but had not completed when it stopped: their client
	// was still busy with an earlier op (or that op was cancelled after the
	// drain grace). The latency figures, measured from each op's intended
	// start, miss them, and each would have waited at least from its due
	// time to the end: a large count means the tail is understated. It may
	// count one op per client that the stop overtook as it became due.
	OpenLoopMissed int64 `json:"open_loop_missed,omitempty"`
	// CPUUserS and CPUSysS are the process's CPU time (getrusage) from the
	// start of the measured phase until its writes are flushed: every
	// thread, so every node of an in-process cluster, the clients and the
	// harness (an --endpoints run counts only its clients). CPUPerOpUs is
	// (user + sys) per acknowledged op in µs: the work an op costs, which
	// waiting (fsyncs, a busy neighbour on a shared machine) does not
	// inflate. Absent when the kernel did not report it.
	//
	// The layer's engines are settled (engine.Settler: pebble's flushes and
	// compactions done) after the preload and again after the flush, so the
	// CPU counts the background work the run's writes caused, however far a
	// saturated run let it fall behind; SettleS is how long the second
	// settle took. With a warm-up, the background work the warm-up left
	// behind is counted too: give no warm-up for exact engine accounting.
	SettleS float64 `json:"settle_s,omitempty"`
	// ReadIndexRounds is how many ReadIndex rounds the in-process nodes'
	// read loops made in the measured phase (linearizable reads per round
	// is how many reads shared one round's cost).
	ReadIndexRounds int64   `json:"read_index_rounds,omitempty"`
	CPUUserS        float64 `json:"cpu_user_s,omitempty"`
	CPUSysS         float64 `json:"cpu_sys_s,omitempty"`
	CPUPerOpUs      float64 `json:"cpu_per_op_us,omitempty"`
	// CPUEngineShare (run flag --attribute-cpu) is the share of the CPU
	// profile's samples, over the same span, with the engine's code on the
	// stack (its library and etcdlab's adapter; a compaction goroutine's
	// whole stack; GC and the shared batching layer are not the engine's);
	// CPUGCShare the share of the runtime's GC work (background mark
	// workers, sweeper, scavenger, and the mark assists, sweeping and
	// write-barrier flushes it charges to whichever goroutine allocates:
	// they serve every allocation, the engine's and the pipeline's, and no
	// stack says whose), and CPUGCPerOpUs that per op.
	// CPUOutsideEnginePerOpUs is CPUPerOpUs × (1 − CPUEngineShare −
	// CPUGCShare): what the code around the engine cost per op. Absent
	// without the flag.
	CPUEngineShare          float64 `json:"cpu_engine_share,omitempty"`
	CPUGCShare              float64 `json:"cpu_gc_share,omitempty"`
	CPUGCPerOpUs            float64 `json:"cpu_gc_per_op_us,omitempty"`
	CPUOutsideEnginePerOpUs float64 `json:"cpu_outside_engine_per_op_us,omitempty"`
	// Latency is over every op kind together (microseconds).
	Latency         Latency          `json:"latency"`
	ErrorsByMessage map[string]int64 `json:"errors_by_message,omitempty"`
}

// OpStats are the latency figures of one op kind, in microseconds. In open
// loop they are measured from each op's intended start (coordinated omission
// corrected) and Service holds the time from the actual start.
type OpStats struct {
	Count   int64    `json:"count"`
	Errors  int64    `json:"errors"`
	P50Us   float64  `json:"p50_us"`
	P90Us   float64  `json:"p90_us"`
	P99Us   float64  `json:"p99_us"`
	P999Us  float64  `json:"p999_us"`
	MaxUs   float64  `json:"max_us"`
	MeanUs  float64  `json:"mean_us"`
	Service *Latency `json:"service,omitempty"`
}

// Latency is a percentile summary in microseconds.
type Latency struct {
	P50Us  float64 `json:"p50_us"`
	P90Us  float64 `json:"p90_us"`
	P99Us  float64 `json:"p99_us"`
	P999Us float64 `json:"p999_us"`
	MaxUs  float64 `json:"max_us"`
	MeanUs float64 `json:"mean_us"`
}

// Disk figures cover the measured phase.
type Disk struct {
	// BytesWritten is what reached the block layer (/proc/self/io
	// write_bytes) during the measured phase, or the layer's own count when
	// the kernel does not report it; BytesWrittenSource says which.
	BytesWritten       int64  `json:"bytes_written"`
	BytesWrittenSource string `json:"bytes_written_source"`
	// LayerBytesWritten is what the engine and WAL say they wrote.
	LayerBytesWritten int64 `json:"layer_bytes_written"`
	// Three sizes of the db, the largest over nodes at the end of the run:
	// DBSizeBytes is what its files take on disk (du's apparent size; bbolt's
	// grow slack included); DBSizeInUseBytes the part holding live data;
	// DBQuotaSizeBytes the backend size the quota compares (etcd's
	// "dbSize": bbolt's high-water mark; pebble's DiskSpaceUsage). See
	// engine.Engine's Size, SizeInUse and DiskSize. An --endpoints run knows
	// only what the servers' Status reports: the last two.
	DBSizeBytes      int64 `json:"db_size_bytes"`
	DBSizeInUseBytes int64 `json:"db_size_in_use_bytes"`
	DBQuotaSizeBytes int64 `json:"db_quota_size_bytes"`
	// DBSizeSource says where the sizes come from: "layer" (the engines
	// of an in-process run), "status" (the servers' Maintenance Status) or
	// "server-metrics" (the servers' etcd_mvcc_db_total_size_in_bytes and
	// ..._in_use_in_bytes: etcd's db size, which an --endpoints run also
	// records as db_size_bytes, the servers' files being out of sight).
	// Empty in results written before it existed.
	DBSizeSource string `json:"db_size_source,omitempty"`
	WALBytes     int64  `json:"wal_bytes"`
	// WriteAmplification is BytesWritten / logical bytes written (key and
	// value bytes of the acknowledged writes), 0 when nothing was written.
	WriteAmplification float64 `json:"write_amplification"`
}

// Fsyncs count fsync/fdatasync calls during the measured phase.
type Fsyncs struct {
	WAL    int64 `json:"wal"`
	Engine int64 `json:"engine"`
	// Source is "layer" (the WALs and engines of an in-process run count
	// them) or "server-metrics" (an --endpoints run: WAL from the servers'
	// etcd_disk_wal_fsync_duration_seconds_count, engine from
	// etcdlab_engine_fsyncs_total, which etcd does not have). Empty in
	// results written before it existed.
	Source string `json:"source,omitempty"`
	// WALSyncCPUS is the CPU time (s) the WALs' segment fdatasyncs took on
	// their threads, every node: kernel work that grows with what the engine
	// writes to the same disk meanwhile. The parity report takes it out of
	// the cost outside the engine. In-process cluster runs on Linux only.
	WALSyncCPUS float64 `json:"wal_sync_cpu_s,omitempty"`
}

// Memory holds peaks sampled once a second during the measured phase.
type Memory struct {
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`
	PeakHeapBytes int64   `json:"peak_heap_bytes"`
	GCPauseTotalS float64 `json:"gc_pause_total_s"`
	NumGC         int64   `json:"num_gc"`
	// CgroupPeakBytes is the peak memory use of the memory-limited cgroup
	// the run was in (Config.MemoryLimitBytes), page cache included: v1's
	// memory.max_usage_in_bytes, v2's memory.peak. Absent without a limit
	// or where the kernel does not report it.
	CgroupPeakBytes int64 `json:"cgroup_peak_bytes,omitempty"`
}

// New returns an empty result with the schema set.
func New() *Result {
	return &Result{Schema: SchemaV1, Ops: map[string]OpStats{}, Events: map[string]int64{}}
}

// Marshal renders r as indented JSON.
func (r *Result) Marshal() ([]byte, error) {
	if r.Schema != SchemaV1 {
		return nil, fmt.Errorf("%w: %q (this version writes %q)", ErrUnknownSchema, r.Schema, SchemaV1)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Parse decodes result.json content, refusing an unknown schema.
func Parse(data []byte) (*Result, error) {
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResult, err)
	}
	if head.Schema == nil {
		return nil, fmt.Errorf("%w: no \"schema\" field (want %q)", ErrUnknownSchema, SchemaV1)
	}
	if *head.Schema != SchemaV1 {
		return nil, fmt.Errorf("%w: %q; this version reads only %q", ErrUnknownSchema, *head.Schema, SchemaV1)
	}
	r := New()
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResult, err)
	}
	return r, nil
}

// Complete reports, at once, every part of what a finished run records that
// r lacks: the configuration's layer and engine, a measured phase
// (summary.duration_s > 0) and at least one op kind (ops). Readers that
// aggregate runs (report, compare) leave incomplete ones out by name
// rather than count zeros as a measurement.
func (r *Result) Complete() error {
	var missing []string
	if r.Config.Layer == "" {
		missing = append(missing, "config.layer")
	}
	if r.Config.Engine == "" {
		missing = append(missing, "config.engine")
	}
	if r.Summary.DurationS <= 0 {
		missing = append(missing, "summary.duration_s")
	}
	if len(r.Ops) == 0 {
		missing = append(missing, "ops")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: no %s", ErrIncomplete, strings.Join(missing, ", no "))
	}
	return nil
}

// Read reads a result.json from rd.
func Read(rd io.Reader) (*Result, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Load reads the result of run directory dir (or a result.json path).
func Load(path string) (*Result, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, ResultFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// RequiredFields are the JSON paths scripts may rely on; "ops.*" stands for
// every op kind present. Their meaning does not change within SchemaV1.
var requiredFields = []string{
	"config.layer", "config.engine", "config.engine_options", "config.nodes", "config.seed",
	"config.workload.name", "config.snapshot_count", "config.quota_bytes", "config.read_consistency",
	"env.go_version", "env.cpu", "env.kernel", "env.filesystem", "env.commit", "env.fsync_p50_us",
	"summary.ops", "summary.errors", "summary.duration_s", "summary.throughput_ops_s",
	"ops.*.count", "ops.*.p50_us", "ops.*.p90_us", "ops.*.p99_us", "ops.*.p999_us", "ops.*.max_us", "ops.*.mean_us",
	"disk.bytes_written", "disk.db_size_bytes", "disk.wal_bytes", "disk.write_amplification",
	"fsyncs.wal", "fsyncs.engine",
	"memory.peak_rss_bytes", "memory.peak_heap_bytes",
	"events",
}

// RequiredFields returns the JSON paths that scripts may rely on.
func RequiredFields() []string { return append([]string(nil), requiredFields...) }
