package server

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"etcdlab/cluster"
	"etcdlab/cluster/metrics"
)

// etcdMetrics are the metrics etcd 3.6 exposes that etcdlab has too, with
// etcd's types (server/storage/*/metrics.go, server/etcdserver/metrics.go,
// server/etcdserver/txn/metrics.go, server/etcdserver/api/rafthttp/metrics.go;
// the gRPC ones from go-grpc-middleware's providers/prometheus). etcd
// declares some counters-by-name as gauges; the types are etcd's.
var etcdMetrics = map[string]dto.MetricType{
	"etcd_disk_wal_fsync_duration_seconds":         dto.MetricType_HISTOGRAM,
	"etcd_disk_wal_write_bytes_total":              dto.MetricType_GAUGE,
	"etcd_disk_backend_commit_duration_seconds":    dto.MetricType_HISTOGRAM,
	"etcd_disk_backend_snapshot_duration_seconds":  dto.MetricType_HISTOGRAM,
	"etcd_disk_backend_defrag_duration_seconds":    dto.MetricType_HISTOGRAM,
	"etcd_disk_defrag_inflight":                    dto.MetricType_GAUGE,
	"etcd_mvcc_db_total_size_in_bytes":             dto.MetricType_GAUGE,
	"etcd_mvcc_db_total_size_in_use_in_bytes":      dto.MetricType_GAUGE,
	"etcd_server_quota_backend_bytes":              dto.MetricType_GAUGE,
	"etcd_server_has_leader":                       dto.MetricType_GAUGE,
	"etcd_server_is_leader":                        dto.MetricType_GAUGE,
	"etcd_server_leader_changes_seen_total":        dto.MetricType_COUNTER,
	"etcd_server_proposals_committed_total":        dto.MetricType_GAUGE,
	"etcd_server_proposals_applied_total":          dto.MetricType_GAUGE,
	"etcd_server_proposals_pending":                dto.MetricType_GAUGE,
	"etcd_server_proposals_failed_total":           dto.MetricType_COUNTER,
	"etcd_server_slow_apply_total":                 dto.MetricType_COUNTER,
	"etcd_server_slow_read_indexes_total":          dto.MetricType_COUNTER,
	"etcd_server_read_indexes_failed_total":        dto.MetricType_COUNTER,
	"etcd_server_heartbeat_send_failures_total":    dto.MetricType_COUNTER,
	"etcd_server_snapshot_apply_in_progress_total": dto.MetricType_GAUGE,
	"etcd_server_health_success":                   dto.MetricType_COUNTER,
	"etcd_server_health_failures":                  dto.MetricType_COUNTER,
	"etcd_server_id":                               dto.MetricType_GAUGE,
	"etcd_server_version":                          dto.MetricType_GAUGE,
	"etcd_server_go_version":                       dto.MetricType_GAUGE,
	"etcd_mvcc_put_total":                          dto.MetricType_COUNTER,
	"etcd_mvcc_delete_total":                       dto.MetricType_COUNTER,
	"etcd_mvcc_range_total":                        dto.MetricType_COUNTER,
	"etcd_mvcc_txn_total":                          dto.MetricType_COUNTER,
	"etcd_debugging_mvcc_keys_total":               dto.MetricType_GAUGE,
	"etcd_debugging_mvcc_current_revision":         dto.MetricType_GAUGE,
	"etcd_debugging_mvcc_compact_revision":         dto.MetricType_GAUGE,
	"grpc_server_started_total":                    dto.MetricType_COUNTER,
	"grpc_server_handled_total":                    dto.MetricType_COUNTER,
	"grpc_server_msg_received_total":               dto.MetricType_COUNTER,
	"grpc_server_msg_sent_total":                   dto.MetricType_COUNTER,
	"go_goroutines":                                dto.MetricType_GAUGE,
	"process_cpu_seconds_total":                    dto.MetricType_COUNTER,
}

// etcdBuckets are etcd's bucket layouts by histogram.
var etcdBuckets = map[string][]float64{
	"etcd_disk_wal_fsync_duration_seconds":        prometheus.ExponentialBuckets(0.001, 2, 14),
	"etcd_disk_backend_commit_duration_seconds":   prometheus.ExponentialBuckets(0.001, 2, 14),
	"etcd_disk_backend_defrag_duration_seconds":   prometheus.ExponentialBuckets(.1, 2, 13),
	"etcd_disk_backend_snapshot_duration_seconds": prometheus.ExponentialBuckets(.01, 2, 17),
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s is not valid Prometheus text: %v", url, err)
	}
	return fams
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestServerMetrics scrapes a served member's /metrics on its client URL and
// on a --listen-metrics-urls URL and checks etcd's names, types and
// buckets, that the figures move with the requests made, and that the
// output parses with Prometheus' own text parser (what promtool checks).
func TestServerMetrics(t *testing.T) {
	metricsPort, err := reservePort()
	if err != nil {
		t.Fatal(err)
	}
	s, cli := serveOne(t, func(c *Config) {
		c.ListenMetricsURLs = []string{"http://" + metricsPort}
		c.Metrics = metrics.LevelExtensive
	})
	ctx := ctxT(t)
	if _, err := cli.Put(ctx, "a", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "b", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Txn(ctx).Then(clientv3.OpPut("c", "3"), clientv3.OpGet("a")).Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Node.CommitBackend(); err != nil {
		t.Fatal(err)
	}
	if len(s.MetricsAddrs) != 1 {
		t.Fatalf("metrics addresses: %v", s.MetricsAddrs)
	}
	for _, url := range []string{"http://" + s.ClientAddrs[0] + "/metrics", "http://" + s.MetricsAddrs[0] + "/metrics"} {
		fams := scrape(t, url)
		for name, typ := range etcdMetrics {
			f := fams[name]
			if f == nil {
				t.Errorf("%s: %s absent", url, name)
				continue
			}
			if f.GetType() != typ {
				t.Errorf("%s: %s is a %v, etcd's is a %v", url, name, f.GetType(), typ)
			}
		}
		for name, want := range etcdBuckets {
			f := fams[name]
			if f == nil {
				continue // reported above
			}
			if len(f.GetMetric()) == 0 {
				t.Errorf("%s: no series", name)
				continue
			}
			if got := bounds(f.GetMetric()[0]); !reflect.DeepEqual(got, want) {
				t.Errorf("%s buckets %v, etcd's %v", name, got, want)
			}
		}
		if f := fams["grpc_server_handling_seconds"]; f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("--metrics extensive: no grpc_server_handling_seconds histogram")
		}
		for name, atLeast := range map[string]float64{
			"etcd_mvcc_put_total":                       3, // a, b, and c in the txn
			"etcd_mvcc_delete_total":                    1,
			"etcd_mvcc_range_total":                     2, // the get and the txn's
			"etcd_mvcc_txn_total":                       1,
			"etcd_disk_wal_fsync_duration_seconds":      1,
			"etcd_disk_backend_commit_duration_seconds": 1,
			"etcd_server_has_leader":                    1,
			"etcd_server_is_leader":                     1,
			"etcd_server_leader_changes_seen_total":     1,
			"etcd_server_proposals_committed_total":     5,
			"etcd_server_proposals_applied_total":       5,
			"etcd_mvcc_db_total_size_in_bytes":          1,
			"etcd_debugging_mvcc_keys_total":            2,
			"etcd_server_quota_backend_bytes":           cluster.DefaultQuotaBytes,
			"etcdlab_engine_commits_total":              1,
		} {
			if v := value(t, fams, name); v < atLeast {
				t.Errorf("%s = %v, want at least %v", name, v, atLeast)
			}
		}
		if f := fams["etcdlab_engine_bbolt_free_pages"]; f == nil || f.GetMetric()[0].GetLabel()[0].GetValue() != "bbolt" {
			t.Errorf("engine figures: no etcdlab_engine_bbolt_free_pages{engine=\"bbolt\"}")
		}
	}
	code, body := get(t, "http://"+s.ClientAddrs[0]+"/health")
	var h struct{ Health, Reason string }
	if err := json.Unmarshal([]byte(body), &h); code != http.StatusOK || err != nil || h.Health != "true" {
		t.Errorf("/health: %d %q", code, body)
	}
	if code, _ := get(t, "http://"+s.ClientAddrs[0]+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without --enable-pprof: %d", code)
	}
	if code, _ := get(t, "http://"+s.MetricsAddrs[0]+"/health"); code != http.StatusOK {
		t.Errorf("/health on the metrics URL: %d", code)
	}
}

// TestServerHealthAlarmAndPprof: /health reports a raised alarm as etcd
// does (503, ALARM NOSPACE) unless excluded, and --enable-pprof serves the
// profiles on the client URL.
func TestServerHealthAlarmAndPprof(t *testing.T) {
	s, _ := serveOne(t, func(c *Config) { c.EnablePprof = true })
	if code, body := get(t, "http://"+s.ClientAddrs[0]+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ with --enable-pprof: %d", code)
	}
	if code, _ := get(t, "http://"+s.ClientAddrs[0]+"/debug/pprof/cmdline"); code != http.StatusOK {
		t.Errorf("/debug/pprof/cmdline: %d", code)
	}
	// What the node does when its quota is exceeded (raiseNoSpaceAsync).
	if _, err := s.Node.Alarm(ctxT(t), &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: s.Node.ID(), Alarm: pb.AlarmType_NOSPACE}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the NOSPACE alarm", 10*time.Second, func() bool { return len(s.Node.AlarmList()) > 0 })
	code, body := get(t, "http://"+s.ClientAddrs[0]+"/health")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"reason":"ALARM NOSPACE"`) {
		t.Errorf("/health with NOSPACE: %d %q", code, body)
	}
	if code, body := get(t, "http://"+s.ClientAddrs[0]+"/health?exclude=NOSPACE"); code != http.StatusOK {
		t.Errorf("/health?exclude=NOSPACE: %d %q", code, body)
	}
	resp, err := http.Post("http://"+s.ClientAddrs[0]+"/health", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /health: %d", resp.StatusCode)
	}
	fams := scrape(t, "http://"+s.ClientAddrs[0]+"/metrics")
	if value(t, fams, "etcd_server_health_failures") < 1 || value(t, fams, "etcd_server_health_success") < 1 {
		t.Errorf("health counters did not move")
	}
}
