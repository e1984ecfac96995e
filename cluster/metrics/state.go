package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"etcdlab/engines/engine"
)

// State is what a member reports at scrape time: figures it keeps anyway
// (atomics, the backend's sizes as of its last commit, the engine's own
// statistics), read only when someone asks.
type State struct {
	// ID is the member's ID; Leader the leader it knows of (0: none).
	ID, Leader uint64
	// CommittedIndex and AppliedIndex are raft's (etcd reports them as
	// proposals committed and applied).
	CommittedIndex, AppliedIndex uint64
	// QuotaBytes is the backend quota as configured: etcd's gauge shows the
	// default when 0 was asked for, and a negative value when none.
	QuotaBytes int64
	// StoreOK is false while the member has no store (stopped, or swapping
	// in a snapshot); the store's figures below are then left out.
	StoreOK bool
	// DBSize is the backend size the quota compares (etcd's
	// etcd_mvcc_db_total_size_in_bytes: bbolt's high-water mark) and
	// DBSizeInUse its live part, as of the last backend commit.
	DBSize, DBSizeInUse int64
	// Keys is the number of keys in the MVCC index (tombstoned ones
	// included until a compaction removes them; etcd's gauge counts live
	// keys).
	Keys int
	// Rev and CompactRev are the store's current and compacted revisions.
	Rev, CompactRev int64
	// Engine is the engine's statistics: its counters and native figures
	// become etcdlab_engine_* with an engine label.
	Engine engine.Stats
}

// Source returns a member's State. It is called once per scrape (and per
// timeline sample), never on a request path, and may take locks and ask the
// engine for its statistics.
type Source func() State

var (
	descHasLeader = prometheus.NewDesc("etcd_server_has_leader",
		"Whether or not a leader exists. 1 is existence, 0 is not.", nil, nil)
	descIsLeader = prometheus.NewDesc("etcd_server_is_leader",
		"Whether or not this member is a leader. 1 if is, 0 otherwise.", nil, nil)
	descServerID = prometheus.NewDesc("etcd_server_id",
		"Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.", []string{"server_id"}, nil)
	descCommitted = prometheus.NewDesc("etcd_server_proposals_committed_total",
		"The total number of consensus proposals committed.", nil, nil)
	descApplied = prometheus.NewDesc("etcd_server_proposals_applied_total",
		"The total number of consensus proposals applied.", nil, nil)
	descQuota = prometheus.NewDesc("etcd_server_quota_backend_bytes",
		"Current backend storage quota size in bytes.", nil, nil)
	descDBSize = prometheus.NewDesc("etcd_mvcc_db_total_size_in_bytes",
		"Total size of the underlying database physically allocated in bytes.", nil, nil)
	descDBInUse = prometheus.NewDesc("etcd_mvcc_db_total_size_in_use_in_bytes",
		"Total size of the underlying database logically in use in bytes.", nil, nil)
	descKeys = prometheus.NewDesc("etcd_debugging_mvcc_keys_total",
		"Total number of keys.", nil, nil)
	descRev = prometheus.NewDesc("etcd_debugging_mvcc_current_revision",
		"The current revision of store.", nil, nil)
	descCompactRev = prometheus.NewDesc("etcd_debugging_mvcc_compact_revision",
		"The revision of the last compaction in store.", nil, nil)
)

// stateCollector turns the Source's State into metrics at scrape time. It
// describes nothing (an unchecked collector) because the engine's figures
// depend on the engine and its shape (pebble's levels).
type stateCollector struct{ m *Metrics }

func (stateCollector) Describe(chan<- *prometheus.Desc) {}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.m.source.Load()
	if p == nil {
		return
	}
	st := (*p)()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descHasLeader, b2f(st.Leader != 0))
	gauge(descIsLeader, b2f(st.Leader != 0 && st.Leader == st.ID))
	gauge(descServerID, 1, strconv.FormatUint(st.ID, 16))
	// etcd declares both as gauges despite the _total suffix; the type is
	// kept so that queries written for etcd behave the same.
	gauge(descCommitted, float64(st.CommittedIndex))
	gauge(descApplied, float64(st.AppliedIndex))
	gauge(descQuota, float64(st.QuotaBytes))
	if !st.StoreOK {
		return
	}
	gauge(descDBSize, float64(st.DBSize))
	gauge(descDBInUse, float64(st.DBSizeInUse))
	gauge(descKeys, float64(st.Keys))
	gauge(descRev, float64(st.Rev))
	gauge(descCompactRev, float64(st.CompactRev))
	collectEngine(st.Engine, ch)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
