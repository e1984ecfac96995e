package bench

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// memberText is one member's exposition, in etcd's names and buckets.
func memberText(fsyncs, le1ms, le2ms, puts, dbSize, walBytes string) string {
	return `# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} ` + le1ms + `
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"} ` + le2ms + `
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} ` + fsyncs + `
etcd_disk_wal_fsync_duration_seconds_sum 0.1
etcd_disk_wal_fsync_duration_seconds_count ` + fsyncs + `
# HELP etcd_mvcc_put_total Total number of puts seen by this member.
# TYPE etcd_mvcc_put_total counter
etcd_mvcc_put_total ` + puts + `
# HELP etcd_mvcc_db_total_size_in_bytes Total size of the underlying database physically allocated in bytes.
# TYPE etcd_mvcc_db_total_size_in_bytes gauge
etcd_mvcc_db_total_size_in_bytes ` + dbSize + `
# HELP etcd_disk_wal_write_bytes_total Total number of bytes written in WAL.
# TYPE etcd_disk_wal_write_bytes_total gauge
etcd_disk_wal_write_bytes_total ` + walBytes + `
`
}

func sampleOf(t *testing.T, texts ...string) promSample {
	t.Helper()
	s := newPromSample()
	for i, txt := range texts {
		fams, err := parseMetrics("member", strings.NewReader(txt))
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		s.add(fams)
	}
	return s
}

// TestPromSampleMerge: counters and histograms sum over members, gauges take
// the largest member's (the WAL byte gauge, per member, sums), and the
// result is the difference between the two samples.
func TestPromSampleMerge(t *testing.T) {
	before := sampleOf(t, memberText("10", "10", "10", "5", "1000", "100"), memberText("20", "20", "20", "5", "3000", "100"))
	after := sampleOf(t, memberText("110", "10", "110", "105", "5000", "300"), memberText("120", "20", "120", "105", "4000", "300"))
	if v, _ := after.value(mWALFsync + "_count"); v != 230 {
		t.Errorf("fsync count %v, want 230", v)
	}
	if v, _ := after.value(mDBSize); v != 5000 {
		t.Errorf("db size %v, want the largest member's 5000", v)
	}
	sm := serverResult(metricsInfo{Source: MetricsSourceScrape}, before, after)
	if sm.WALFsyncs != 200 || sm.Puts != 200 || sm.DBSizeBytes != 5000 || sm.WALBytesWritten != 400 || sm.Members != 2 {
		t.Errorf("result: %+v", sm)
	}
	// All 200 new fsyncs fell in (1 ms, 2 ms]: p50 and p99 interpolate there.
	if math.Abs(sm.WALFsyncP50Us-1500) > 1 || math.Abs(sm.WALFsyncP99Us-1990) > 1 {
		t.Errorf("fsync p50 %v p99 %v µs, want 1500 and 1990", sm.WALFsyncP50Us, sm.WALFsyncP99Us)
	}
	tl := after.timeline()
	if tl[mWALFsync+"_count"] != 230 || tl[mPuts] != 210 {
		t.Errorf("timeline: %v", tl)
	}
}

// TestPromQuantile checks histogram_quantile's rules at the edges.
func TestPromQuantile(t *testing.T) {
	h := &promHist{bounds: []float64{1, 2, math.Inf(1)}, cum: []float64{50, 100, 100}, count: 100}
	for q, want := range map[float64]float64{0.25: 0.5, 0.5: 1, 0.75: 1.5, 1: 2} {
		if got := h.quantile(q); math.Abs(got-want) > 1e-9 {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	inf := &promHist{bounds: []float64{1, 2, math.Inf(1)}, cum: []float64{0, 0, 10}, count: 10}
	if got := inf.quantile(0.99); got != 2 {
		t.Errorf("in the +Inf bucket: %v, want the highest finite bound 2", got)
	}
	if got := (&promHist{}).quantile(0.99); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestMetricsURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:2379":                   "http://127.0.0.1:2379/metrics",
		"http://127.0.0.1:2379":            "http://127.0.0.1:2379/metrics",
		"http://127.0.0.1:2381/metrics":    "http://127.0.0.1:2381/metrics",
		"http://127.0.0.1:2381/other/path": "http://127.0.0.1:2381/other/path",
	} {
		if got, err := metricsURL(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "https://127.0.0.1:2379", "http://"} {
		if _, err := metricsURL(in); !errors.Is(err, ErrMetrics) {
			t.Errorf("%q: %v, want ErrMetrics", in, err)
		}
	}
}

// TestScrapeRejects: what is not a Prometheus endpoint fails with an error
// naming the URL and the problem.
func TestScrapeRejects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/html":
			_, _ = w.Write([]byte("<html><body>hello</body></html>"))
		case "/empty":
		case "/ok":
			_, _ = w.Write([]byte(memberText("1", "1", "1", "1", "1", "1")))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	for path, want := range map[string]string{
		"/html":    "Prometheus' text format",
		"/empty":   "no metrics",
		"/missing": "404",
	} {
		_, err := scrapeMetrics(ctx, srv.Client(), srv.URL+path)
		if !errors.Is(err, ErrMetrics) || !strings.Contains(err.Error(), srv.URL+path) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrMetrics naming the URL and %q", path, err, want)
		}
	}
	if fams, err := scrapeMetrics(ctx, srv.Client(), srv.URL+"/ok"); err != nil || len(fams) != 4 {
		t.Errorf("/ok: %d families, %v", len(fams), err)
	}
	srv.Close()
	if _, err := scrapeMetrics(ctx, http.DefaultClient, srv.URL+"/ok"); !errors.Is(err, ErrMetrics) || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("closed server: %v", err)
	}
}
