package runflags

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"etcdlab/bench"
	"etcdlab/bench/faults"
	"etcdlab/cluster"
	"etcdlab/workloads"
)

// ErrBadSetting marks a name=value setting Build cannot apply.
var ErrBadSetting = errors.New("runflags: bad setting")

// Flags holds the raw values of the run flags.
type Flags struct {
	layer, workload, consistency, dataDir          string
	endpoints, metricsEndpoints                    []string
	nodes, clients, keySize, valueSize             int
	fsyncProbe                                     int
	keys, ops                                      int64
	seed                                           int64
	rate, readRatio                                float64
	duration, warmup, linkDelay                    time.Duration
	defragInterval                                 time.Duration
	node                                           cluster.NodeOptions // the knobs node shares (RegisterFlags)
	keepData, measureRecovery, quotaRecovery       bool
	attributeCPU                                   bool
	noQuota                                        bool
	faults                                         string
	linMaxOps                                      int
	linShare                                       float64
	linTimeout                                     time.Duration
	watchers, watchPrefixes, leaseKeys, keepAlives int
	watchStartBehind                               int64
	leaseRate, leaseRevokeAfter                    float64
	scale, memoryLimit                             string
	rateFraction                                   float64
	capacityProbe                                  time.Duration
	preload                                        bench.PreloadOptions
	timeScale                                      float64
}

// Register adds the run flags to fl, bound to f.
func (f *Flags) Register(fl *pflag.FlagSet) {
	fl.StringVar(&f.layer, "layer", bench.DefaultLayer, "layer to run against: "+strings.Join(bench.Layers(), ", "))
	fl.IntVar(&f.nodes, "nodes", 1, "cluster nodes, 1..7 (cluster layer)")
	fl.StringSliceVar(&f.endpoints, "endpoints", nil, "endpoints of separately started etcdlab nodes (cluster layer)")
	fl.StringSliceVar(&f.metricsEndpoints, "metrics-endpoints", nil, "Prometheus endpoints of the --endpoints servers, scraped before, during and after the run (default: each endpoint + /metrics)")
	fl.StringVar(&f.workload, "workload", bench.DefaultWorkload, "workload preset ("+strings.Join(workloads.Presets(), ", ")+") or YAML file")
	fl.IntVar(&f.clients, "clients", bench.DefaultClients, "concurrent clients")
	fl.Float64Var(&f.rate, "rate", 0, "open loop: target ops/s over all clients, latency from each op's intended start (0: closed loop)")
	fl.Float64Var(&f.rateFraction, "rate-fraction", 0, "open loop at this fraction (0, 1] of the capacity a closed-loop probe measures after the preload (summary.capacity_ops_s); exclusive with --rate")
	fl.DurationVar(&f.capacityProbe, "capacity-probe", 0, fmt.Sprintf("length of the closed-loop capacity probe of --rate-fraction (0: %v)", bench.DefaultCapacityProbe))
	fl.DurationVar(&f.duration, "duration", bench.DefaultDuration, "measured duration (exclusive with --ops)")
	fl.Int64Var(&f.ops, "ops", 0, "measured op count (exclusive with --duration)")
	fl.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured warm-up after the preload")
	fl.Int64Var(&f.keys, "keys", 0, "key count (0: the workload's)")
	fl.StringVar(&f.scale, "scale", "", "preload about this many logical bytes (key + value), e.g. 512MB, 2GB, 30GB (GB = 10^9, GiB = 2^30): sets the key count from the workload's mean object size; exclusive with --keys")
	fl.IntVar(&f.preload.Loaders, "preload-loaders", 0, fmt.Sprintf("concurrent loaders of the preload (0: %d; %d with --preload-txn-ops 1)", bench.DefaultPreloadLoaders, 128))
	fl.IntVar(&f.preload.TxnOps, "preload-txn-ops", 0, fmt.Sprintf("puts per preload txn, 1..%d (etcd's --max-txn-ops; 1: one Put per key) (0: %d)", bench.DefaultPreloadTxnOps, bench.DefaultPreloadTxnOps))
	fl.IntVar(&f.preload.TxnBytes, "preload-txn-bytes", 0, fmt.Sprintf("request size bound of a preload txn, below the node's request limit (etcd's --max-request-bytes, 1.5 MiB) (0: %d)", bench.DefaultPreloadTxnBytes))
	fl.StringVar(&f.memoryLimit, "memory-limit", "", "run in a cgroup of its own with this memory limit, page cache included (cgroup v2 memory.max, else v1 memory.limit_in_bytes), e.g. 4GiB; needs root")
	fl.IntVar(&f.keySize, "key-size", 0, "key size in bytes (0: the workload's)")
	fl.IntVar(&f.valueSize, "value-size", 0, "value size in bytes (0: the workload's)")
	fl.Float64Var(&f.readRatio, "read-ratio", -1, "replace the op mix with this fraction of gets and the rest puts, 0..1")
	fl.IntVar(&f.watchers, "watchers", 0, "watchers over the key space from the start of the measured phase (0: the workload's watch.watchers; cluster layer in process)")
	fl.IntVar(&f.watchPrefixes, "watch-prefixes", 0, "parts of the key space the watchers are spread over (0: the workload's)")
	fl.Int64Var(&f.watchStartBehind, "watch-start-behind", 0, "start the watchers this many revisions behind, so they catch up from the backend (0: the workload's)")
	fl.Float64Var(&f.leaseRate, "lease-rate", 0, "leases granted per second, each with --lease-keys keys, revoked after --lease-revoke-after or left to expire (0: the workload's leases.rate; cluster layer in process)")
	fl.IntVar(&f.leaseKeys, "lease-keys", 0, "keys put on each churned lease (0: the workload's)")
	fl.Float64Var(&f.leaseRevokeAfter, "lease-revoke-after", 0, "seconds after which a churned lease is revoked (0: the workload's; left to expire when that is 0 too)")
	fl.IntVar(&f.keepAlives, "keepalives", 0, "long-lived leases kept alive, each renewed every TTL/3 (0: the workload's)")
	fl.Float64Var(&f.timeScale, "time-scale", 0, "k8s workloads: run the apiserver's periods (compaction, event TTL and lease reuse, leader election) this many times faster (0: the workload's k8s.time_scale)")
	fl.StringVar(&f.consistency, "consistency", "", "read consistency: linearizable, serializable or the linearizable fraction 0..1 (default: the workload's)")
	f.node.RegisterFlags(fl)
	fl.BoolVar(&f.noQuota, "no-quota", false, "switch the backend quota check off for measurement (same as --quota-backend-bytes -1; etcd checks it on every write, so the default keeps it)")
	fl.DurationVar(&f.linkDelay, "link-delay", 0, "per-link delay of the in-process transport (cluster layer)")
	fl.Int64Var(&f.seed, "seed", 1, "master seed of the workload")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory in which the layer gets a fresh data subdirectory (default: next to --out)")
	fl.BoolVar(&f.measureRecovery, "measure-recovery", false, "after the run, kill a follower, restart it and record restart and catch-up times (cluster layer, 2+ nodes)")
	fl.BoolVar(&f.quotaRecovery, "quota-recovery", false, "after a run that raised NOSPACE, compact + defrag + disarm and record the times and read latency during defrag (cluster layer)")
	fl.BoolVar(&f.attributeCPU, "attribute-cpu", false, "profile the measured phase (runtime/pprof, a few percent of CPU) and split CPU per op into the engine's work and the rest of the pipeline's (summary.cpu_engine_share)")
	fl.BoolVar(&f.keepData, "keep-data", false, "keep the data directory after the run")
	fl.IntVar(&f.fsyncProbe, "fsync-probe", bench.DefaultFsyncProbe, "fdatasyncs of the environment probe (negative: skip)")
	fl.DurationVar(&f.defragInterval, "defrag-interval", 0, "defragment every node (one after another) every this long during the measured phase; bbolt: defrag, pebble: manual compaction of the whole key space (0: none; not with --endpoints)")
	fl.StringVar(&f.faults, "faults", "", "faults during the measured phase, e.g. kill-leader@5s,restart@8s or slow-disk:leader=20ms@4s+5s, or a YAML file (in-process cluster layer; kinds: "+strings.Join(faults.Kinds(), ", ")+")")
	fl.Float64Var(&f.linShare, "lin-share", 0, fmt.Sprintf("share of the key space whose ops are recorded for the porcupine linearizability check, (0, 1] (0: %g on the cluster layer; negative: no check)", bench.DefaultLinShare))
	fl.IntVar(&f.linMaxOps, "lin-max-ops", bench.DefaultLinMaxOps, "cap on the operations recorded for the linearizability check")
	fl.DurationVar(&f.linTimeout, "lin-timeout", bench.DefaultLinTimeout, "time limit of the linearizability check (verdict \"unknown\" when it runs out)")
	for _, name := range []string{"nodes", "link-delay"} {
		_ = fl.SetAnnotation(name, cluster.FlagLayers, []string{bench.LayerCluster})
	}
}

// Config turns the flags into a validated bench.Config. Every problem is
// reported at once and says what is accepted.
func (f *Flags) Config(fl *pflag.FlagSet) (bench.Config, error) {
	var errs []error
	spec := f.workloadSpec(fl, &errs)
	scale, memLimit := f.sizes(fl, &errs)
	var err error
	duration := f.duration
	if fl.Changed("ops") && !fl.Changed("duration") {
		duration = 0
	}
	if fl.Changed("duration") && f.duration <= 0 {
		// Zero used to fall back to the default silently.
		errs = append(errs, fmt.Errorf("--duration %v: must be > 0 (to run a number of ops instead, give --ops)", f.duration))
	}
	if f.fsyncProbe == 0 {
		errs = append(errs, fmt.Errorf("--fsync-probe 0: give a positive count, or a negative one to skip the probe"))
	}
	if err := f.node.CheckFlags(); err != nil {
		errs = append(errs, err)
	}
	var sched faults.Schedule
	if f.faults != "" {
		if sched, err = faults.Resolve(f.faults); err != nil {
			errs = append(errs, fmt.Errorf("--faults: %w", err))
		}
	}
	if f.linMaxOps <= 0 || f.linTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--lin-max-ops %d and --lin-timeout %v must be > 0", f.linMaxOps, f.linTimeout))
	}
	cfg := bench.Config{
		Layer:            f.layer,
		Nodes:            f.nodes,
		Endpoints:        f.endpoints,
		MetricsEndpoints: f.metricsEndpoints,
		Workload:         spec,
		Seed:             f.seed,
		Clients:          f.clients,
		Rate:             f.rate,
		RateFraction:     f.rateFraction,
		CapacityProbe:    f.capacityProbe,
		Scale:            scale,
		MemoryLimit:      memLimit,
		Preload:          f.preload,
		Duration:         duration,
		Ops:              f.ops,
		Warmup:           f.warmup,
		Node:             f.node,
		LinkDelay:        f.linkDelay,
		DataDir:          f.dataDir,
		KeepData:         f.keepData,
		MeasureRecovery:  f.measureRecovery,
		QuotaRecovery:    f.quotaRecovery,
		AttributeCPU:     f.attributeCPU,
		FsyncProbe:       f.fsyncProbe,
		Faults:           sched,
		DefragInterval:   f.defragInterval,
		LinCheck:         bench.LinCheck{Share: f.linShare, MaxOps: f.linMaxOps, Timeout: f.linTimeout},
	}
	if f.noQuota {
		if (fl.Changed("quota-backend-bytes") || fl.Changed("quota-bytes")) && f.node.QuotaBytes >= 0 {
			errs = append(errs, fmt.Errorf("--no-quota and --quota-backend-bytes %d contradict each other: give one", f.node.QuotaBytes))
		}
		cfg.Node.QuotaBytes = bench.QuotaDisabled
	}
	if f.layer == "" || f.node.Engine == "" || f.clients <= 0 || f.nodes <= 0 {
		errs = append(errs, fmt.Errorf("--layer, --engine, --clients and --nodes must be set (clients and nodes > 0)"))
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// workloadSpec resolves --workload and applies the flags that override the
// spec's fields, appending what is wrong to errs.
func (f *Flags) workloadSpec(fl *pflag.FlagSet, errs *[]error) workloads.Spec {
	spec, err := ResolveWorkload(f.workload)
	if err != nil {
		*errs = append(*errs, err)
	}
	if f.keys < 0 || f.keySize < 0 || f.valueSize < 0 {
		*errs = append(*errs, fmt.Errorf("--keys, --key-size and --value-size must be >= 0"))
	}
	if f.keys > 0 {
		spec.Keys.Count = f.keys
	}
	if f.keySize > 0 {
		spec.Keys.Size = workloads.Fixed(f.keySize)
	}
	if f.valueSize > 0 {
		spec.ValueSize = workloads.Fixed(f.valueSize)
		if spec.K8s != nil {
			spec.K8s.ValueSizes = nil // the flag sizes every value
		}
	}
	if f.timeScale < 0 {
		*errs = append(*errs, fmt.Errorf("--time-scale %v: accepted > 0 (0: the workload's)", f.timeScale))
	} else if f.timeScale > 0 {
		if spec.K8s == nil {
			*errs = append(*errs, fmt.Errorf("--time-scale: the workload %q has no k8s section to scale", spec.Name))
		} else {
			spec.K8s.TimeScale = f.timeScale
		}
	}
	if fl.Changed("read-ratio") {
		if f.readRatio < 0 || f.readRatio > 1 {
			*errs = append(*errs, fmt.Errorf("--read-ratio %v: accepted 0..1", f.readRatio))
		} else {
			spec.Ops = workloads.OpMix{Get: f.readRatio, Put: 1 - f.readRatio}
		}
	}
	if f.consistency != "" {
		spec.ReadConsistency = f.consistency
	}
	if f.watchers < 0 || f.watchPrefixes < 0 || f.watchStartBehind < 0 || f.leaseKeys < 0 || f.keepAlives < 0 || f.leaseRate < 0 || f.leaseRevokeAfter < 0 {
		*errs = append(*errs, fmt.Errorf("--watchers, --watch-prefixes, --watch-start-behind, --lease-rate, --lease-keys, --lease-revoke-after and --keepalives must be >= 0"))
	}
	if f.watchers > 0 {
		spec.Watch.Watchers = f.watchers
		if spec.Watch.Streams > f.watchers {
			spec.Watch.Streams = 0 // the default again: one per watcher
		}
	}
	if f.watchPrefixes > 0 {
		spec.Watch.Prefixes = f.watchPrefixes
	}
	if f.watchStartBehind > 0 {
		spec.Watch.StartBehind = f.watchStartBehind
	}
	if f.leaseRate > 0 {
		spec.Leases.Rate = f.leaseRate
	}
	if f.leaseKeys > 0 {
		spec.Leases.KeysPerLease = f.leaseKeys
	}
	if f.leaseRevokeAfter > 0 {
		spec.Leases.RevokeAfter = f.leaseRevokeAfter
	}
	if f.keepAlives > 0 {
		spec.Leases.KeepAlives = f.keepAlives
	}
	return spec
}

// sizes parses --scale and --memory-limit, appending what is wrong to errs.
func (f *Flags) sizes(fl *pflag.FlagSet, errs *[]error) (scale, memLimit int64) {
	var err error
	if f.scale != "" {
		if scale, err = ParseSize(f.scale); err != nil || scale <= 0 {
			*errs = append(*errs, fmt.Errorf("--scale %q: want a positive size such as 512MB, 2GB or 1.5GiB", f.scale))
		}
		if fl.Changed("keys") {
			*errs = append(*errs, fmt.Errorf("--scale and --keys both set the key count: give one"))
		}
	}
	if f.memoryLimit != "" {
		if memLimit, err = ParseSize(f.memoryLimit); err != nil || memLimit <= 0 {
			*errs = append(*errs, fmt.Errorf("--memory-limit %q: want a positive size such as 512MiB or 4GiB", f.memoryLimit))
		}
	}
	return scale, memLimit
}

// ParseSize parses a byte size: a number of bytes, or a number (decimals
// allowed) with a unit, B, KB, MB, GB, TB (powers of 10, as disk sizes and
// etcd issue #22332's figures are given) or KiB, MiB, GiB, TiB (powers of
// 2), case-insensitive, e.g. 512MB, 2GB, 1.5GiB.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]float64{"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v < 0 || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%w: size %q (want e.g. 4096, 512MB, 2GB, 1.5GiB)", ErrBadSetting, s)
	}
	return int64(math.Round(v * mult)), nil
}

// ResolveWorkload takes a preset name or a YAML file.
func ResolveWorkload(name string) (workloads.Spec, error) {
	for _, p := range workloads.Presets() {
		if p == name {
			return workloads.Preset(name)
		}
	}
	if st, err := os.Stat(name); err == nil && !st.IsDir() {
		return workloads.LoadSpec(name)
	}
	return workloads.Spec{}, fmt.Errorf("%w: --workload %q is neither a preset (accepted: %s) nor a readable YAML file",
		workloads.ErrUnknownPreset, name, strings.Join(workloads.Presets(), ", "))
}

// Setting is one name=value, the name a run flag without its dashes.
type Setting struct {
	Name, Value string
}

// Canonical returns the flag name a setting name stands for: etcd's name
// for a knob's deprecated old name (cluster.DeprecatedFlags), else name.
// Sweeps compare and record settings by it.
func Canonical(name string) string {
	if n, ok := cluster.DeprecatedFlags()[name]; ok {
		return n
	}
	return name
}

// Layers returns the layers that read the run flag name (an old name
// stands for its new one): the flag's cluster.FlagLayers annotation; nil
// for a flag every layer reads, or an unknown name.
func Layers(name string) []string {
	fl := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var f Flags
	f.Register(fl)
	if p := fl.Lookup(Canonical(name)); p != nil {
		return p.Annotations[cluster.FlagLayers]
	}
	return nil
}

// Names returns the accepted setting names (the run flags), sorted.
func Names() []string {
	fl := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var f Flags
	f.Register(fl)
	var names []string
	fl.VisitAll(func(p *pflag.Flag) { names = append(names, p.Name) })
	sort.Strings(names)
	return names
}

// Build returns the bench.Config of the run flags' defaults with settings
// applied in order, exactly as `etcdlab run --name value ...` would.
func Build(settings []Setting) (bench.Config, error) {
	fl := pflag.NewFlagSet("run", pflag.ContinueOnError)
	// Spec files and --param keep the knobs' old names (deprecated flags):
	// they are accepted without the command line's deprecation line.
	fl.SetOutput(io.Discard)
	var f Flags
	f.Register(fl)
	var errs []error
	for _, s := range settings {
		if fl.Lookup(s.Name) == nil {
			errs = append(errs, fmt.Errorf("%w: unknown parameter %q (accepted: %s)", ErrBadSetting, s.Name, strings.Join(Names(), ", ")))
			continue
		}
		if err := fl.Set(s.Name, s.Value); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s=%s: %v", ErrBadSetting, s.Name, s.Value, err))
		}
	}
	if len(errs) > 0 {
		return bench.Config{}, errors.Join(errs...)
	}
	return f.Config(fl)
}
