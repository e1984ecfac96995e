package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"etcdlab/cluster"
	"etcdlab/cluster/server"
)

// nodeFlags holds the raw values of `etcdlab node`, named as etcd's flags
// where they mean the same.
type nodeFlags struct {
	name, dataDir                              string
	listenClient, advertiseClient              []string
	listenPeer, advertisePeer                  []string
	initialCluster, initialState, initialToken string
	node                                       cluster.NodeOptions // the knobs run and sweep share (RegisterFlags)
	heartbeatMs, electionMs                    uint
	maxRequestBytes                            int
	electionTickAdvance                        bool
	listenMetrics                              []string
	metrics                                    string
	enablePprof                                bool
}

// newNodeCmd is `etcdlab node`: one etcdlab member serving etcd's v3 gRPC
// API, configured with etcd's flags, until Ctrl-C or SIGTERM.
func newNodeCmd(stderr io.Writer) *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "node [flags]",
		Short: "Run one etcdlab member serving etcd's v3 API (etcd's flag names)",
		Long: `Run one etcdlab member: raft over TCP on --listen-peer-urls and etcd's v3 gRPC API
(KV, Maintenance, Cluster, Watch, Lease) on --listen-client-urls. URLs are http://host:port (no TLS).
The client URLs also answer HTTP/1 as etcd's do: /metrics (Prometheus, etcd's metric
names), /health, and /debug/pprof/ with --enable-pprof; --listen-metrics-urls adds
ports serving /metrics and /health only.
Member IDs are etcd's: SHA-1 of the member's peer URLs and --initial-cluster-token, so
every process derives the same IDs from --initial-cluster.`,
		Example: `  etcdlab node --name n1 --data-dir /tmp/n1 \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster n1=http://127.0.0.1:2380,n2=http://127.0.0.1:2381,n3=http://127.0.0.1:2382`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return usageError{err}
			}
			err = server.Serve(cmd.Context(), cfg, func(s *server.Server) {
				fmt.Fprintf(stderr, "etcdlab: member %s (ID %x) in %s: clients on %s, peers on %s, engine %s\n",
					cfg.Name, s.Node.ID(), cfg.DataDir, strings.Join(s.ClientAddrs, ","), strings.Join(cfg.ListenPeerURLs, ","), cfg.Node.Engine)
				if len(s.MetricsAddrs) > 0 {
					fmt.Fprintf(stderr, "etcdlab: member %s: metrics on %s\n", cfg.Name, strings.Join(s.MetricsAddrs, ","))
				}
			})
			if err != nil {
				if errors.Is(err, cluster.ErrBadOption) {
					return usageError{err}
				}
				return runtimeError{err}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// register defines the flags on fl, with etcd's names and defaults.
func (f *nodeFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.name, "name", server.DefaultName, "human-readable name for this member")
	fl.StringVar(&f.dataDir, "data-dir", "", "path to the data directory (default: <name>.etcd)")
	fl.StringSliceVar(&f.listenClient, "listen-client-urls", []string{server.DefaultClientURL}, "URLs to serve the v3 gRPC API on (http://host:port)")
	fl.StringSliceVar(&f.advertiseClient, "advertise-client-urls", nil, "this member's client URLs to advertise (default: --listen-client-urls)")
	fl.StringSliceVar(&f.listenPeer, "listen-peer-urls", []string{server.DefaultPeerURL}, "URL to listen on for peer (raft) traffic; one")
	fl.StringSliceVar(&f.advertisePeer, "initial-advertise-peer-urls", nil, "this member's peer URL to advertise (default: --listen-peer-urls)")
	fl.StringVar(&f.initialCluster, "initial-cluster", "", "initial cluster: name=http://host:port,... (default: <name>=<advertise peer URL>)")
	fl.StringVar(&f.initialState, "initial-cluster-state", server.ClusterStateNew, "new (bootstrap) or existing (join a cluster that already added this member)")
	fl.StringVar(&f.initialToken, "initial-cluster-token", server.DefaultInitialClusterToken, "initial cluster token; seeds member and cluster IDs")
	f.node.RegisterFlags(fl)
	fl.UintVar(&f.heartbeatMs, "heartbeat-interval", 100, "time (in milliseconds) of a heartbeat interval (one raft tick)")
	fl.UintVar(&f.electionMs, "election-timeout", 1000, "time (in milliseconds) for an election to timeout")
	fl.IntVar(&f.maxRequestBytes, "max-request-bytes", cluster.DefaultMaxRequestBytes, "maximum client request size in bytes")
	fl.StringSliceVar(&f.listenMetrics, "listen-metrics-urls", nil, "extra URLs (http://host:port) serving /metrics and /health; the client URLs serve them too")
	fl.StringVar(&f.metrics, "metrics", "basic", "level of detail of the exported metrics: basic, or extensive to add the gRPC server handling-time histograms")
	fl.BoolVar(&f.enablePprof, "enable-pprof", false, "serve Go's runtime profiles at the client URLs + /debug/pprof/")
	fl.BoolVar(&f.electionTickAdvance, "initial-election-tick-advance", true, "fast-forward the election ticks at start once the peers are connected, so that the first election comes sooner (a single-member cluster always does)")
}

// config turns the flags into a validated server.Config; every
// problem is reported at once.
func (f *nodeFlags) config() (server.Config, error) {
	var errs []error
	if f.heartbeatMs == 0 {
		errs = append(errs, errors.New("--heartbeat-interval must be at least 1 (milliseconds)"))
	}
	if f.electionMs < 5*f.heartbeatMs {
		errs = append(errs, fmt.Errorf("--election-timeout %dms must be at least 5 times --heartbeat-interval %dms (etcd's rule)", f.electionMs, f.heartbeatMs))
	}
	if err := f.node.CheckFlags(); err != nil {
		errs = append(errs, err)
	}
	if f.maxRequestBytes < 1 {
		errs = append(errs, errors.New("--max-request-bytes must be at least 1"))
	}
	cfg := server.Config{
		Name:                     f.name,
		DataDir:                  f.dataDir,
		ListenClientURLs:         f.listenClient,
		AdvertiseClientURLs:      f.advertiseClient,
		ListenPeerURLs:           f.listenPeer,
		InitialAdvertisePeerURLs: f.advertisePeer,
		InitialCluster:           f.initialCluster,
		InitialClusterState:      f.initialState,
		InitialClusterToken:      f.initialToken,
		ListenMetricsURLs:        f.listenMetrics,
		Metrics:                  f.metrics,
		EnablePprof:              f.enablePprof,
		Node:                     f.node,
	}
	cfg.Node.MaxRequestBytes = f.maxRequestBytes
	if f.heartbeatMs > 0 {
		cfg.Node.TickInterval = time.Duration(f.heartbeatMs) * time.Millisecond
		cfg.Node.HeartbeatTicks = 1
		cfg.Node.ElectionTicks = int(f.electionMs / f.heartbeatMs)
	}
	cfg.Node.NoInitialElectionTickAdvance = !f.electionTickAdvance
	if len(errs) > 0 {
		return cfg, errors.Join(errs...)
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}
