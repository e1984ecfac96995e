package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"

	"etcdlab/cluster"
	"etcdlab/cluster/metrics"
	"etcdlab/cluster/transport"
	"etcdlab/cluster/v3rpc"
	"etcdlab/cluster/wal"
	"etcdlab/internal/clock"
)

// Cluster-state values of Config.InitialClusterState (etcd's
// --initial-cluster-state).
const (
	ClusterStateNew      = "new"
	ClusterStateExisting = "existing"
)

// etcd's defaults for the server flags.
const (
	DefaultName                = "default"
	DefaultClientURL           = "http://localhost:2379"
	DefaultPeerURL             = "http://localhost:2380"
	DefaultInitialClusterToken = "etcd-cluster"
)

// Config is one etcdlab member as etcd configures one: its name, data
// directory, URLs and initial cluster, plus the node's options. The URL
// fields take etcd's URLs; only http://host:port is accepted (see PeerAddr).
type Config struct {
	// Name is the member's name (--name). Default "default".
	Name string
	// DataDir holds member/{wal,snap,engine} (--data-dir). Default
	// "<name>.etcd", etcd's.
	DataDir string
	// ListenClientURLs are bound for the gRPC v3 API (--listen-client-urls).
	// Default http://localhost:2379.
	ListenClientURLs []string
	// AdvertiseClientURLs are reported in MemberList (--advertise-client-urls).
	// Default ListenClientURLs.
	AdvertiseClientURLs []string
	// ListenPeerURLs is the raft transport's address (--listen-peer-urls);
	// etcdlab's transport binds one. Default http://localhost:2380.
	ListenPeerURLs []string
	// InitialAdvertisePeerURLs are this member's peer URLs as the others dial
	// them (--initial-advertise-peer-urls); they must be this member's entry
	// in InitialCluster. Default ListenPeerURLs.
	InitialAdvertisePeerURLs []string
	// InitialCluster is "name=url,name=url,..." (--initial-cluster). Default
	// "<name>=<initial advertise peer URLs>", etcd's.
	InitialCluster string
	// InitialClusterState is "new" (bootstrap) or "existing" (join a cluster
	// that already added this member). Default "new".
	InitialClusterState string
	// InitialClusterToken seeds member and cluster IDs. Default
	// "etcd-cluster".
	InitialClusterToken string
	// Node are the node's options; ID, Dir, Peers and Join are set from the
	// fields above and must be left zero.
	Node cluster.NodeOptions
	// API configures the v3 API. MaxRequestBytes defaults to the node's.
	API v3rpc.Options
	// StopTimeout bounds the graceful stop of the gRPC server. Default 5s.
	StopTimeout time.Duration
	// ListenMetricsURLs are extra http://host:port URLs serving /metrics and
	// /health only (--listen-metrics-urls). Default none: the client URLs
	// serve both anyway, as etcd's do.
	ListenMetricsURLs []string
	// Metrics is etcd's --metrics: "basic" (default) or "extensive" (adds
	// the gRPC handling-time histogram).
	Metrics string
	// EnablePprof serves Go's profiles at /debug/pprof/ on the client URLs
	// (--enable-pprof). Default off, as etcd.
	EnablePprof bool
}

// EnsureDefaults fills unset fields with etcd's defaults.
func (c *Config) EnsureDefaults() {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.DataDir == "" {
		c.DataDir = c.Name + ".etcd"
	}
	if len(c.ListenClientURLs) == 0 {
		c.ListenClientURLs = []string{DefaultClientURL}
	}
	if len(c.AdvertiseClientURLs) == 0 {
		c.AdvertiseClientURLs = c.ListenClientURLs
	}
	if len(c.ListenPeerURLs) == 0 {
		c.ListenPeerURLs = []string{DefaultPeerURL}
	}
	if len(c.InitialAdvertisePeerURLs) == 0 {
		c.InitialAdvertisePeerURLs = c.ListenPeerURLs
	}
	if c.InitialCluster == "" {
		parts := make([]string, len(c.InitialAdvertisePeerURLs))
		for i, u := range c.InitialAdvertisePeerURLs {
			parts[i] = c.Name + "=" + u
		}
		c.InitialCluster = strings.Join(parts, ",")
	}
	if c.InitialClusterState == "" {
		c.InitialClusterState = ClusterStateNew
	}
	if c.InitialClusterToken == "" {
		c.InitialClusterToken = DefaultInitialClusterToken
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 5 * time.Second
	}
	if c.Metrics == "" {
		c.Metrics = metrics.LevelBasic
	}
	c.Node.EnsureDefaults()
	if c.API.MaxRequestBytes == 0 {
		c.API.MaxRequestBytes = c.Node.MaxRequestBytes
	}
	c.API.EnsureDefaults()
}

// InitialMember is one entry of --initial-cluster.
type InitialMember struct {
	Name     string
	PeerURLs []string
	ID       uint64
}

// ParseInitialCluster parses "name=url,name=url,..." (a name may repeat to
// give several URLs, as etcd allows) and derives each member's ID from its
// URLs and token (MemberIDFromURLs). Members are in first-seen order.
func ParseInitialCluster(s, token string) ([]InitialMember, error) {
	var out []InitialMember
	idx := make(map[string]int)
	var errs []error
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, u, ok := strings.Cut(part, "=")
		if !ok || name == "" || u == "" {
			errs = append(errs, fmt.Errorf("initial cluster entry %q: want name=http://host:port", part))
			continue
		}
		if _, err := PeerAddr(u); err != nil {
			errs = append(errs, fmt.Errorf("initial cluster member %q: %w", name, err))
			continue
		}
		i, seen := idx[name]
		if !seen {
			i = len(out)
			idx[name] = i
			out = append(out, InitialMember{Name: name})
		}
		out[i].PeerURLs = append(out[i].PeerURLs, u)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	ids := make(map[uint64]string)
	for i := range out {
		out[i].ID = MemberIDFromURLs(out[i].PeerURLs, token)
		if other, dup := ids[out[i].ID]; dup {
			errs = append(errs, fmt.Errorf("initial cluster members %q and %q have the same peer URLs", other, out[i].Name))
		}
		ids[out[i].ID] = out[i].Name
	}
	return out, errors.Join(errs...)
}

// Validate reports every problem at once; it expects EnsureDefaults first.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{cluster.ErrBadOption}, a...)...))
	}
	for _, group := range []struct {
		flag string
		urls []string
	}{
		{"listen-client-urls", c.ListenClientURLs},
		{"advertise-client-urls", c.AdvertiseClientURLs},
		{"listen-peer-urls", c.ListenPeerURLs},
		{"initial-advertise-peer-urls", c.InitialAdvertisePeerURLs},
		{"listen-metrics-urls", c.ListenMetricsURLs},
	} {
		for _, u := range group.urls {
			if _, err := PeerAddr(u); err != nil {
				bad("--%s: %v", group.flag, err)
			}
		}
	}
	if len(c.ListenPeerURLs) > 1 {
		bad("--listen-peer-urls: etcdlab's peer transport binds one URL, got %d", len(c.ListenPeerURLs))
	}
	if len(c.InitialAdvertisePeerURLs) > 1 {
		bad("--initial-advertise-peer-urls: etcdlab's peer transport dials one URL per member, got %d", len(c.InitialAdvertisePeerURLs))
	}
	switch c.InitialClusterState {
	case ClusterStateNew, ClusterStateExisting:
	default:
		bad("--initial-cluster-state %q: accepted: new, existing", c.InitialClusterState)
	}
	ms, err := ParseInitialCluster(c.InitialCluster, c.InitialClusterToken)
	if err != nil {
		bad("--initial-cluster: %v", err)
	} else {
		found := false
		for _, m := range ms {
			if len(m.PeerURLs) > 1 {
				bad("--initial-cluster: member %q has %d peer URLs; etcdlab takes one", m.Name, len(m.PeerURLs))
			}
			if m.Name == c.Name {
				found = true
				if strings.Join(m.PeerURLs, ",") != strings.Join(c.InitialAdvertisePeerURLs, ",") {
					bad("--initial-cluster has %s=%s but --initial-advertise-peer-urls is %s", m.Name, strings.Join(m.PeerURLs, ","), strings.Join(c.InitialAdvertisePeerURLs, ","))
				}
			}
		}
		if !found {
			bad("--initial-cluster %q has no member named %q (--name)", c.InitialCluster, c.Name)
		}
	}
	if c.Node.ID != 0 || c.Node.Dir != "" || len(c.Node.Peers) > 0 || c.Node.Join {
		bad("Node.ID, Dir, Peers and Join are derived from the server fields; leave them zero")
	}
	if c.StopTimeout < 0 {
		bad("StopTimeout %v is negative", c.StopTimeout)
	}
	if err := (metrics.Options{Level: c.Metrics}).Validate(); err != nil {
		bad("%v", err)
	}
	if c.Node.Metrics != nil {
		bad("Node.Metrics is made from --metrics; leave it nil")
	}
	// The node's own checks, with the derived fields filled in.
	n := c.Node
	n.ID, n.Dir = 1, "x"
	if err := n.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.API.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Server is a running member: its node, its v3 backend and the addresses
// its gRPC listeners bound (resolved when a URL asked for port 0).
type Server struct {
	Node        *cluster.Node
	Backend     *V3Backend
	ClientAddrs []string
	// MetricsAddrs are the addresses the metrics listeners bound.
	MetricsAddrs []string
	// Members are the initial members, as parsed from InitialCluster.
	Members []InitialMember
}

// ErrNoPeerReachable: a member joining an existing cluster (--initial-cluster-
// state existing, empty data dir) reached none of the other members. etcd
// exits with "cannot fetch cluster info from peer urls" then.
var ErrNoPeerReachable = errors.New("cannot fetch cluster info from peer urls")

// probePeers returns nil as soon as one of peers accepts a TCP connection,
// trying each every 200 ms for up to budget; otherwise ErrNoPeerReachable
// naming them. A joining member learns the cluster from its peers, so with
// none reachable it would wait for a leader forever.
func probePeers(ctx context.Context, clk clock.Clock, name string, peers map[uint64]string, budget time.Duration) error {
	if len(peers) == 0 {
		return fmt.Errorf("%w: --initial-cluster names no member but %s itself", ErrNoPeerReachable, name)
	}
	addrs := make([]string, 0, len(peers))
	for _, a := range peers {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	start := clk.Now()
	var d net.Dialer
	for {
		for _, a := range addrs {
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			c, err := d.DialContext(dctx, "tcp", a)
			cancel()
			if err == nil {
				_ = c.Close()
				return nil
			}
		}
		if clk.Since(start) >= budget || ctx.Err() != nil {
			return fmt.Errorf("%w: none of %s answered within %v (start the cluster's running members first, add this one with `member add`, or bootstrap with --initial-cluster-state new)",
				ErrNoPeerReachable, strings.Join(addrs, ", "), budget)
		}
		t := clk.NewTimer(200 * time.Millisecond)
		select {
		case <-t.C():
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// Serve runs one member as etcd does: the raft node over TCP on
// ListenPeerURLs and etcd's v3 gRPC API on every ListenClientURLs. It calls
// ready (if set) once both run and serves until ctx is done or the node
// stops (for instance after its removal); then it stops the gRPC server
// (gracefully, within StopTimeout) and the node cleanly.
func Serve(ctx context.Context, cfg Config, ready func(*Server)) (err error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	ms, _ := ParseInitialCluster(cfg.InitialCluster, cfg.InitialClusterToken)
	listenPeer, _ := PeerAddr(cfg.ListenPeerURLs[0])
	opts := cfg.Node
	opts.Dir = cfg.DataDir
	opts.Join = cfg.InitialClusterState == ClusterStateExisting
	names := make(map[uint64]string)
	peers := make(map[uint64]string)
	for _, m := range ms {
		addr, _ := PeerAddr(m.PeerURLs[0])
		opts.Peers = append(opts.Peers, cluster.Peer{ID: m.ID, Addr: addr})
		names[m.ID] = m.Name
		if m.Name == cfg.Name {
			opts.ID = m.ID
		} else {
			peers[m.ID] = addr
		}
	}
	if opts.Join && !wal.Exist(opts.FS, filepath.Join(opts.Dir, "member", "wal")) {
		if err := probePeers(ctx, opts.Clock, cfg.Name, peers, 2*time.Duration(opts.ElectionTicks)*opts.TickInterval); err != nil {
			return fmt.Errorf("cluster: --initial-cluster-state existing on an empty data dir %s: %w", filepath.Clean(cfg.DataDir), err)
		}
	}
	// Bind the client listeners first: a port in use fails before the node
	// touches its data directory.
	var lis []net.Listener
	defer func() {
		if err != nil {
			for _, l := range lis {
				_ = l.Close()
			}
		}
	}()
	// listen binds every URL of one flag, adding the listeners to lis (closed
	// on failure by the deferred cleanup above).
	listen := func(flag string, urls []string) ([]string, error) {
		var bound []string
		for _, u := range urls {
			addr, _ := PeerAddr(u)
			l, lerr := net.Listen("tcp", addr)
			if lerr != nil {
				return nil, fmt.Errorf("cluster: %s %s: %w", flag, u, lerr)
			}
			lis = append(lis, l)
			bound = append(bound, l.Addr().String())
		}
		return bound, nil
	}
	bound, err := listen("--listen-client-urls", cfg.ListenClientURLs)
	if err != nil {
		return err
	}
	nClient := len(lis)
	metricsBound, err := listen("--listen-metrics-urls", cfg.ListenMetricsURLs)
	if err != nil {
		return err
	}
	m, err := metrics.New(metrics.Options{Level: cfg.Metrics})
	if err != nil {
		return err
	}
	opts.Metrics = m
	n, err := cluster.StartNode(opts, func(h transport.Handler) (transport.Transport, error) {
		return transport.NewTCP(transport.TCPOptions{ID: opts.ID, ListenAddr: listenPeer, Handler: h, Peers: peers, Clock: opts.Clock})
	})
	if err != nil {
		return fmt.Errorf("cluster: starting member %q in %s: %w", cfg.Name, filepath.Clean(cfg.DataDir), err)
	}
	be := NewV3Backend(n, V3BackendConfig{
		ClusterID:  ClusterIDFromToken(cfg.InitialClusterToken),
		Token:      cfg.InitialClusterToken,
		Names:      names,
		ClientURLs: cfg.AdvertiseClientURLs,
	})
	api := cfg.API
	api.Errors = append(append([]v3rpc.ErrorMapping(nil), api.Errors...), V3ErrorMappings()...)
	srv, err := v3rpc.NewServer(be, api,
		grpc.ChainUnaryInterceptor(m.GRPC.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(m.GRPC.StreamServerInterceptor()))
	if err != nil {
		return errors.Join(err, n.Stop())
	}
	// Zero series for every method, as etcd (so rates exist before the
	// first call).
	m.GRPC.InitializeMetrics(srv.GRPC())
	// Each client port serves gRPC and, over HTTP/1, /metrics, /health
	// (and pprof); each metrics port serves /metrics and /health.
	serveErr := make(chan error, 2*len(lis))
	var httpSrvs []*http.Server
	serveHTTP := func(l net.Listener, mux *http.ServeMux) {
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		httpSrvs = append(httpSrvs, hs)
		go func() {
			if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				serveErr <- fmt.Errorf("cluster: serving HTTP on %s: %w", l.Addr(), err)
			}
		}()
	}
	clientMux := httpMux(n, m, cfg.EnablePprof)
	for _, l := range lis[:nClient] {
		sl := newSplitListener(l, opts.Clock)
		go func() { serveErr <- srv.Serve(sl.grpc) }()
		serveHTTP(sl.http, clientMux)
	}
	if len(lis) > nClient {
		metricsMux := httpMux(n, m, false)
		for _, l := range lis[nClient:] {
			serveHTTP(l, metricsMux)
		}
	}
	lis = nil // owned by the servers now
	defer func() {
		for _, hs := range httpSrvs {
			_ = hs.Close()
		}
	}()
	if ready != nil {
		ready(&Server{Node: n, Backend: be, ClientAddrs: bound, MetricsAddrs: metricsBound, Members: ms})
	}
	var runErr error
	select {
	case <-ctx.Done():
	case <-n.Done():
	case runErr = <-serveErr:
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	t := opts.Clock.NewTimer(cfg.StopTimeout)
	select {
	case <-stopped:
	case <-t.C():
		srv.Stop()
		<-stopped
	}
	t.Stop()
	stopErr := n.Stop()
	return errors.Join(runErr, n.Err(), stopErr)
}
