package bench

import (
	"fmt"
	"io"
	"time"

	"etcdlab/results"
)

// progress prints one updating line (carriage return, no newline) with the
// elapsed time, the ops so far, the last second's throughput and p99. It is
// silent when Config.Progress is nil (not a terminal).
type progress struct {
	w     io.Writer
	total time.Duration
	ops   int64
	quota int64
	shown bool
}

func newProgress(cfg Config) *progress {
	return &progress{w: cfg.Progress, total: cfg.Duration, quota: cfg.Ops}
}

func (p *progress) update(elapsed time.Duration, smp *results.Sample, _ *recorder) {
	if p.w == nil {
		return
	}
	p.ops += smp.Ops
	var of string
	switch {
	case p.total > 0:
		of = fmt.Sprintf("%5.1fs/%v", elapsed.Seconds(), p.total)
	default:
		of = fmt.Sprintf("%d/%d ops", p.ops, p.quota)
	}
	fmt.Fprintf(p.w, "\r%s  %d ops  %.0f ops/s  p99 %s  errors %d   ",
		of, p.ops, smp.OpsS, fmtUs(smp.P99Us), smp.Errors)
	p.shown = true
}

func (p *progress) done() {
	if p.w != nil && p.shown {
		fmt.Fprintln(p.w)
	}
}

// fmtUs renders microseconds with a unit that keeps 3-4 digits.
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
