package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"etcdlab/internal/event"
	"etcdlab/workloads"
)

// Endpoint target timing: how long opening waits for each endpoint to
// answer, and how often (and how long) the size figures are refreshed.
const (
	endpointDialTimeout   = 5 * time.Second
	endpointStatsInterval = time.Second
	endpointStatsTimeout  = time.Second
)

// ErrEndpoint reports an endpoint that cannot be used.
var ErrEndpoint = errors.New("bench: endpoint")

// endpointsTarget drives any etcd v3 endpoints (an etcdlab cluster started
// with `etcdlab node`, or a real etcd) through etcd's own client: requests
// are DoKV's, sent with clientv3's retrying KV client (RetryKVClient), so
// the client's balancing and retry rules are etcd's. Sizes come from the
// Maintenance Status of each endpoint, refreshed once a second in the
// background so that sampling never waits on the network. Disk-write and
// fsync counters are not visible through the API: they come from the
// servers' Prometheus metrics, scraped at the metrics URLs at the start and
// end of the measured phase and once a second in the background.
type endpointsTarget struct {
	cli *clientv3.Client
	kv  endpointKV
	// rec, when set, records ops for the linearizability check around kv.
	rec KV

	metricsURLs     []string
	http            *http.Client
	scrapes, errors atomic.Int64

	mu    sync.Mutex
	stats Stats
	// prom is the latest complete scrape of every metrics URL.
	prom promSample

	stopc chan struct{}
	done  chan struct{}
}

var (
	_ Target              = (*endpointsTarget)(nil)
	_ StatsSource         = (*endpointsTarget)(nil)
	_ serverMetricsSource = (*endpointsTarget)(nil)
	_ KV                  = endpointKV{}
)

// openEndpointsTarget connects to cfg.Endpoints ("host:port" or
// "http://host:port"; TLS is not supported) and checks that each answers
// Status before the run starts, so a wrong address fails at once with its
// name rather than as a run of failed ops.
func openEndpointsTarget(ctx context.Context, cfg Config, env LayerEnv) (Target, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("%w: no endpoints given", ErrEndpoint)
	}
	var errs []error
	for _, ep := range cfg.Endpoints {
		switch {
		case ep == "":
			errs = append(errs, fmt.Errorf("%w: empty endpoint", ErrEndpoint))
		case strings.HasPrefix(ep, "https://"), strings.HasPrefix(ep, "unixs://"):
			errs = append(errs, fmt.Errorf("%w: %s: TLS endpoints are not supported; use host:port or http://host:port", ErrEndpoint, ep))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	murls, err := metricsURLs(cfg)
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: endpointDialTimeout,
		Logger:      zap.NewNop(),
		Context:     context.WithoutCancel(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to %s: %w", ErrEndpoint, strings.Join(cfg.Endpoints, ","), err)
	}
	for _, ep := range cfg.Endpoints {
		sctx, cancel := context.WithTimeout(ctx, endpointDialTimeout)
		st, err := cli.Status(sctx, ep)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s does not answer Status: %w", ErrEndpoint, ep, err))
			continue
		}
		env.Emit(Event{At: cfg.Clock.Now(), Kind: event.Endpoint, Detail: fmt.Sprintf("%s member=%x leader=%x version=%s db=%d", ep, st.Header.MemberId, st.Leader, st.Version, st.DbSize)})
	}
	if len(errs) > 0 {
		_ = cli.Close()
		return nil, errors.Join(errs...)
	}
	kv := endpointKV{kv: clientv3.RetryKVClient(cli)}
	if err := waitEndpointLeader(ctx, cfg, kv); err != nil {
		_ = cli.Close()
		return nil, err
	}
	t := &endpointsTarget{
		cli:         cli,
		kv:          kv,
		metricsURLs: murls,
		http:        &http.Client{Timeout: metricsScrapeTimeout},
		stopc:       make(chan struct{}),
		done:        make(chan struct{}),
	}
	// A metrics URL that does not answer fails the run before it starts,
	// named, rather than leaving the result without the servers' figures.
	if _, err := t.serverMetrics(ctx, true); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("%w (give --metrics-endpoints if the servers serve /metrics elsewhere)", err)
	}
	t.refresh(ctx, cfg.Endpoints)
	go t.statsLoop(cfg)
	return t, nil
}

// waitEndpointLeader waits, up to leaderWait, until a linearizable read
// succeeds: a cluster started just before the run may not have elected a
// leader yet, and every op would then fail with "no leader".
func waitEndpointLeader(ctx context.Context, cfg Config, kv endpointKV) error {
	deadline := cfg.Clock.Now().Add(leaderWait)
	var last error
	for {
		rctx, cancel := context.WithTimeout(ctx, endpointDialTimeout)
		_, err := kv.Range(rctx, &pb.RangeRequest{Key: []byte("etcdlab-health")})
		cancel()
		if err == nil {
			return nil
		}
		last = err
		if ctx.Err() != nil || cfg.Clock.Now().After(deadline) {
			return fmt.Errorf("%w: no leader serving linearizable reads within %v: %w", ErrEndpoint, leaderWait, last)
		}
		t := cfg.Clock.NewTimer(100 * time.Millisecond)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
		}
	}
}

func (t *endpointsTarget) Do(ctx context.Context, op *workloads.Op) error {
	if t.rec != nil {
		return DoKV(ctx, t.rec, op)
	}
	return DoKV(ctx, t.kv, op)
}

func (t *endpointsTarget) loadBatch(ctx context.Context, kvs []loadKV) error {
	if t.rec != nil {
		return loadTxn(ctx, t.rec, kvs)
	}
	return loadTxn(ctx, t.kv, kvs)
}

func (t *endpointsTarget) wrapKV(w func(KV) KV) { t.rec = w(t.kv) }

// Stats returns the last refreshed figures: DBSize and DBSizeInUse are the
// largest over the endpoints, as the in-process cluster reports them.
func (t *endpointsTarget) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.stats
	st.Extra = make(map[string]float64, len(t.stats.Extra))
	for k, v := range t.stats.Extra {
		st.Extra[k] = v
	}
	return st
}

func (t *endpointsTarget) statsLoop(cfg Config) {
	defer close(t.done)
	tk := cfg.Clock.NewTicker(endpointStatsInterval)
	defer tk.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-t.stopc
		cancel()
	}()
	for {
		select {
		case <-t.stopc:
			return
		case <-tk.C():
			t.refresh(ctx, cfg.Endpoints)
			_, _ = t.serverMetrics(ctx, true)
		}
	}
}

// refresh asks every endpoint for its Status; an endpoint that does not
// answer (a killed node) is left out of this sample and counted.
func (t *endpointsTarget) refresh(ctx context.Context, eps []string) {
	st := Stats{Extra: map[string]float64{}}
	var down, raftIndex float64
	for _, ep := range eps {
		sctx, cancel := context.WithTimeout(ctx, endpointStatsTimeout)
		r, err := t.cli.Status(sctx, ep)
		cancel()
		if err != nil {
			down++
			continue
		}
		// Status carries etcd's backend size (the quota's figure) and the
		// part in use; the servers' files are not visible from here.
		st.DBQuotaSize = max(st.DBQuotaSize, r.DbSize)
		st.DBSizeInUse = max(st.DBSizeInUse, r.DbSizeInUse)
		raftIndex = max(raftIndex, float64(r.RaftIndex))
	}
	st.Extra["endpoints.unanswered"] = down
	st.Extra["raft.index"] = raftIndex
	t.mu.Lock()
	t.stats = st
	t.mu.Unlock()
}

// metricsURLs returns the URLs to scrape: cfg.MetricsEndpoints, or each
// endpoint's /metrics (etcd and etcdlab serve it on their client URLs).
func metricsURLs(cfg Config) ([]string, error) {
	given := cfg.MetricsEndpoints
	if len(given) == 0 {
		given = cfg.Endpoints
	}
	var out []string
	var errs []error
	for _, s := range given {
		u, err := metricsURL(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, u)
	}
	return out, errors.Join(errs...)
}

// serverMetrics scrapes every metrics URL when fresh (the start and end of
// the measured phase, and the background loop) and returns the merged
// sample; otherwise it returns the latest complete one. A round with any
// URL failing is an error and leaves the latest sample as it was, so that
// counters summed over members never drop by a member's share.
func (t *endpointsTarget) serverMetrics(ctx context.Context, fresh bool) (promSample, error) {
	if !fresh {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.prom.members == 0 {
			return t.prom, fmt.Errorf("%w: no complete scrape yet", ErrMetrics)
		}
		return t.prom, nil
	}
	s := newPromSample()
	var errs []error
	for _, u := range t.metricsURLs {
		t.scrapes.Add(1)
		fams, err := scrapeMetrics(ctx, t.http, u)
		if err != nil {
			t.errors.Add(1)
			errs = append(errs, err)
			continue
		}
		s.add(fams)
	}
	if len(errs) > 0 {
		return s, errors.Join(errs...)
	}
	t.mu.Lock()
	t.prom = s
	t.mu.Unlock()
	return s, nil
}

func (t *endpointsTarget) metricsInfo() metricsInfo {
	return metricsInfo{Source: MetricsSourceScrape, URLs: t.metricsURLs, Scrapes: t.scrapes.Load(), Errors: t.errors.Load()}
}

func (t *endpointsTarget) Close() error {
	close(t.stopc)
	<-t.done
	return t.cli.Close()
}

// endpointKV presents clientv3's KV client as a KV.
type endpointKV struct {
	kv pb.KVClient
}

func (k endpointKV) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	return k.kv.Put(ctx, r)
}

func (k endpointKV) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	return k.kv.Range(ctx, r)
}

func (k endpointKV) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	return k.kv.DeleteRange(ctx, r)
}

func (k endpointKV) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	return k.kv.Txn(ctx, r)
}
