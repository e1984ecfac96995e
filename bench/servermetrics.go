package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"etcdlab/results"
)

// ErrMetrics reports a metrics endpoint that cannot be scraped or does not
// answer in Prometheus' text format.
var ErrMetrics = errors.New("bench: metrics endpoint")

// Sources of Result.Server (and of the fields it fills).
const (
	// MetricsSourceRegistry: the in-process nodes' registries, gathered.
	MetricsSourceRegistry = "registry"
	// MetricsSourceScrape: the servers' /metrics, scraped over HTTP.
	MetricsSourceScrape = "scrape"
)

// metricsScrapeTimeout bounds one scrape; maxMetricsBytes one response.
const (
	metricsScrapeTimeout = 2 * time.Second
	maxMetricsBytes      = 64 << 20
)

// Names of the figures the result and the timeline take, etcd's.
const (
	mWALFsync        = "etcd_disk_wal_fsync_duration_seconds"
	mBackendCommit   = "etcd_disk_backend_commit_duration_seconds"
	mDBSize          = "etcd_mvcc_db_total_size_in_bytes"
	mDBSizeInUse     = "etcd_mvcc_db_total_size_in_use_in_bytes"
	mLeaderChanges   = "etcd_server_leader_changes_seen_total"
	mSlowApply       = "etcd_server_slow_apply_total"
	mProposalsCommit = "etcd_server_proposals_committed_total"
	mProposalsFailed = "etcd_server_proposals_failed_total"
	mHeartbeatFail   = "etcd_server_heartbeat_send_failures_total"
	mSlowReadIndex   = "etcd_server_slow_read_indexes_total"
	mPuts            = "etcd_mvcc_put_total"
	mWALWriteBytes   = "etcd_disk_wal_write_bytes_total"
	mEngineFsyncs    = "etcdlab_engine_fsyncs_total"
	mEngineBytes     = "etcdlab_engine_bytes_written_total"
)

// timelineMetrics are the figures each timeline interval records under
// "metrics", as the servers report them (cumulative counters, histogram
// _count and _sum, gauges), merged over members.
var timelineMetrics = []string{
	mWALFsync + "_count", mWALFsync + "_sum",
	mBackendCommit + "_count", mBackendCommit + "_sum",
	mDBSize, mDBSizeInUse,
	"etcd_server_has_leader", mLeaderChanges, mSlowApply,
	mProposalsCommit, "etcd_server_proposals_applied_total", "etcd_server_proposals_pending", mProposalsFailed,
	mHeartbeatFail, mSlowReadIndex,
	mPuts, "etcd_mvcc_range_total", "etcd_mvcc_delete_total", "etcd_mvcc_txn_total", "etcd_debugging_mvcc_keys_total",
	mWALWriteBytes, mEngineFsyncs, mEngineBytes,
}

// summedGauges are gauges that count per member (etcd declares its WAL
// byte count a gauge) and so are summed over members like counters.
var summedGauges = map[string]bool{mWALWriteBytes: true}

// promSample is the servers' metrics at one moment, merged over members:
// counters and histograms summed, gauges the largest (the largest member's
// db size, as the in-process figures take it) but summedGauges. Series of
// one family on one member (labels) are summed.
type promSample struct {
	values  map[string]float64
	hists   map[string]*promHist
	members int
}

// promHist is a histogram: cumulative counts per upper bound, ascending.
type promHist struct {
	bounds []float64
	cum    []float64
	count  float64
	sum    float64
}

func newPromSample() promSample {
	return promSample{values: map[string]float64{}, hists: map[string]*promHist{}}
}

// add merges one member's families into s.
func (s *promSample) add(fams []*dto.MetricFamily) {
	s.members++
	for _, f := range fams {
		name := f.GetName()
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			for _, m := range f.GetMetric() {
				s.addHist(name, m.GetHistogram())
			}
		case dto.MetricType_GAUGE:
			var v float64
			for _, m := range f.GetMetric() {
				v += m.GetGauge().GetValue()
			}
			if summedGauges[name] {
				s.values[name] += v
			} else if old, ok := s.values[name]; !ok || v > old {
				s.values[name] = v
			}
		case dto.MetricType_COUNTER:
			for _, m := range f.GetMetric() {
				s.values[name] += m.GetCounter().GetValue()
			}
		case dto.MetricType_UNTYPED:
			for _, m := range f.GetMetric() {
				s.values[name] += m.GetUntyped().GetValue()
			}
		}
	}
}

func (s *promSample) addHist(name string, h *dto.Histogram) {
	if h == nil {
		return
	}
	ph := s.hists[name]
	if ph == nil {
		ph = &promHist{}
		for _, b := range h.GetBucket() {
			ph.bounds = append(ph.bounds, b.GetUpperBound())
		}
		ph.cum = make([]float64, len(ph.bounds))
		s.hists[name] = ph
	}
	for i, b := range h.GetBucket() {
		// Members share etcd's bucket layout; a bucket another layout has
		// is left out rather than misplaced.
		if i < len(ph.bounds) && ph.bounds[i] == b.GetUpperBound() {
			ph.cum[i] += float64(b.GetCumulativeCount())
		}
	}
	ph.count += float64(h.GetSampleCount())
	ph.sum += h.GetSampleSum()
}

// value returns a figure by name: a counter or gauge, or a histogram's
// _count or _sum.
func (s promSample) value(name string) (float64, bool) {
	if v, ok := s.values[name]; ok {
		return v, true
	}
	if base, ok := strings.CutSuffix(name, "_count"); ok {
		if h := s.hists[base]; h != nil {
			return h.count, true
		}
	}
	if base, ok := strings.CutSuffix(name, "_sum"); ok {
		if h := s.hists[base]; h != nil {
			return h.sum, true
		}
	}
	return 0, false
}

// timeline returns the timelineMetrics s has.
func (s promSample) timeline() map[string]float64 {
	out := make(map[string]float64)
	for _, name := range timelineMetrics {
		if v, ok := s.value(name); ok {
			out[name] = v
		}
	}
	return out
}

// histDelta is a histogram's observations between two samples.
func histDelta(before, after promSample, name string) *promHist {
	a := after.hists[name]
	if a == nil {
		return nil
	}
	d := &promHist{bounds: a.bounds, cum: append([]float64(nil), a.cum...), count: a.count, sum: a.sum}
	if b := before.hists[name]; b != nil && len(b.cum) == len(d.cum) {
		for i := range d.cum {
			d.cum[i] -= b.cum[i]
		}
		d.count -= b.count
		d.sum -= b.sum
	}
	return d
}

// quantile estimates the q-quantile as Prometheus' histogram_quantile does:
// linear interpolation within the bucket that holds it, the lower bound of
// the first bucket taken as 0; in the +Inf bucket, the highest finite bound.
func (h *promHist) quantile(q float64) float64 {
	if h == nil || h.count <= 0 || len(h.bounds) == 0 {
		return 0
	}
	rank := q * h.count
	i := sort.Search(len(h.cum), func(i int) bool { return h.cum[i] >= rank })
	if i >= len(h.bounds) || math.IsInf(h.bounds[i], 1) {
		j := len(h.bounds) - 1
		for j >= 0 && math.IsInf(h.bounds[j], 1) {
			j--
		}
		if j < 0 {
			return 0
		}
		return h.bounds[j]
	}
	lo, prev := 0.0, 0.0
	if i > 0 {
		lo, prev = h.bounds[i-1], h.cum[i-1]
	}
	in := h.cum[i] - prev
	if in <= 0 {
		return h.bounds[i]
	}
	return lo + (h.bounds[i]-lo)*(rank-prev)/in
}

func (h *promHist) mean() float64 {
	if h == nil || h.count <= 0 {
		return 0
	}
	return h.sum / h.count
}

// serverMetricsSource is the optional capability of a Target whose servers
// keep etcd's Prometheus metrics: the in-process cluster (its nodes'
// registries) and --endpoints runs (the servers' /metrics).
type serverMetricsSource interface {
	// serverMetrics returns the servers' figures merged over members:
	// taken now when fresh, else possibly the latest background scrape.
	serverMetrics(ctx context.Context, fresh bool) (promSample, error)
	// metricsInfo says where they come from and how the scrapes went.
	metricsInfo() metricsInfo
}

// metricsInfo describes a serverMetricsSource: Source is one of
// MetricsSource*; URLs, Scrapes and Errors are for scrapes.
type metricsInfo struct {
	Source          string
	URLs            []string
	Scrapes, Errors int64
}

// fillFromServer puts the servers' own figures into the fields an
// --endpoints run cannot measure from the client side, marking their
// source: fsyncs (WAL from etcd's fsync histogram, engine from
// etcdlab_engine_fsyncs_total where the server is etcdlab) and the db
// sizes (etcd's db size stands for the on-disk size, the servers' files
// being out of sight). Where the server reports its engine's bytes
// (etcdlab), the bytes written and write amplification come from there
// too; against etcd they stay as they were.
func fillFromServer(res *results.Result) {
	sm := res.Server
	if sm == nil {
		return
	}
	res.Fsyncs.WAL, res.Fsyncs.Engine, res.Fsyncs.Source = sm.WALFsyncs, sm.EngineFsyncs, "server-metrics"
	d := &res.Disk
	if sm.DBSizeBytes > 0 {
		d.DBSizeBytes, d.DBSizeInUseBytes, d.DBSizeSource = sm.DBSizeBytes, sm.DBSizeInUseBytes, "server-metrics"
	}
	if sm.EngineBytesWritten > 0 {
		d.LayerBytesWritten = sm.WALBytesWritten + sm.EngineBytesWritten
		d.BytesWritten, d.BytesWrittenSource = d.LayerBytesWritten, "server-metrics"
		d.WALBytes = sm.WALBytesWritten
		if res.Summary.LogicalBytes > 0 {
			d.WriteAmplification = float64(d.BytesWritten) / float64(res.Summary.LogicalBytes)
		}
	}
}

// serverResult turns the samples taken when the measured phase began and
// after its flush into Result.Server.
func serverResult(info metricsInfo, before, after promSample) *results.ServerMetrics {
	delta := func(name string) int64 {
		a, _ := after.value(name)
		b, _ := before.value(name)
		return int64(math.Round(a - b))
	}
	last := func(name string) int64 {
		v, _ := after.value(name)
		return int64(v)
	}
	sm := &results.ServerMetrics{
		Source:                info.Source,
		Endpoints:             info.URLs,
		Members:               after.members,
		Scrapes:               info.Scrapes,
		ScrapeErrors:          info.Errors,
		WALFsyncs:             delta(mWALFsync + "_count"),
		BackendCommits:        delta(mBackendCommit + "_count"),
		DBSizeBytes:           last(mDBSize),
		DBSizeInUseBytes:      last(mDBSizeInUse),
		LeaderChanges:         delta(mLeaderChanges),
		SlowApplies:           delta(mSlowApply),
		ProposalsCommitted:    delta(mProposalsCommit),
		ProposalsFailed:       delta(mProposalsFailed),
		HeartbeatSendFailures: delta(mHeartbeatFail),
		SlowReadIndexes:       delta(mSlowReadIndex),
		Puts:                  delta(mPuts),
		WALBytesWritten:       delta(mWALWriteBytes),
	}
	if _, ok := after.value(mEngineFsyncs); ok {
		sm.EngineFsyncs = delta(mEngineFsyncs)
		sm.EngineBytesWritten = delta(mEngineBytes)
	}
	if h := histDelta(before, after, mWALFsync); h != nil {
		sm.WALFsyncP50Us, sm.WALFsyncP99Us, sm.WALFsyncMeanUs = h.quantile(0.5)*1e6, h.quantile(0.99)*1e6, h.mean()*1e6
	}
	if h := histDelta(before, after, mBackendCommit); h != nil {
		sm.BackendCommitP50Us, sm.BackendCommitP99Us, sm.BackendCommitMeanUs = h.quantile(0.5)*1e6, h.quantile(0.99)*1e6, h.mean()*1e6
	}
	return sm
}

// metricsURL turns a metrics endpoint as given ("host:port",
// "http://host:port", "http://host:port/metrics") into the URL to scrape.
func metricsURL(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty URL", ErrMetrics)
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrMetrics, s, err)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("%w: %s: only http:// is supported (no TLS)", ErrMetrics, s)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%w: %s: no host:port", ErrMetrics, s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/metrics"
	}
	return u.String(), nil
}

// scrapeMetrics GETs one /metrics and parses it. Every failure names the
// URL and says what was wrong: unreachable, a status other than 200, or a
// body that is not Prometheus' text format.
func scrapeMetrics(ctx context.Context, hc *http.Client, u string) ([]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, metricsScrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMetrics, u, err)
	}
	// Ask for the text format: a server that can also send protobuf or
	// OpenMetrics must not pick one the parser below does not read.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is unreachable: %v", ErrMetrics, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s, not Prometheus metrics", ErrMetrics, u, resp.Status)
	}
	return parseMetrics(u, io.LimitReader(resp.Body, maxMetricsBytes))
}

// parseMetrics reads Prometheus' text exposition format; what is not (an
// HTML page, JSON, an empty body) is an error naming src.
func parseMetrics(src string, r io.Reader) ([]*dto.MetricFamily, error) {
	var p expfmt.TextParser
	byName, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %s did not answer in Prometheus' text format: %v", ErrMetrics, src, err)
	}
	if len(byName) == 0 {
		return nil, fmt.Errorf("%w: %s answered no metrics", ErrMetrics, src)
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*dto.MetricFamily, len(names))
	for i, n := range names {
		out[i] = byName[n]
	}
	return out, nil
}
