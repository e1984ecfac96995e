package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"etcdlab/bench"
	"etcdlab/engines"
	"etcdlab/results"
	"etcdlab/workloads"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// usageError marks an error that is the caller's (bad flag or value).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// interrupted marks a run stopped by a signal after measuring.
var errInterrupted = errors.New("run interrupted; partial results written")

// execute runs the command line args and returns the exit status.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "etcdlab: %v\n", err)
	var ue usageError
	switch {
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.As(err, &ue):
		return exitUsage
	case isRuntime(err):
		return exitFailure
	}
	// cobra's own errors (unknown command, missing argument) are usage errors.
	return exitUsage
}

// runtimeError marks a failure during a run.
type runtimeError struct{ err error }

func (e runtimeError) Error() string { return e.err.Error() }
func (e runtimeError) Unwrap() error { return e.err }

func isRuntime(err error) bool {
	var re runtimeError
	return errors.As(err, &re)
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "etcdlab",
		Short:         "Benchmark etcd's storage pipeline over pluggable engines",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(newRunCmd(stdout, stderr), newEnginesCmd(stdout))
	return root
}

// runFlags holds the raw flag values of `etcdlab run`.
type runFlags struct {
	layer, engine, workload, consistency, out, dataDir string
	engineOpts, endpoints                              []string
	nodes, clients, keySize, valueSize, batchLimit     int
	fsyncProbe                                         int
	keys, ops, quota                                   int64
	seed                                               int64
	rate, readRatio                                    float64
	duration, warmup, batchInterval, linkDelay         time.Duration
	snapCount, snapCatchup                             uint64
	keepData                                           bool
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run --out DIR [flags]",
		Short: "Run a workload against a layer and write a result directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd.Flags())
			if err != nil {
				return err
			}
			if term.IsTerminal(int(os.Stderr.Fd())) && stderr == os.Stderr {
				cfg.Progress = stderr
			}
			fmt.Fprintf(stderr, "etcdlab: layer=%s engine=%s nodes=%d workload=%s clients=%d %s loop seed=%d out=%s\n",
				cfg.Layer, cfg.Engine, cfg.Nodes, cfg.Workload.Name, cfg.Clients, cfg.Loop(), cfg.Seed, f.out)
			o, err := bench.RunToDir(cmd.Context(), cfg, f.out)
			if err != nil {
				if errors.Is(err, bench.ErrLayerNotBuilt) {
					return usageError{err}
				}
				return runtimeError{err}
			}
			printSummary(stdout, o.Result, f.out)
			if o.DataDir != "" {
				fmt.Fprintf(stdout, "data kept in %s\n", o.DataDir)
			}
			if o.Result.Interrupted {
				return errInterrupted
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.layer, "layer", bench.DefaultLayer, "layer to run against: "+strings.Join(bench.Layers(), ", "))
	fl.StringVar(&f.engine, "engine", bench.DefaultEngine, "storage engine: "+strings.Join(engines.Names(), ", "))
	fl.StringArrayVar(&f.engineOpts, "engine-opt", nil, "engine option key=value (repeatable; see 'etcdlab engines')")
	fl.IntVar(&f.nodes, "nodes", 1, "cluster nodes, 1..7 (cluster layer)")
	fl.StringSliceVar(&f.endpoints, "endpoints", nil, "endpoints of separately started etcdlab nodes (cluster layer)")
	fl.StringVar(&f.workload, "workload", bench.DefaultWorkload, "workload preset ("+strings.Join(workloads.Presets(), ", ")+") or YAML file")
	fl.IntVar(&f.clients, "clients", bench.DefaultClients, "concurrent clients")
	fl.Float64Var(&f.rate, "rate", 0, "open loop: target ops/s over all clients (0: closed loop)")
	fl.DurationVar(&f.duration, "duration", bench.DefaultDuration, "measured duration (exclusive with --ops)")
	fl.Int64Var(&f.ops, "ops", 0, "measured op count (exclusive with --duration)")
	fl.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured warm-up after the preload")
	fl.Int64Var(&f.keys, "keys", 0, "key count (0: the workload's)")
	fl.IntVar(&f.keySize, "key-size", 0, "key size in bytes (0: the workload's)")
	fl.IntVar(&f.valueSize, "value-size", 0, "value size in bytes (0: the workload's)")
	fl.Float64Var(&f.readRatio, "read-ratio", -1, "replace the op mix with this fraction of gets and the rest puts, 0..1")
	fl.StringVar(&f.consistency, "consistency", "", "read consistency: linearizable, serializable or the linearizable fraction 0..1 (default: the workload's)")
	fl.Uint64Var(&f.snapCount, "snapshot-count", bench.DefaultSnapshotCount, "raft entries between snapshots (cluster layer)")
	fl.Uint64Var(&f.snapCatchup, "snapshot-catchup-entries", bench.DefaultSnapshotCatchupEntries, "entries kept after a snapshot for slow followers (cluster layer)")
	fl.Int64Var(&f.quota, "quota-bytes", bench.DefaultQuotaBytes, "backend quota in bytes before NOSPACE (cluster layer)")
	fl.DurationVar(&f.batchInterval, "batch-interval", 100*time.Millisecond, "backend batch commit interval")
	fl.IntVar(&f.batchLimit, "batch-limit", 10000, "backend pending ops that force a commit")
	fl.DurationVar(&f.linkDelay, "link-delay", 0, "per-link delay of the in-process transport (cluster layer)")
	fl.Int64Var(&f.seed, "seed", 1, "master seed of the workload")
	fl.StringVar(&f.out, "out", "", "result directory to create (must not exist or be empty)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory in which the layer gets a fresh data subdirectory (default: next to --out)")
	fl.BoolVar(&f.keepData, "keep-data", false, "keep the data directory after the run")
	fl.IntVar(&f.fsyncProbe, "fsync-probe", bench.DefaultFsyncProbe, "fdatasyncs of the environment probe (negative: skip)")
	return cmd
}

// config turns the flags into a validated bench.Config. Every problem is a
// usage error that says what is accepted.
func (f *runFlags) config(fl *pflag.FlagSet) (bench.Config, error) {
	var errs []error
	if f.out == "" {
		errs = append(errs, fmt.Errorf("--out is required: a new or empty directory for the results"))
	} else if err := results.CheckOut(f.out); err != nil {
		errs = append(errs, err)
	}
	spec, err := resolveWorkload(f.workload)
	if err != nil {
		errs = append(errs, err)
	}
	if f.keys < 0 || f.keySize < 0 || f.valueSize < 0 {
		errs = append(errs, fmt.Errorf("--keys, --key-size and --value-size must be >= 0"))
	}
	if f.keys > 0 {
		spec.Keys.Count = f.keys
	}
	if f.keySize > 0 {
		spec.Keys.Size = workloads.Fixed(f.keySize)
	}
	if f.valueSize > 0 {
		spec.ValueSize = workloads.Fixed(f.valueSize)
	}
	if fl.Changed("read-ratio") {
		if f.readRatio < 0 || f.readRatio > 1 {
			errs = append(errs, fmt.Errorf("--read-ratio %v: accepted 0..1", f.readRatio))
		} else {
			spec.Ops = workloads.OpMix{Get: f.readRatio, Put: 1 - f.readRatio}
		}
	}
	if f.consistency != "" {
		spec.ReadConsistency = f.consistency
	}
	duration := f.duration
	if fl.Changed("ops") && !fl.Changed("duration") {
		duration = 0
	}
	if f.fsyncProbe == 0 {
		errs = append(errs, fmt.Errorf("--fsync-probe 0: give a positive count, or a negative one to skip the probe"))
	}
	if f.batchInterval <= 0 {
		errs = append(errs, fmt.Errorf("--batch-interval %v: must be > 0", f.batchInterval))
	}
	if f.batchLimit <= 0 {
		errs = append(errs, fmt.Errorf("--batch-limit %d: must be > 0", f.batchLimit))
	}
	cfg := bench.Config{
		Layer:                  f.layer,
		Engine:                 f.engine,
		EngineOptions:          f.engineOpts,
		Nodes:                  f.nodes,
		Endpoints:              f.endpoints,
		Workload:               spec,
		Seed:                   f.seed,
		Clients:                f.clients,
		Rate:                   f.rate,
		Duration:               duration,
		Ops:                    f.ops,
		Warmup:                 f.warmup,
		SnapshotCount:          f.snapCount,
		SnapshotCatchupEntries: f.snapCatchup,
		QuotaBytes:             f.quota,
		LinkDelay:              f.linkDelay,
		DataDir:                f.dataDir,
		KeepData:               f.keepData,
		FsyncProbe:             f.fsyncProbe,
	}
	cfg.Backend.BatchInterval = f.batchInterval
	cfg.Backend.BatchLimit = f.batchLimit
	if f.layer == "" || f.engine == "" || f.clients <= 0 || f.nodes <= 0 {
		errs = append(errs, fmt.Errorf("--layer, --engine, --clients and --nodes must be set (clients and nodes > 0)"))
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return cfg, usageError{errors.Join(errs...)}
	}
	return cfg, nil
}

// resolveWorkload takes a preset name or a YAML file.
func resolveWorkload(name string) (workloads.Spec, error) {
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

func newEnginesCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "engines",
		Short: "List the storage engines and their options (--engine-opt key=value) with defaults",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			for _, name := range engines.Names() {
				knobs, err := engines.Knobs(name)
				if err != nil {
					return runtimeError{err}
				}
				fmt.Fprintf(tw, "%s\n", name)
				sort.Slice(knobs, func(i, j int) bool { return knobs[i].Key < knobs[j].Key })
				for _, k := range knobs {
					fmt.Fprintf(tw, "  %s\tdefault %s\t%s\n", k.Key, k.Default, k.Doc)
				}
				tw.Flush()
				fmt.Fprintln(stdout)
			}
			return nil
		},
	}
}

// printSummary prints the run's table.
func printSummary(w io.Writer, r *results.Result, out string) {
	c, s := r.Config, r.Summary
	fmt.Fprintf(w, "etcdlab run: layer=%s engine=%s nodes=%d workload=%s clients=%d loop=%s seed=%d\n",
		c.Layer, c.Engine, c.Nodes, c.Workload.Name, c.Clients, c.Loop, c.Seed)
	if r.Interrupted {
		fmt.Fprintln(w, "INTERRUPTED: figures cover the measured part only")
	}
	fmt.Fprintf(w, "ops %d  errors %d  duration %.2fs  throughput %.0f ops/s  (preload %d keys in %.2fs)\n",
		s.Ops, s.Errors, s.DurationS, s.ThroughputOpsS, s.PreloadKeys, s.PreloadS)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\terrors\tp50\tp90\tp99\tp99.9\tmax\tmean\t")
	kinds := make([]string, 0, len(r.Ops))
	for k := range r.Ops {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		o := r.Ops[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k, o.Count, o.Errors,
			fmtUs(o.P50Us), fmtUs(o.P90Us), fmtUs(o.P99Us), fmtUs(o.P999Us), fmtUs(o.MaxUs), fmtUs(o.MeanUs))
		if o.Service != nil {
			l := o.Service
			fmt.Fprintf(tw, "  (service)\t\t\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
				fmtUs(l.P50Us), fmtUs(l.P90Us), fmtUs(l.P99Us), fmtUs(l.P999Us), fmtUs(l.MaxUs), fmtUs(l.MeanUs))
		}
	}
	l := s.Latency
	fmt.Fprintf(tw, "all\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Ops, s.Errors,
		fmtUs(l.P50Us), fmtUs(l.P90Us), fmtUs(l.P99Us), fmtUs(l.P999Us), fmtUs(l.MaxUs), fmtUs(l.MeanUs))
	tw.Flush()
	d := r.Disk
	fmt.Fprintf(w, "disk written %s (%s)  logical %s  w-amp %.2f  db %s  wal %s\n",
		fmtBytes(d.BytesWritten), d.BytesWrittenSource, fmtBytes(s.LogicalBytes), d.WriteAmplification,
		fmtBytes(d.DBSizeBytes), fmtBytes(d.WALBytes))
	fmt.Fprintf(w, "fsyncs wal %d engine %d  peak rss %s  peak heap %s  gc pause %.3fs\n",
		r.Fsyncs.WAL, r.Fsyncs.Engine, fmtBytes(r.Memory.PeakRSSBytes), fmtBytes(r.Memory.PeakHeapBytes), r.Memory.GCPauseTotalS)
	if len(r.Events) > 0 {
		ks := make([]string, 0, len(r.Events))
		for k := range r.Events {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		parts := make([]string, len(ks))
		for i, k := range ks {
			parts[i] = fmt.Sprintf("%s=%d", k, r.Events[k])
		}
		fmt.Fprintf(w, "events %s\n", strings.Join(parts, " "))
	}
	fmt.Fprintf(w, "env %s, %s, kernel %s, %s, fsync p50 %s\n", r.Env.GoVersion, r.Env.CPU, r.Env.Kernel, r.Env.Filesystem, fmtUs(r.Env.FsyncP50Us))
	fmt.Fprintf(w, "results in %s\n", out)
}

func fmtUs(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fms", v/1e3)
	default:
		return fmt.Sprintf("%.0fµs", v)
	}
}

func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
