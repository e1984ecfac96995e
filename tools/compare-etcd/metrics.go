package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// ServerFigures are what the servers' own Prometheus metrics (etcd's names,
// which etcdlab nodes serve too) say about one case: differences between a
// scrape of every node's /metrics before the case and one after, summed
// over the nodes. They are the like-for-like server-side comparison the
// client's latencies cannot give: how many WAL fsyncs a put cost, and how
// long the backend's commits took.
type ServerFigures struct {
	// WALFsyncs counts etcd_disk_wal_fsync_duration_seconds observations.
	WALFsyncs float64 `json:"wal_fsyncs"`
	// Puts is etcd_mvcc_put_total's growth (every member counts each put
	// it applies).
	Puts float64 `json:"puts"`
	// BackendCommits counts etcd_disk_backend_commit_duration_seconds
	// observations; BackendCommitP99Secs is their p99 as Prometheus'
	// histogram_quantile estimates it from etcd's buckets (1 ms, 2 ms,
	// 4 ms, ...), so it is only as fine as they are.
	BackendCommits       float64 `json:"backend_commits"`
	BackendCommitP99Secs float64 `json:"backend_commit_p99_secs"`
	// DBSizeBytes is the largest node's etcd_mvcc_db_total_size_in_bytes
	// after the case.
	DBSizeBytes float64 `json:"db_size_bytes"`
}

// FsyncsPerPut is the cluster's WAL fsyncs per put a client made (puts
// counted once, by the member that applied the most).
func (f *ServerFigures) FsyncsPerPut(members int) float64 {
	if f == nil || f.Puts <= 0 || members <= 0 {
		return math.NaN()
	}
	return f.WALFsyncs / (f.Puts / float64(members))
}

// scrape is the metrics of every node at one moment.
type scrape struct {
	counts map[string]float64   // histogram _count and counters, summed over nodes
	max    map[string]float64   // gauges, the largest node's
	bucket map[string][]float64 // histogram cumulative counts by bucket, summed
	bounds map[string][]float64
}

func scrapeAll(ctx context.Context, c *cluster) (*scrape, error) {
	s := &scrape{counts: map[string]float64{}, max: map[string]float64{}, bucket: map[string][]float64{}, bounds: map[string][]float64{}}
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, ep := range c.endpoints() {
		url := "http://" + ep + "/metrics"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/plain;version=0.0.4")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: %w", url, err)
		}
		var p expfmt.TextParser
		fams, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("scrape %s: not Prometheus text: %w", url, err)
		}
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				switch f.GetType() {
				case dto.MetricType_COUNTER:
					s.counts[name] += m.GetCounter().GetValue()
				case dto.MetricType_GAUGE:
					s.max[name] = math.Max(s.max[name], m.GetGauge().GetValue())
				case dto.MetricType_HISTOGRAM:
					h := m.GetHistogram()
					s.counts[name+"_count"] += float64(h.GetSampleCount())
					if s.bounds[name] == nil {
						for _, b := range h.GetBucket() {
							s.bounds[name] = append(s.bounds[name], b.GetUpperBound())
						}
						s.bucket[name] = make([]float64, len(s.bounds[name]))
					}
					for i, b := range h.GetBucket() {
						if i < len(s.bucket[name]) {
							s.bucket[name][i] += float64(b.GetCumulativeCount())
						}
					}
				}
			}
		}
	}
	return s, nil
}

// figures turns a scrape before and one after a case into ServerFigures.
func figures(before, after *scrape) *ServerFigures {
	const fsync, commit = "etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds"
	f := &ServerFigures{
		WALFsyncs:      after.counts[fsync+"_count"] - before.counts[fsync+"_count"],
		Puts:           after.counts["etcd_mvcc_put_total"] - before.counts["etcd_mvcc_put_total"],
		BackendCommits: after.counts[commit+"_count"] - before.counts[commit+"_count"],
		DBSizeBytes:    after.max["etcd_mvcc_db_total_size_in_bytes"],
	}
	if a, b := after.bucket[commit], before.bucket[commit]; len(a) > 0 {
		d := append([]float64(nil), a...)
		if len(b) == len(d) {
			for i := range d {
				d[i] -= b[i]
			}
		}
		f.BackendCommitP99Secs = quantile(0.99, after.bounds[commit], d)
	}
	return f
}

// quantile is Prometheus' histogram_quantile over cumulative counts cum by
// upper bound: linear interpolation within the bucket holding the rank.
func quantile(q float64, bounds, cum []float64) float64 {
	if len(cum) == 0 || cum[len(cum)-1] <= 0 {
		return 0
	}
	rank := q * cum[len(cum)-1]
	i := sort.Search(len(cum), func(i int) bool { return cum[i] >= rank })
	if i >= len(bounds) {
		i = len(bounds) - 1
	}
	if math.IsInf(bounds[i], 1) {
		if i == 0 {
			return 0
		}
		return bounds[i-1]
	}
	lo, prev := 0.0, 0.0
	if i > 0 {
		lo, prev = bounds[i-1], cum[i-1]
	}
	if cum[i]-prev <= 0 {
		return bounds[i]
	}
	return lo + (bounds[i]-lo)*(rank-prev)/(cum[i]-prev)
}
