package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"go.etcd.io/etcd/api/v3/version"
)

// Levels of detail (etcd's --metrics).
const (
	// LevelBasic is etcd's default: every metric but the gRPC handling-time
	// histogram.
	LevelBasic = "basic"
	// LevelExtensive adds grpc_server_handling_seconds, as etcd's
	// --metrics extensive does.
	LevelExtensive = "extensive"
)

// ErrBadOption: Options failed validation.
var ErrBadOption = errors.New("metrics: bad option")

// Options configures a member's metrics.
type Options struct {
	// Level is etcd's --metrics: LevelBasic (default) or LevelExtensive.
	Level string
}

// EnsureDefaults fills unset fields: Level "basic".
func (o *Options) EnsureDefaults() {
	if o.Level == "" {
		o.Level = LevelBasic
	}
}

// Validate reports every problem at once.
func (o Options) Validate() error {
	var errs []error
	switch o.Level {
	case LevelBasic, LevelExtensive:
	default:
		errs = append(errs, fmt.Errorf("%w: --metrics %q (accepted: %s, %s)", ErrBadOption, o.Level, LevelBasic, LevelExtensive))
	}
	return errors.Join(errs...)
}

// etcd's bucket layouts, named by the figures that use them.
var (
	// diskBuckets: 1 ms .. 8.192 s by 2 (WAL fsync and write, backend commit).
	diskBuckets = prometheus.ExponentialBuckets(0.001, 2, 14)
	// defragBuckets: 100 ms .. 409.6 s by 2.
	defragBuckets = prometheus.ExponentialBuckets(.1, 2, 13)
	// snapshotBuckets: 10 ms .. 655.36 s by 2 (backend snapshots).
	snapshotBuckets = prometheus.ExponentialBuckets(.01, 2, 17)
	// Compaction (storage/mvcc/metrics.go), in milliseconds as etcd's:
	// the index compaction 0.5 ms .. 4.096 s, a batch's pause 1 ms ..
	// 4.096 s, the whole key-bucket deletion 100 ms .. 819.2 s.
	indexCompactionBuckets = prometheus.ExponentialBuckets(0.5, 2, 14)
	compactionPauseBuckets = prometheus.ExponentialBuckets(1, 2, 13)
	compactionTotalBuckets = prometheus.ExponentialBuckets(100, 2, 14)
	// rttBuckets: 0.1 ms .. 3.2768 s by 2 (peer round trip).
	rttBuckets = prometheus.ExponentialBuckets(0.0001, 2, 16)
)

// Metrics is one member's metrics and the registry that holds them. The
// exported collectors are the event figures the node updates; state figures
// come from the Source set with SetSource, at scrape time. Safe for
// concurrent use.
type Metrics struct {
	level string
	// reg is what /metrics serves; server holds the same collectors less
	// the Go and process ones, for samplers inside the process (an
	// in-process cluster's timeline) that want the member's own figures
	// without paying for the runtime's.
	reg, server *prometheus.Registry

	// server/storage/wal
	WALFsync      prometheus.Histogram // etcd_disk_wal_fsync_duration_seconds
	WALWriteBytes prometheus.Gauge     // etcd_disk_wal_write_bytes_total (a gauge in etcd)

	// server/storage/backend
	BackendCommit   prometheus.Histogram // etcd_disk_backend_commit_duration_seconds
	BackendDefrag   prometheus.Histogram // etcd_disk_backend_defrag_duration_seconds
	BackendSnapshot prometheus.Histogram // etcd_disk_backend_snapshot_duration_seconds
	DefragInflight  prometheus.Gauge     // etcd_disk_defrag_inflight

	// server/etcdserver
	LeaderChanges           prometheus.Counter // etcd_server_leader_changes_seen_total
	HeartbeatSendFailures   prometheus.Counter // etcd_server_heartbeat_send_failures_total
	ProposalsPending        prometheus.Gauge   // etcd_server_proposals_pending
	ProposalsFailed         prometheus.Counter // etcd_server_proposals_failed_total
	SlowReadIndexes         prometheus.Counter // etcd_server_slow_read_indexes_total
	ReadIndexesFailed       prometheus.Counter // etcd_server_read_indexes_failed_total
	ApplySnapshotInProgress prometheus.Gauge   // etcd_server_snapshot_apply_in_progress_total
	SlowApplies             prometheus.Counter // etcd_server_slow_apply_total (etcdserver/txn)
	HealthSuccess           prometheus.Counter // etcd_server_health_success
	HealthFailures          prometheus.Counter // etcd_server_health_failures

	// server/storage/mvcc
	Ranges  prometheus.Counter // etcd_mvcc_range_total
	Puts    prometheus.Counter // etcd_mvcc_put_total
	Deletes prometheus.Counter // etcd_mvcc_delete_total
	Txns    prometheus.Counter // etcd_mvcc_txn_total
	// Compaction figures, observed when a compaction's background part
	// ends (etcd observes each batch's pause as it commits).
	IndexCompactionPause prometheus.Histogram // etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds
	DBCompactionPause    prometheus.Histogram // etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds
	DBCompactionTotal    prometheus.Histogram // etcd_debugging_mvcc_db_compaction_total_duration_milliseconds
	DBCompactionKeys     prometheus.Counter   // etcd_debugging_mvcc_db_compaction_keys_total
	DBCompactionLast     prometheus.Gauge     // etcd_debugging_mvcc_db_compaction_last

	// server/etcdserver/api/rafthttp
	PeerRTT *prometheus.HistogramVec // etcd_network_peer_round_trip_time_seconds{To}

	// GRPC is the gRPC server's interceptors and counters (grpc_server_*).
	GRPC *grpcprom.ServerMetrics

	source atomic.Pointer[Source]
}

// New builds a member's metrics in a registry of their own, with the Go and
// process collectors etcd's default registry has.
func New(opts Options) (*Metrics, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	m := &Metrics{level: opts.Level, reg: prometheus.NewRegistry(), server: prometheus.NewRegistry()}
	hist := func(ns, sub, name, help string, b []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help, Buckets: b})
	}
	counter := func(ns, sub, name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	gauge := func(ns, sub, name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m.WALFsync = hist("etcd", "disk", "wal_fsync_duration_seconds", "The latency distributions of fsync called by WAL.", diskBuckets)
	m.WALWriteBytes = gauge("etcd", "disk", "wal_write_bytes_total", "Total number of bytes written in WAL.")
	m.BackendCommit = hist("etcd", "disk", "backend_commit_duration_seconds", "The latency distributions of commit called by backend.", diskBuckets)
	m.BackendDefrag = hist("etcd", "disk", "backend_defrag_duration_seconds", "The latency distribution of backend defragmentation.", defragBuckets)
	m.BackendSnapshot = hist("etcd", "disk", "backend_snapshot_duration_seconds", "The latency distribution of backend snapshots.", snapshotBuckets)
	m.DefragInflight = gauge("etcd", "disk", "defrag_inflight", "Whether or not defrag is active on the member. 1 means active, 0 means not.")
	m.LeaderChanges = counter("etcd", "server", "leader_changes_seen_total", "The number of leader changes seen.")
	m.HeartbeatSendFailures = counter("etcd", "server", "heartbeat_send_failures_total", "The total number of leader heartbeat send failures (likely overloaded from slow disk).")
	m.ProposalsPending = gauge("etcd", "server", "proposals_pending", "The current number of pending proposals to commit.")
	m.ProposalsFailed = counter("etcd", "server", "proposals_failed_total", "The total number of failed proposals seen.")
	m.SlowReadIndexes = counter("etcd", "server", "slow_read_indexes_total", "The total number of pending read indexes not in sync with leader's or timed out read index requests.")
	m.ReadIndexesFailed = counter("etcd", "server", "read_indexes_failed_total", "The total number of failed read indexes seen.")
	m.ApplySnapshotInProgress = gauge("etcd", "server", "snapshot_apply_in_progress_total", "1 if the server is applying the incoming snapshot. 0 if none.")
	m.SlowApplies = counter("etcd", "server", "slow_apply_total", "The total number of slow apply requests (likely overloaded from slow disk).")
	m.HealthSuccess = counter("etcd", "server", "health_success", "The total number of successful health checks")
	m.HealthFailures = counter("etcd", "server", "health_failures", "The total number of failed health checks")
	m.Ranges = counter("etcd", "mvcc", "range_total", "Total number of ranges seen by this member.")
	m.Puts = counter("etcd", "mvcc", "put_total", "Total number of puts seen by this member.")
	m.Deletes = counter("etcd", "mvcc", "delete_total", "Total number of deletes seen by this member.")
	m.Txns = counter("etcd", "mvcc", "txn_total", "Total number of txns seen by this member.")
	m.IndexCompactionPause = hist("etcd_debugging", "mvcc", "index_compaction_pause_duration_milliseconds", "Bucketed histogram of index compaction pause duration.", indexCompactionBuckets)
	m.DBCompactionPause = hist("etcd_debugging", "mvcc", "db_compaction_pause_duration_milliseconds", "Bucketed histogram of db compaction pause duration.", compactionPauseBuckets)
	m.DBCompactionTotal = hist("etcd_debugging", "mvcc", "db_compaction_total_duration_milliseconds", "Bucketed histogram of db compaction total duration.", compactionTotalBuckets)
	m.DBCompactionKeys = counter("etcd_debugging", "mvcc", "db_compaction_keys_total", "Total number of db keys compacted.")
	m.DBCompactionLast = gauge("etcd_debugging", "mvcc", "db_compaction_last", "The unix time of the last db compaction. Resets to 0 on start.")
	m.PeerRTT = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "etcd", Subsystem: "network", Name: "peer_round_trip_time_seconds",
		Help: "Round-Trip-Time histogram between peers", Buckets: rttBuckets,
	}, []string{"To"})
	var gopts []grpcprom.ServerMetricsOption
	if opts.Level == LevelExtensive {
		gopts = append(gopts, grpcprom.WithServerHandlingTimeHistogram())
	}
	m.GRPC = grpcprom.NewServerMetrics(gopts...)

	version := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: "server", Name: "version",
		Help: "Which version is running. 1 for 'server_version' label with current version."}, []string{"server_version"})
	version.WithLabelValues(etcdVersion()).Set(1)
	goVersion := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: "server", Name: "go_version",
		Help: "Which Go version server is running with. 1 for 'server_go_version' label with current version."}, []string{"server_go_version"})
	goVersion.WithLabelValues(runtime.Version()).Set(1)

	for _, c := range []prometheus.Collector{
		m.WALFsync, m.WALWriteBytes,
		m.BackendCommit, m.BackendDefrag, m.BackendSnapshot, m.DefragInflight,
		m.LeaderChanges, m.HeartbeatSendFailures, m.ProposalsPending, m.ProposalsFailed,
		m.SlowReadIndexes, m.ReadIndexesFailed, m.ApplySnapshotInProgress, m.SlowApplies,
		m.HealthSuccess, m.HealthFailures,
		m.Ranges, m.Puts, m.Deletes, m.Txns, m.PeerRTT, m.GRPC, version, goVersion,
		m.IndexCompactionPause, m.DBCompactionPause, m.DBCompactionTotal, m.DBCompactionKeys, m.DBCompactionLast,
		stateCollector{m},
	} {
		if err := errors.Join(m.reg.Register(c), m.server.Register(c)); err != nil {
			return nil, fmt.Errorf("metrics: registering: %w", err)
		}
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: registering: %w", err)
		}
	}
	return m, nil
}

// etcdVersion is the etcd API version etcdlab reports (its Status answers
// the same), so dashboards that group by version see one.
func etcdVersion() string { return version.Version }

// Level returns the level of detail, "basic" or "extensive".
func (m *Metrics) Level() string { return m.level }

// Registry returns the member's registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Gather returns the current value of every metric, as a scrape would.
func (m *Metrics) Gather() ([]*dto.MetricFamily, error) { return m.reg.Gather() }

// GatherServer is Gather without the Go and process collectors: the
// member's own figures only (what an in-process sampler wants each second).
func (m *Metrics) GatherServer() ([]*dto.MetricFamily, error) { return m.server.Gather() }

// Handler serves the registry in Prometheus' text format at /metrics, with
// promhttp's own request counters as etcd's handler (promhttp.Handler) has.
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}

// SetSource sets (or, with nil, clears) what the state figures are read
// from at scrape time. A member sets itself when it starts.
func (m *Metrics) SetSource(src Source) {
	if src == nil {
		m.source.Store(nil)
		return
	}
	m.source.Store(&src)
}
