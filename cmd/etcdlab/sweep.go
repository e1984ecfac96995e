package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"etcdlab/bench/runflags"
	"etcdlab/bench/sweep"
	"etcdlab/results/report"
)

// sweepFlags are the flags of `etcdlab sweep` and `etcdlab experiment`:
// the run flags (fixed values when given) plus the sweep's own.
type sweepFlags struct {
	run       runflags.Flags
	params    []string
	exclude   []string
	engines   []string
	repeat    int
	orderSeed int64
	out, spec string
}

func (f *sweepFlags) register(fl *pflag.FlagSet, withSpec bool) {
	f.run.Register(fl)
	fl.StringArrayVar(&f.params, "param", nil, "swept run flag name=v1,v2,... (repeatable; e.g. snapshot-count=1000,10000)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "leave out the points matching all of space-separated name=value / name!=value terms (repeatable; e.g. \"layer=mvcc nodes!=1\")")
	fl.StringSliceVar(&f.engines, "engines", nil, "engines to sweep, e.g. bbolt,pebble")
	fl.IntVar(&f.repeat, "repeat", sweep.DefaultRepeat, "runs per point")
	fl.Int64Var(&f.orderSeed, "order-seed", 1, "seed of the interleaved run order (--seed is the workload's)")
	fl.StringVar(&f.out, "out", "", "sweep directory: new, empty, or the same sweep's (resume)")
	if withSpec {
		fl.StringVar(&f.spec, "spec", "", "YAML sweep spec (name, params, engines, fixed, repeat, seed); flags override it")
	}
}

// changedRunFlags returns the run flags given on the command line as
// settings, in command-line order of names.
func changedRunFlags(fl *pflag.FlagSet) []runflags.Setting {
	runNames := map[string]bool{}
	for _, n := range runflags.Names() {
		runNames[n] = true
	}
	var out []runflags.Setting
	fl.Visit(func(p *pflag.Flag) {
		if !runNames[p.Name] {
			return
		}
		name := runflags.Canonical(p.Name)
		if sv, ok := p.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				out = append(out, runflags.Setting{Name: name, Value: v})
			}
			return
		}
		out = append(out, runflags.Setting{Name: name, Value: p.Value.String()})
	})
	return out
}

// apply overrides spec with the command line.
func (f *sweepFlags) apply(fl *pflag.FlagSet, spec *sweep.Spec) error {
	var errs []error
	var params []sweep.Param
	for _, p := range f.params {
		pp, err := sweep.ParseParam(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		params = append(params, pp)
	}
	spec.Override(params, changedRunFlags(fl), f.engines)
	spec.Exclude = append(spec.Exclude, f.exclude...)
	if fl.Changed("repeat") || spec.Repeat == 0 {
		spec.Repeat = f.repeat
	}
	if fl.Changed("order-seed") || spec.Seed == 0 {
		spec.Seed = f.orderSeed
	}
	if f.out == "" {
		errs = append(errs, fmt.Errorf("--out is required: the sweep directory"))
	}
	return errors.Join(errs...)
}

func newSweepCmd(stdout, stderr io.Writer) *cobra.Command {
	var f sweepFlags
	cmd := &cobra.Command{
		Use:   "sweep --out DIR [--param name=v1,v2 ...] [--engines a,b] [run flags]",
		Short: "Run the cartesian product of parameters, repeated and interleaved; write summary.csv, plots and report.md",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var spec sweep.Spec
			if f.spec != "" {
				s, err := sweep.LoadSpec(f.spec)
				if err != nil {
					return usageError{err}
				}
				spec = s
			}
			if err := f.apply(cmd.Flags(), &spec); err != nil {
				return usageError{err}
			}
			return runSweep(cmd, spec, f.out, stdout, stderr)
		},
	}
	f.register(cmd.Flags(), true)
	return cmd
}

func newExperimentCmd(stdout, stderr io.Writer) *cobra.Command {
	var f sweepFlags
	cmd := &cobra.Command{
		Use:   "experiment NAME --out DIR [overrides]",
		Short: "Run a preset sweep (" + strings.Join(sweep.Experiments(), ", ") + "); flags override its defaults",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := sweep.Experiment(args[0])
			if err != nil {
				return usageError{err}
			}
			if err := f.apply(cmd.Flags(), &spec); err != nil {
				return usageError{err}
			}
			return runSweep(cmd, spec, f.out, stdout, stderr)
		},
	}
	f.register(cmd.Flags(), false)
	return cmd
}

func runSweep(cmd *cobra.Command, spec sweep.Spec, out string, stdout, stderr io.Writer) error {
	spec.EnsureDefaults()
	if err := spec.Validate(); err != nil {
		return usageError{err}
	}
	n := len(spec.Points()) * spec.Repeat
	fmt.Fprintf(stderr, "etcdlab: sweep %s: %d points × %d repeats = %d runs into %s\n", spec.Name, len(spec.Points()), spec.Repeat, n, out)
	o, err := sweep.Run(cmd.Context(), sweep.Config{Spec: spec, Out: out, Log: stderr})
	if o != nil {
		fmt.Fprintf(stdout, "sweep %s: %d runs done, %d already done (resumed), %d failed\n", spec.Name, o.Ran, o.Skipped, o.Bad)
		if o.Report != "" {
			if s, lerr := report.Load(out); lerr == nil {
				printSweepTable(stdout, s)
				printParity(stdout, s)
			}
			fmt.Fprintf(stdout, "summary: %s\nreport:  %s\n", out+"/"+report.SummaryFile, o.Report)
		}
	}
	switch {
	case errors.Is(err, sweep.ErrInterrupted):
		return errInterrupted
	case errors.Is(err, sweep.ErrOtherSweep), errors.Is(err, sweep.ErrBadSpec):
		return usageError{err}
	case err != nil:
		return runtimeError{err}
	}
	return nil
}

// printSweepTable prints one line per point: throughput and p99 (mean of
// the repeats with the 95% CI half-width).
func printSweepTable(w io.Writer, s *report.Set) {
	rows := report.PointTable(s, []string{"summary.throughput_ops_s", "summary.latency.p50_us", "summary.latency.p99_us", "memory.peak_rss_bytes", "disk.db_size_bytes"})
	printRows(w, rows)
}

// printParity prints the parity verdict of a set that ran layers side by
// side (the parity experiment), and nothing otherwise.
func printParity(w io.Writer, s *report.Set) {
	p := report.ComputeParity(s)
	if p == nil {
		return
	}
	for _, l := range p.Lines() {
		fmt.Fprintln(w, l)
	}
}

func printRows(w io.Writer, rows [][]string) {
	widths := make([]int, 0)
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		for i, c := range r {
			pad := widths[i] - len([]rune(c))
			if i == 0 {
				fmt.Fprint(w, c+strings.Repeat(" ", pad))
			} else {
				fmt.Fprint(w, "  "+strings.Repeat(" ", pad)+c)
			}
		}
		fmt.Fprintln(w)
	}
}
