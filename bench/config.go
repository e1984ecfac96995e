package bench

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"etcdlab/bench/faults"
	"etcdlab/cluster"
	"etcdlab/internal/clock"
	"etcdlab/internal/memlimit"
	"etcdlab/workloads"
)

// Layer names.
const (
	LayerEngine  = "engine"
	LayerMVCC    = "mvcc"
	LayerCluster = "cluster"
)

// Defaults applied by EnsureDefaults.
const (
	DefaultLayer    = LayerMVCC
	DefaultEngine   = cluster.DefaultEngine
	DefaultWorkload = "ycsb-a"
	DefaultClients  = 8
	DefaultDuration = 10 * time.Second
	// QuotaDisabled as Config.Node.QuotaBytes switches the backend quota
	// off.
	QuotaDisabled = -1
	// DefaultCapacityProbe is Config.CapacityProbe's default: long enough
	// for a throughput over many backend commits and a few pebble flushes.
	DefaultCapacityProbe = 20 * time.Second
	DefaultFsyncProbe    = 200
	MaxNodes             = 7
	MaxClients           = 10_000
)

var (
	// ErrBadConfig marks a Config that fails validation.
	ErrBadConfig = errors.New("bench: bad config")
	// ErrUnknownLayer marks a layer name that does not exist.
	ErrUnknownLayer = errors.New("bench: unknown layer")
)

// Layers lists the layer names in the order they stack.
// EngineRemote is the engine recorded for runs against --endpoints.
const EngineRemote = "remote"

// Layers lists the layers a run can target.
func Layers() []string { return []string{LayerEngine, LayerMVCC, LayerCluster} }

// Config describes one run. The zero value plus a Workload spec and
// EnsureDefaults is a valid closed-loop run of DefaultDuration on the mvcc
// layer over bbolt.
type Config struct {
	// Layer is what ops run against: "engine" (the engine under the batching
	// layer), "mvcc" (the MVCC store, no raft) or "cluster" (the full
	// pipeline). Default "mvcc".
	Layer string
	// Nodes is the cluster size, 1..7. Default 1; must be 1 below the cluster
	// layer.
	Nodes int
	// Endpoints of separately started etcdlab nodes (cluster layer only);
	// empty means an in-process cluster of Nodes nodes.
	Endpoints []string
	// MetricsEndpoints are the servers' Prometheus endpoints, scraped
	// before, each second during and after a run against Endpoints, so
	// that the result holds the servers' own figures (WAL fsyncs, backend
	// commit latency, db size, leader changes, slow applies) under etcd's
	// names. A URL without a path gets /metrics. Default: each endpoint +
	// /metrics, which etcd and etcdlab both serve on their client URLs.
	// Only with Endpoints.
	MetricsEndpoints []string

	// Workload is the workload spec (a preset or a parsed file), with any
	// overrides applied. An empty Name with no ops means DefaultWorkload.
	Workload workloads.Spec
	// Seed is the master seed: the workload's streams derive from it.
	Seed int64

	// Clients is the number of concurrent clients. Default 8.
	Clients int
	// Rate, when > 0, makes the run open loop: ops are started at Rate per
	// second in total (spread evenly over the clients) whatever their
	// latency, and latency is measured from each op's intended start.
	// 0 is closed loop: each client starts its next op when the last ends.
	Rate float64
	// RateFraction, when > 0 (at most 1), makes the run open loop at a
	// fraction of a measured capacity: after the preload, a closed-loop
	// probe of CapacityProbe with the same clients and workload measures
	// the throughput C (Summary.CapacityOpsS; its writes,
	// CapacityWriteOpsS), and the rest of the run (warm-up and measured
	// phase) is open loop at Rate = RateFraction × C, latency measured from
	// each op's intended start. Exclusive with Rate.
	RateFraction float64
	// CapacityProbe is the length of the capacity probe. Default
	// DefaultCapacityProbe when RateFraction is set.
	CapacityProbe time.Duration
	// Duration of the measured phase. Default 10s unless Ops is set; giving
	// both is an error.
	Duration time.Duration
	// Ops is the number of measured ops (split evenly over the clients), as
	// an alternative to Duration.
	Ops int64
	// Warmup runs the workload unmeasured for this long after the preload.
	// Default 0 (none).
	Warmup time.Duration
	// Preload says how the workload's preload is written: loaders and the
	// batch bounds (PreloadOptions; defaults there).
	Preload PreloadOptions
	// Scale, when > 0, sizes the preload to about Scale logical bytes (key
	// + value): EnsureDefaults sets the preloaded object count to
	// Scale / Workload.MeanObjectBytes() and raises Workload.Keys.Count to
	// it (the preload is then every key unless the workload gives a
	// preload count). Validate refuses a key space too small for it and, on
	// the cluster layer, a Scale above the quota (etcd's 2 GiB default
	// would refuse the preload: raise Node.QuotaBytes or switch it off).
	Scale int64
	// MemoryLimit, when > 0, runs the layer with this process in a cgroup
	// of its own limited to MemoryLimit bytes (package internal/memlimit:
	// cgroup v2 memory.max, else v1 memory.limit_in_bytes), so the page
	// cache counts against it and a data set larger than memory can be
	// studied; the process leaves the cgroup and it is removed when the
	// run ends. Needs root and a writable cgroup file system. Run only:
	// RunTarget's caller owns the process. The limit covers the process's
	// own memory too (an in-process node keeps the last
	// SnapshotCatchUpEntries raft entries in memory): a limit too tight for
	// it ends in the kernel's OOM killer.
	MemoryLimit int64

	// Node is the template of the cluster layer's nodes: the engine spec
	// (Node.Engine, default bbolt, and Node.EngineOptions, "key=value"
	// options, engines.Knobs), snapshot count, catch-up entries, raft log
	// compaction, quota (defaults and meanings in cluster.NodeOptions), and
	// the batching layer (Node.Backend). The engine and mvcc layers take
	// the engine spec and the batching layer from it too. Clock comes from
	// this Config; ID, Dir and peers from the cluster. They are recorded
	// for every run; a run against Endpoints records EngineRemote as its
	// engine (the servers' engine is not visible through etcd's API). A negative QuotaBytes (QuotaDisabled)
	// switches the quota check off, as etcd's negative
	// --quota-backend-bytes does: for measurements that must not include
	// it; the check stays on by default because etcd runs it on every
	// write.
	Node cluster.NodeOptions
	// LinkDelay is the in-process transport's per-link delay (cluster
	// layer). Default 0.
	LinkDelay time.Duration

	// MeasureRecovery, after the measured phase, kills a follower of the
	// in-process cluster, restarts it and records how long it took to serve
	// reads and to catch up (Result.Recovery). Cluster layer, 2+ nodes, no
	// Endpoints. Default false.
	MeasureRecovery bool
	// QuotaRecovery, after a measured phase that ended with the NOSPACE
	// alarm raised, runs compact + defrag + disarm and records the times
	// and the read latency during the defrags (Result.QuotaRecovery).
	// In-process cluster layer only. Default false.
	QuotaRecovery bool
	// AttributeCPU profiles the process's CPU (runtime/pprof) from the
	// start of the measured phase until its flush and settle are done and
	// splits it into the engine's work (samples with the engine's code on
	// the stack, engines.CodePackages) and the rest (Summary.CPUEngineShare,
	// CPUOutsideEnginePerOpUs). The profiler costs a few percent, alike for
	// every engine. Not with Endpoints (the servers are other processes) nor
	// while another CPU profile runs (go test -cpuprofile). Default false.
	AttributeCPU bool

	// DefragInterval, when > 0, defragments the layer's backend every
	// DefragInterval during the measured phase (the first one DefragInterval
	// after it begins): every in-process node one after another, as
	// `etcdctl defrag --cluster` does, or the mvcc or engine layer's one
	// backend. bbolt copies its file; pebble compacts its whole key space
	// (engine Reclaim). Each defrag is a timed event (event.Defrag) on the
	// timeline and in Result.Maintenance. Not with Endpoints. Default 0:
	// none.
	DefragInterval time.Duration

	// Faults is the schedule of faults injected during the measured phase
	// (package bench/faults): kills and restarts, partitions, link delay
	// and loss, a slow or full disk. In-process cluster layer only; empty:
	// none. Each fault's figures go to Result.Faults.
	Faults faults.Schedule
	// LinCheck configures the linearizability check (on by default on the
	// cluster layer); its verdict goes to Result.Linearizability.
	LinCheck LinCheck

	// DataDir is the directory in which the layer gets a fresh
	// subdirectory for its files (nothing else in DataDir is touched).
	// Default: next to the output directory (so the fsync probe and the
	// engine share a file system), or the system temp dir when there is no
	// output. The subdirectory is removed at the end unless KeepData.
	DataDir  string
	KeepData bool

	// FsyncProbe is the number of fdatasyncs of the environment probe.
	// Default 200; negative skips the probe.
	FsyncProbe int

	// Clock is the time source. Default clock.Real().
	Clock clock.Clock
	// Progress, when set, receives a live progress line (use a terminal).
	Progress io.Writer
}

// EnsureDefaults fills unset fields with their documented defaults.
func (c *Config) EnsureDefaults() {
	if c.Layer == "" {
		c.Layer = DefaultLayer
	}
	if c.Nodes == 0 {
		c.Nodes = 1
	}
	if c.Workload.Name == "" && c.Workload.Ops == (workloads.OpMix{}) {
		if spec, err := workloads.Preset(DefaultWorkload); err == nil {
			c.Workload = spec
		}
	}
	c.Workload.EnsureDefaults()
	if c.Scale > 0 {
		scaleWorkload(&c.Workload, c.Scale)
	}
	if c.RateFraction > 0 && c.CapacityProbe == 0 {
		c.CapacityProbe = DefaultCapacityProbe
	}
	if c.Clients == 0 {
		c.Clients = DefaultClients
	}
	if c.Duration == 0 && c.Ops == 0 {
		c.Duration = DefaultDuration
	}
	c.Preload.EnsureDefaults()
	if c.FsyncProbe == 0 {
		c.FsyncProbe = DefaultFsyncProbe
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.LinCheck.Share == 0 {
		c.LinCheck.Share = -1
		if c.Layer == LayerCluster {
			c.LinCheck.Share = DefaultLinShare
		}
	}
	if c.LinCheck.MaxOps == 0 {
		c.LinCheck.MaxOps = DefaultLinMaxOps
	}
	if c.LinCheck.Timeout == 0 {
		c.LinCheck.Timeout = DefaultLinTimeout
	}
	if c.Node.Clock == nil {
		c.Node.Clock = c.Clock
	}
	c.Node.EnsureDefaults()
}

// Validate reports every problem of an EnsureDefaults'd Config at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...))
	}
	switch c.Layer {
	case LayerEngine, LayerMVCC, LayerCluster:
	default:
		errs = append(errs, fmt.Errorf("%w: %q (accepted: %s)", ErrUnknownLayer, c.Layer, strings.Join(Layers(), ", ")))
	}
	if c.Nodes < 1 || c.Nodes > MaxNodes {
		bad("nodes %d: accepted 1..%d", c.Nodes, MaxNodes)
	} else if c.Nodes != 1 && c.Layer != LayerCluster {
		bad("nodes %d: only the cluster layer has more than one node", c.Nodes)
	}
	if len(c.Endpoints) > 0 && c.Layer != LayerCluster {
		bad("endpoints are for the cluster layer only")
	}
	if len(c.MetricsEndpoints) > 0 && len(c.Endpoints) == 0 {
		bad("metrics endpoints are scraped only in a run against --endpoints (an in-process cluster reads its nodes' registries)")
	}
	for _, u := range c.MetricsEndpoints {
		if _, err := metricsURL(u); err != nil {
			bad("metrics endpoint: %v", err)
		}
	}
	c.validateWorkload(bad, &errs)
	c.validateLoop(bad)
	if c.MeasureRecovery && (c.Layer != LayerCluster || len(c.Endpoints) > 0 || c.Nodes < 2) {
		bad("measure-recovery restarts a follower: it needs the in-process cluster layer with 2 or more nodes")
	}
	if c.AttributeCPU && len(c.Endpoints) > 0 {
		bad("attribute-cpu profiles this process: the --endpoints servers are other processes")
	}
	if c.QuotaRecovery && (c.Layer != LayerCluster || len(c.Endpoints) > 0) {
		bad("quota-recovery needs the in-process cluster layer")
	}
	if c.QuotaRecovery && c.Node.QuotaBytes < 0 {
		bad("quota-recovery needs a quota: the quota is switched off (quota-backend-bytes %d)", c.Node.QuotaBytes)
	}
	if c.LinkDelay < 0 {
		bad("link-delay %v: must be >= 0", c.LinkDelay)
	}
	if c.DefragInterval < 0 {
		bad("defrag-interval %v: must be >= 0 (0: no scheduled defrag)", c.DefragInterval)
	}
	if c.DefragInterval > 0 && len(c.Endpoints) > 0 {
		bad("defrag-interval defragments the in-process layer's backends: not with --endpoints")
	}
	if ret, err := cluster.ParseCompactionRetention(c.Node.AutoCompactionMode, c.Node.AutoCompactionRetention); err == nil && ret != 0 &&
		(c.Layer != LayerCluster || len(c.Endpoints) > 0) {
		bad("auto-compaction runs on the in-process cluster's nodes (the cluster layer without --endpoints; an --endpoints server takes its own --auto-compaction-* flags)")
	}
	errs = append(errs, c.Preload.Validate(c.Node.MaxRequestBytes)...)
	if err := c.Node.ValidateTemplate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: node: %w", ErrBadConfig, err))
	}
	if err := c.Faults.Validate(faults.Env{Layer: c.Layer, Nodes: c.Nodes, Endpoints: len(c.Endpoints) > 0, Duration: c.Duration}); err != nil {
		errs = append(errs, err)
	}
	if c.LinCheck.Share > 1 || c.LinCheck.Share != c.LinCheck.Share {
		bad("lin-share %v: accepted (0, 1], or negative for no check", c.LinCheck.Share)
	}
	if c.LinCheck.MaxOps < 0 || c.LinCheck.Timeout < 0 {
		bad("lin-max-ops %d and lin-timeout %v must not be negative", c.LinCheck.MaxOps, c.LinCheck.Timeout)
	}
	return errors.Join(errs...)
}

// validateWorkload checks the workload, its scale and memory limit, and
// that the k8s driver runs where it can (before a preload of gigabytes).
func (c *Config) validateWorkload(bad func(format string, args ...any), errs *[]error) {
	if err := c.Workload.Validate(); err != nil {
		if c.Scale > 0 {
			err = fmt.Errorf("%w: scale %d bytes is %d objects of %.0f bytes (key + value): %w",
				ErrBadConfig, c.Scale, c.Workload.PreloadCount(), c.Workload.MeanObjectBytes(), err)
		}
		*errs = append(*errs, err)
	}
	*errs = append(*errs, c.validateScale()...)
	if c.MemoryLimit < 0 || (c.MemoryLimit > 0 && c.MemoryLimit < memlimit.MinLimit) {
		bad("memory-limit %d: accepted 0 (none) or at least %d bytes", c.MemoryLimit, int64(memlimit.MinLimit))
	}
	if c.MemoryLimit > 0 && len(c.Endpoints) > 0 {
		bad("memory-limit limits this process: the --endpoints servers are other processes")
	}
	if k := c.Workload.K8s; k != nil {
		// Checked here, not after a preload of gigabytes.
		switch inProcess := c.Layer == LayerCluster && len(c.Endpoints) == 0; {
		case c.Layer != LayerMVCC && !inProcess:
			bad("the k8s workload's driver runs on the mvcc layer and the in-process cluster layer, not on the %s layer%s", c.Layer, map[bool]string{true: " with --endpoints"}[len(c.Endpoints) > 0])
		case !inProcess && (k.Leases() || k.Watches()):
			bad("k8s.event_leases and k8s.list_and_watch need the in-process cluster layer; on the %s layer set both to false", c.Layer)
		}
	}
}

// validateLoop checks the clients, the loop (closed, open at a rate or at a
// fraction of the probed capacity) and how long it runs.
func (c *Config) validateLoop(bad func(format string, args ...any)) {
	if c.Clients < 1 || c.Clients > MaxClients {
		bad("clients %d: accepted 1..%d", c.Clients, MaxClients)
	}
	if c.Rate < 0 {
		bad("rate %v: must be >= 0 (0 is closed loop)", c.Rate)
	}
	if !(c.RateFraction >= 0 && c.RateFraction <= 1) {
		bad("rate-fraction %v: accepted (0, 1] of the measured capacity (0: not used)", c.RateFraction)
	}
	if c.RateFraction > 0 && c.Rate > 0 {
		bad("give a rate or a rate fraction of the measured capacity, not both")
	}
	if c.CapacityProbe < 0 || (c.CapacityProbe > 0 && c.RateFraction == 0) {
		bad("capacity-probe %v: a positive duration, only with a rate fraction", c.CapacityProbe)
	}
	if c.Duration < 0 || c.Ops < 0 || c.Warmup < 0 {
		bad("duration, ops and warmup must not be negative")
	}
	if c.Duration > 0 && c.Ops > 0 {
		bad("give a duration or an op count, not both")
	}
	if c.Duration == 0 && c.Ops == 0 {
		bad("give a duration or an op count")
	}
	if c.Ops > 0 && c.Ops < int64(c.Clients) {
		bad("ops %d is fewer than clients %d", c.Ops, c.Clients)
	}
}

// Loop returns "open" or "closed".
func (c *Config) Loop() string {
	if c.Rate > 0 || c.RateFraction > 0 {
		return "open"
	}
	return "closed"
}
