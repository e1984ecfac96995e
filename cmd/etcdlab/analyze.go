package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"etcdlab/engines"
	"etcdlab/plots"
	"etcdlab/results/report"
)

// plotStyle pins each engine of the registry to its color in every figure.
func plotStyle() plots.Style { return plots.Style{Engines: engines.Names()} }

func newPlotCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "plot DIR...",
		Short: "Draw the figures of run or sweep directories into DIR/plots",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, dirs []string) error {
			for _, d := range dirs {
				s, err := report.Load(d)
				if err != nil {
					return usageError{err}
				}
				figs, err := report.WritePlots(s, d, plotStyle())
				if err != nil {
					return runtimeError{err}
				}
				fmt.Fprintf(stdout, "%s: %d figures in %s/%s\n", d, len(figs), d, report.PlotsDir)
			}
			return nil
		},
	}
}

func newReportCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "report DIR...",
		Short: "Write DIR/report.md (config, environment, tables, figures) and DIR/summary.csv for run or sweep directories",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, dirs []string) error {
			for _, d := range dirs {
				path, err := report.Write(d, plotStyle())
				if err != nil {
					return runtimeError{err}
				}
				fmt.Fprintf(stdout, "%s\n", path)
			}
			return nil
		},
	}
}

func newCompareCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "compare A B",
		Short: "Print B/A per op and metric with a 95% CI from the repeats; * marks significant differences",
		Long: "A and B are each a run directory, a directory of run directories (repeats of one configuration) " +
			"or a sweep directory (all its completed runs together).",
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			a, err := report.Load(args[0])
			if err != nil {
				return usageError{err}
			}
			b, err := report.Load(args[1])
			if err != nil {
				return usageError{err}
			}
			report.PrintComparison(stdout, fmt.Sprintf("%s (%d runs)", args[0], len(a.Runs)), fmt.Sprintf("%s (%d runs)", args[1], len(b.Runs)), report.Compare(a.Runs, b.Runs))
			if bad := report.LinearizabilityProblems(append(append([]report.Run(nil), a.Runs...), b.Runs...)); len(bad) > 0 {
				fmt.Fprintln(stdout, "\nWARNING: runs that did not pass the linearizability check (their figures come from a run that broke consistency or could not be shown not to):")
				for _, m := range bad {
					fmt.Fprintln(stdout, "  "+m)
				}
			}
			return nil
		},
	}
}
