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

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"etcdlab/bench"
	"etcdlab/bench/runflags"
	"etcdlab/engines"
	"etcdlab/results"
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
	root.AddCommand(newRunCmd(stdout, stderr), newEnginesCmd(stdout), newNodeCmd(stderr),
		newSweepCmd(stdout, stderr), newExperimentCmd(stdout, stderr), newPlotCmd(stdout), newReportCmd(stdout), newCompareCmd(stdout))
	return root
}

// runFlags holds the raw flag values of `etcdlab run`: the shared run
// flags (package runflags) and the output directory.
type runFlags struct {
	runflags.Flags
	out string
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run --out DIR [flags]",
		Short: "Run a workload against a layer and write a result directory",
		Long: `Run a workload against a layer and write a result directory.

The preload (the workload's keys, or --scale SIZE logical bytes of its objects) goes
through the same pipeline as the run, in txns of up to --preload-txn-ops puts and
--preload-txn-bytes bytes. A gigabyte-scale preload on the cluster layer needs
--quota-backend-bytes above etcd's 2 GiB default, or --no-quota.

Loops: closed by default (each client starts an op when its last one ends). --rate R
is open loop: ops start on a fixed schedule of R per second whatever their latency,
which is measured from each op's intended start (coordinated omission corrected; the
service time from the actual start is recorded too). --rate-fraction F first measures
the closed-loop capacity C for --capacity-probe (default 20s) after the preload, then
runs open loop at F x C (result.json: summary.capacity_ops_s, capacity_write_ops_s,
config.rate_ops_s).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd.Flags())
			if err != nil {
				return err
			}
			if term.IsTerminal(int(os.Stderr.Fd())) && stderr == os.Stderr {
				cfg.Progress = stderr
			}
			fmt.Fprintf(stderr, "etcdlab: layer=%s engine=%s nodes=%d workload=%s clients=%d %s loop seed=%d out=%s\n",
				cfg.Layer, cfg.Node.Engine, cfg.Nodes, cfg.Workload.Name, cfg.Clients, cfg.Loop(), cfg.Seed, f.out)
			o, err := bench.RunToDir(cmd.Context(), cfg, f.out)
			if err != nil {
				return runtimeError{err}
			}
			printSummary(stdout, o.Result, f.out)
			if o.DataDir != "" {
				fmt.Fprintf(stdout, "data kept in %s\n", o.DataDir)
			}
			if o.Result.Interrupted {
				return errInterrupted
			}
			if l := o.Result.Linearizability; l != nil && l.Verdict == "illegal" {
				return runtimeError{fmt.Errorf("the run broke linearizability (see %s/%s): its figures must not be reported", f.out, bench.LinVizFile)}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	f.Register(fl)
	fl.StringVar(&f.out, "out", "", "result directory to create (must not exist or be empty)")
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
	cfg, err := f.Flags.Config(fl)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return cfg, usageError{errors.Join(errs...)}
	}
	return cfg, nil
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
	if s.PreloadBytes > 0 {
		fmt.Fprintf(w, "preload %s logical in %d requests, %.1f MB/s; flushed and settled in %.2fs\n",
			fmtBytes(s.PreloadBytes), s.PreloadTxns, s.PreloadMBs, s.PreloadSettleS)
	}
	if s.CapacityOpsS > 0 {
		fmt.Fprintf(w, "capacity (closed-loop probe of %.0fs) %.0f ops/s, %.0f writes/s: open loop at %.0f%%, %.0f ops/s\n",
			c.CapacityProbeS, s.CapacityOpsS, s.CapacityWriteOpsS, 100*c.RateFraction, c.RateOpsS)
	}
	if s.OpenLoopMissed > 0 {
		fmt.Fprintf(w, "open loop: %d ops due in the measured phase were not done at its end (no latency recorded for them)\n", s.OpenLoopMissed)
	}
	if c.MemoryLimitBytes > 0 {
		fmt.Fprintf(w, "memory limit %s (cgroup %s), peak use %s with the page cache\n", fmtBytes(c.MemoryLimitBytes), c.MemoryLimitCgroup, fmtBytes(r.Memory.CgroupPeakBytes))
	}
	if ss := r.SteadyState; ss != nil {
		fmt.Fprintf(w, "steady state: %s (%s)\n", ss.Verdict, ss.Reason)
	}
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
	if s.CPUPerOpUs > 0 {
		fmt.Fprintf(w, "cpu user %.2fs sys %.2fs  %.1fµs per op (process CPU time, every node and client)\n", s.CPUUserS, s.CPUSysS, s.CPUPerOpUs)
	}
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
	for _, f := range r.Faults {
		fmt.Fprintf(w, "fault %s nodes %v [%.2fs, %.2fs]: unavailable %.3fs, first success after %s, back to 90%% after %s, p99 during %s, errors %d %v",
			f.Spec, f.Nodes, f.StartS, f.EndS, f.UnavailableS, fmtSecs(f.FirstSuccessS), fmtSecs(f.Recovery90S), fmtUs(f.DuringP99Us), f.DuringErrors, f.ErrorsByKind)
		for _, c := range f.CatchUp {
			fmt.Fprintf(w, "; node %d caught up after %s (%d snapshots, %s)", c.Node, fmtSecs(c.CatchUpS), c.SnapshotsReceived, fmtBytes(c.SnapshotBytes))
		}
		if f.Error != "" {
			fmt.Fprintf(w, "; ERROR %s", f.Error)
		}
		fmt.Fprintln(w)
	}
	if l := r.Linearizability; l != nil {
		fmt.Fprintf(w, "linearizability: %s (%d ops on %d sampled keys, %d of unknown outcome; checked in %.2fs)", strings.ToUpper(l.Verdict), l.Ops, l.Keys, l.Unknown, l.CheckS)
		if l.Error != "" {
			fmt.Fprintf(w, ": %s", l.Error)
		}
		fmt.Fprintln(w)
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

// fmtSecs prints a figure in seconds where -1 means "never".
func fmtSecs(v float64) string {
	if v < 0 {
		return "never"
	}
	return fmt.Sprintf("%.3fs", v)
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
