package bench

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"etcdlab/cluster"
	"etcdlab/cluster/server"
	"etcdlab/engines/backend"
	"etcdlab/internal/clock"
	"etcdlab/workloads"
)

// serveEtcdlab runs a one-member etcdlab cluster serving etcd's v3 API on
// 127.0.0.1 and returns its client address.
func serveEtcdlab(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peer := l.Addr().String()
	_ = l.Close()
	cfg := server.Config{
		Name:             "bench",
		DataDir:          t.TempDir(),
		ListenClientURLs: []string{"http://127.0.0.1:0"},
		ListenPeerURLs:   []string{"http://" + peer},
		Node:             cluster.NodeOptions{TickInterval: 10 * time.Millisecond, Backend: backend.Config{BatchInterval: 10 * time.Millisecond}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	readyc := make(chan *server.Server, 1)
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, cfg, func(s *server.Server) { readyc <- s }) }()
	var s *server.Server
	select {
	case s = <-readyc:
	case err := <-done:
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !s.Node.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no leader within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s.ClientAddrs[0]
}

// TestEndpointsTarget drives an etcdlab node's gRPC server through the
// endpoints target and reads the effects back with a separate etcd client.
func TestEndpointsTarget(t *testing.T) {
	addr := serveEtcdlab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var events []Event
	cfg := Config{Layer: LayerCluster, Endpoints: []string{addr}, Clock: clock.Real()}
	tg, err := openEndpointsTarget(ctx, cfg, LayerEnv{Emit: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || !strings.Contains(events[0].Detail, addr) {
		t.Fatalf("open events: %v", events)
	}
	ops := []workloads.Op{
		{Kind: workloads.OpInsert, Key: []byte("k1"), Value: []byte("v1")},
		{Kind: workloads.OpPut, Key: []byte("k2"), Value: []byte("v2")},
		{Kind: workloads.OpGet, Key: []byte("k1")},
		{Kind: workloads.OpGet, Key: []byte("k1"), Serializable: true},
		{Kind: workloads.OpRange, Key: []byte("k"), End: []byte("l"), Limit: 10},
		{Kind: workloads.OpTxnCAS, Key: []byte("k1"), Value: []byte("cas")},
		{Kind: workloads.OpRMW, Key: []byte("k2"), Value: []byte("rmw")},
		{Kind: workloads.OpDelete, Key: []byte("k2")},
	}
	for i := range ops {
		if err := tg.Do(ctx, &ops[i]); err != nil {
			t.Fatalf("op %d (%v): %v", i, ops[i].Kind, err)
		}
	}
	// A request the server rejects comes back as the op's error.
	if err := tg.Do(ctx, &workloads.Op{Kind: workloads.OpPut, Key: nil, Value: []byte("x")}); err == nil {
		t.Fatal("a put of an empty key succeeded")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	g, err := cli.Get(ctx, "k", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if g.Count != 1 || string(g.Kvs[0].Key) != "k1" || string(g.Kvs[0].Value) != "cas" || g.Kvs[0].Version != 2 {
		t.Fatalf("after the ops: %v", g.Kvs)
	}
	if st := tg.(StatsSource).Stats(); st.DBQuotaSize <= 0 || st.DBSizeInUse <= 0 || st.Extra["endpoints.unanswered"] != 0 || st.Extra["raft.index"] < 1 {
		t.Fatalf("stats: %+v", st)
	}
	// The server's own figures, scraped from its client URL's /metrics.
	ms := tg.(serverMetricsSource)
	ps, err := ms.serverMetrics(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	for name, atLeast := range map[string]float64{mPuts: 4, mWALFsync + "_count": 1, mDBSize: 1, "etcd_server_has_leader": 1, mEngineFsyncs: 1} {
		if v, ok := ps.value(name); !ok || v < atLeast {
			t.Errorf("scraped %s = %v (present %v), want at least %v", name, v, ok, atLeast)
		}
	}
	if info := ms.metricsInfo(); info.Source != MetricsSourceScrape || len(info.URLs) != 1 || info.URLs[0] != "http://"+addr+"/metrics" || info.Scrapes < 2 {
		t.Errorf("metrics info: %+v", info)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestEndpointsTargetRejects: unusable endpoints fail at open, named.
func TestEndpointsTargetRejects(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	_ = l.Close()
	for _, tc := range []struct {
		eps  []string
		want string
	}{
		{nil, "no endpoints"},
		{[]string{"https://127.0.0.1:1"}, "TLS"},
		{[]string{""}, "empty endpoint"},
		{[]string{dead}, dead},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := openEndpointsTarget(ctx, Config{Layer: LayerCluster, Endpoints: tc.eps, Clock: clock.Real()}, LayerEnv{Emit: func(Event) {}})
		cancel()
		if !errors.Is(err, ErrEndpoint) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want ErrEndpoint mentioning %q", tc.eps, err, tc.want)
		}
	}
}

// TestEndpointsTargetMetricsUnreachable: a metrics endpoint that does not
// answer fails the open, named, before the run starts.
func TestEndpointsTargetMetricsUnreachable(t *testing.T) {
	addr := serveEtcdlab(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	_ = l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{Layer: LayerCluster, Endpoints: []string{addr}, MetricsEndpoints: []string{dead}, Clock: clock.Real()}
	_, err = openEndpointsTarget(ctx, cfg, LayerEnv{Emit: func(Event) {}})
	if !errors.Is(err, ErrMetrics) || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("got %v, want ErrMetrics naming %s as unreachable", err, dead)
	}
}
