package results

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// BenchName is the benchmark name of r, without the "Benchmark" prefix's
// function part: layer=…/engine=…/nodes=…/workload=….
func (r *Result) BenchName() string {
	return fmt.Sprintf("layer=%s/engine=%s/nodes=%d/workload=%s",
		sanitize(r.Config.Layer), sanitize(r.Config.Engine), r.Config.Nodes, sanitize(r.Config.Workload.Name))
}

// sanitize keeps a name component benchstat-friendly: no spaces or slashes.
func sanitize(s string) string {
	if s == "" {
		return "none"
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '/' || r == '\n' {
			return '_'
		}
		return r
	}, s)
}

// WriteBench writes r in Go benchmark format: the header benchstat uses to
// group runs, one BenchmarkRun line with the run's totals, and one line per
// op kind. The iteration count is the number of ops. On the run line ns/op
// is wall time per op across all clients (the inverse of throughput) and
// cpu-ns/op the process's CPU time per op; on an op kind's line ns/op is
// that kind's mean latency.
func WriteBench(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "goos: %s\ngoarch: %s\npkg: %s\n", r.Env.GOOS, r.Env.GOARCH, defaultPkgLabel)
	if r.Env.CPU != "" {
		fmt.Fprintf(bw, "cpu: %s\n", r.Env.CPU)
	}
	suffix := ""
	if r.Env.GOMAXPROCS > 1 {
		suffix = fmt.Sprintf("-%d", r.Env.GOMAXPROCS)
	}
	name := "BenchmarkRun/" + r.BenchName()
	s := r.Summary
	nsPerOp := 0.0
	if s.Ops > 0 {
		nsPerOp = s.DurationS * 1e9 / float64(s.Ops)
	}
	fsyncsPerOp := 0.0
	if s.Ops > 0 {
		fsyncsPerOp = float64(r.Fsyncs.WAL+r.Fsyncs.Engine) / float64(s.Ops)
	}
	all := r.Summary.Latency
	fmt.Fprintf(bw, "%s%s \t%d\t%s ns/op\t%s ops/s\t%s p50-ns\t%s p99-ns\t%s p999-ns\t%s fsyncs/op\t%s w-amp\t%d peak-rss-B",
		name, suffix, s.Ops, num(nsPerOp), num(s.ThroughputOpsS),
		num(all.P50Us*1e3), num(all.P99Us*1e3), num(all.P999Us*1e3),
		num(fsyncsPerOp), num(r.Disk.WriteAmplification), r.Memory.PeakRSSBytes)
	if s.CPUPerOpUs > 0 {
		fmt.Fprintf(bw, "\t%s cpu-ns/op", num(s.CPUPerOpUs*1e3))
	}
	fmt.Fprintln(bw)
	kinds := make([]string, 0, len(r.Ops))
	for k := range r.Ops {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		o := r.Ops[k]
		if o.Count == 0 {
			continue
		}
		fmt.Fprintf(bw, "%s/op=%s%s \t%d\t%s ns/op\t%s p50-ns\t%s p90-ns\t%s p99-ns\t%s p999-ns\t%s max-ns\n",
			name, sanitize(k), suffix, o.Count, num(o.MeanUs*1e3),
			num(o.P50Us*1e3), num(o.P90Us*1e3), num(o.P99Us*1e3), num(o.P999Us*1e3), num(o.MaxUs*1e3))
	}
	return bw.Flush()
}

func num(f float64) string {
	return fmt.Sprintf("%.6g", f)
}
