// Package report turns run and sweep directories into the tables, figures
// and comparisons people read: summary.csv (one row per run), report.md
// (configuration, environment, a table per metric with mean ± 95%
// confidence interval per point, figures, and a "what this shows" section
// generated from the numbers), and Compare (ratio B/A per op and metric with
// a 95% confidence interval from the repeats).
//
// Contract:
//   - A Set is loaded from a run directory (one run), a sweep directory
//     (sweep.json, schema etcdlab/sweep/v1, naming every run and its
//     parameters) or a directory of run directories (repeats of one
//     configuration). Interrupted runs are left out and counted.
//   - summary.csv columns are stable: run, point, repeat, one param.<name>
//     column per swept parameter, then the numeric and string leaves of
//     result.json under config, summary, ops, disk, fsyncs, memory and
//     events, sorted by path (config.workload.spec, a multi-line YAML, is
//     left out). A missing value is an empty cell.
//   - Confidence intervals use stats.MeanCI (Student t). Compare's ratio
//     interval is computed on the log scale (delta method with Welch's
//     degrees of freedom): ratio·exp(±t·se). A difference is marked
//     significant when the interval excludes 1; with fewer than two
//     repeats on either side there is no interval and nothing is marked.
//   - No conclusion is written that the numbers do not carry: every
//     sentence of "what this shows" is a measured ratio with its interval.
package report
