// Package metrics is one etcdlab member's Prometheus metrics under etcd 3.6's
// names, types, labels, help strings and histogram buckets, so that the
// dashboards and alerts written for etcd (etcd_disk_wal_fsync_duration_seconds,
// etcd_disk_backend_commit_duration_seconds, etcd_mvcc_db_total_size_in_bytes,
// ...) read an etcdlab node unchanged.
//
// Every Metrics has its own registry (prometheus.NewRegistry, never the
// global one): an in-process cluster runs several members in one process,
// and each must report its own figures.
//
// Two kinds of figures, kept apart so that the request path costs the same on
// every engine:
//
//   - Event figures (WAL fsync and backend commit durations, leader changes,
//     slow applies, proposals failed, op counts, ...) are prometheus
//     counters, gauges and histograms the node updates where the event
//     happens: an atomic add or a histogram observe, nothing else.
//   - State figures (leader, committed and applied index, db sizes, quota,
//     keys, and every engine-native figure under etcdlab_engine_*) are read
//     from the node at scrape time through a Source, so a request never
//     pays for them.
//
// The names and buckets come from etcd v3.6's source:
// server/storage/wal/metrics.go, server/storage/backend/metrics.go,
// server/storage/mvcc/metrics.go, server/storage/metrics.go,
// server/etcdserver/metrics.go, server/etcdserver/txn/metrics.go,
// server/etcdserver/api/rafthttp/metrics.go and
// server/etcdserver/api/etcdhttp/health.go. gRPC server metrics come from
// go-grpc-middleware's providers/prometheus, the middleware etcd 3.6 itself
// uses (server/etcdserver/api/v3rpc/grpc.go), with the handling-time
// histogram only at Level "extensive", as etcd's --metrics.
package metrics
