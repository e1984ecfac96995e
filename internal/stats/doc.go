// Package stats holds the statistics that reports and figures share: the
// mean of a metric over repeats with its 95% confidence interval (Student's
// t, TCritical95 and MeanCI). It sits below both results/report and plots
// so that report → plots → results points one way.
//
// Contract: pure functions of their arguments; NaN (never a panic, never a
// made-up number) for input that has no answer: no values, a NaN or
// infinite value, df < 1.
package stats
