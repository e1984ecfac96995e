// Command compare-etcd compares etcdlab nodes with real etcd 3.6 using etcd's
// own benchmark tool: same machine, same client, same commands, systems run in
// alternation. It lives in its own module so that etcd's server and benchmark
// code never become dependencies of the etcdlab module; it builds etcdlab by
// shelling out to `go build` in the main module.
//
//	go run . -out ../../out/compare-etcd [-quick] [-repeat N] [-systems etcd,etcdlab-bbolt] [-nodes 1,3]
//
// For each repeat, topology (1 or 3 nodes) and case (put with 1 and 1000
// clients over 100,000 distinct keys; linearizable and serializable range of
// one key with 1 and 1000 clients; watch-latency; lease-keepalive with 1 and
// 1000 clients; txn-mixed with 1000 clients), each system in turn gets a
// fresh cluster on 127.0.0.1, runs the case and is stopped. The system order rotates from
// case to case so no system always runs first. Results go to results.json and
// report.md with PNG bar charts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options configures one comparison run.
type Options struct {
	// Out is the directory for binaries, data, logs and the report.
	Out string
	// Repo is the etcdlab main module's directory (default: ../.. from here).
	Repo string
	// Rev is the etcdlab commit to build (default HEAD), or "worktree" to
	// build the working tree with whatever uncommitted changes it has.
	Rev string
	// Repeat is how many times each (topology, system) session runs. Default 2.
	Repeat int
	// Quick shrinks totals about five-fold and sets Repeat to 1 unless given.
	Quick bool
	// Systems to compare, in the order of the first repeat.
	Systems []string
	// Nodes lists the topologies (cluster sizes).
	Nodes []int
	// ReportOnly rewrites report.md and the plots from Out/results.json
	// without building or running anything.
	ReportOnly bool
	// Scale multiplies every case's request total (after Quick). Default 1.
	Scale float64
	// Cases names the cases to run ("put c=1000", ...); default all.
	Cases []string
}

var allSystems = []string{"etcd", "etcdlab-bbolt", "etcdlab-pebble"}

// EnsureDefaults fills unset fields.
func (o *Options) EnsureDefaults() {
	if o.Out == "" {
		o.Out = "../../out/compare-etcd"
	}
	if o.Repo == "" {
		o.Repo = "../.."
	}
	if o.Rev == "" {
		o.Rev = "HEAD"
	}
	if o.Repeat == 0 {
		o.Repeat = 2
		if o.Quick {
			o.Repeat = 1
		}
	}
	if len(o.Systems) == 0 {
		o.Systems = slices.Clone(allSystems)
	}
	if len(o.Nodes) == 0 {
		o.Nodes = []int{1, 3}
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
}

// Validate reports every problem at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Repeat < 1 {
		errs = append(errs, fmt.Errorf("-repeat %d: must be at least 1", o.Repeat))
	}
	for _, s := range o.Systems {
		if !slices.Contains(allSystems, s) {
			errs = append(errs, fmt.Errorf("-systems: unknown system %q (known: %s)", s, strings.Join(allSystems, ", ")))
		}
	}
	for _, n := range o.Nodes {
		if n != 1 && n != 3 {
			errs = append(errs, fmt.Errorf("-nodes: %d nodes not supported (1 or 3)", n))
		}
	}
	known := caseNames(defaultCases(false, 1))
	for _, c := range o.Cases {
		if !slices.Contains(known, c) {
			errs = append(errs, fmt.Errorf("-cases: unknown case %q (known: %s)", c, strings.Join(known, ", ")))
		}
	}
	if o.Scale <= 0 || o.Scale > 100 {
		errs = append(errs, fmt.Errorf("-scale %g: must be in (0, 100]", o.Scale))
	}
	return errors.Join(errs...)
}

func main() {
	var o Options
	var systems, nodes string
	flag.StringVar(&o.Out, "out", "", "output directory (default ../../out/compare-etcd)")
	flag.StringVar(&o.Repo, "repo", "", "etcdlab main module directory (default ../..)")
	flag.StringVar(&o.Rev, "etcdlab-rev", "HEAD", `etcdlab commit to build, or "worktree" for the working tree as it is`)
	flag.IntVar(&o.Repeat, "repeat", 0, "sessions per (topology, system); default 2, or 1 with -quick")
	flag.BoolVar(&o.Quick, "quick", false, "about five times fewer requests per case (one repeat: a run of about 3 minutes)")
	flag.StringVar(&systems, "systems", strings.Join(allSystems, ","), "systems to compare")
	flag.StringVar(&nodes, "nodes", "1,3", "cluster sizes to run")
	flag.Float64Var(&o.Scale, "scale", 1, "multiply every case's request total")
	var cases string
	flag.StringVar(&cases, "cases", "", `cases to run, comma-separated (default all: "`+strings.Join(caseNames(defaultCases(false, 1)), `,`)+`")`)
	flag.BoolVar(&o.ReportOnly, "report-only", false, "rewrite the report from OUT/results.json without running anything")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "compare-etcd: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	o.Systems = splitList(systems)
	o.Cases = splitList(cases)
	for _, s := range splitList(nodes) {
		n, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "compare-etcd: -nodes: %q is not a number\n", s)
			os.Exit(2)
		}
		o.Nodes = append(o.Nodes, n)
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "compare-etcd: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "compare-etcd: %v\n", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(ctx context.Context, o Options) error {
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return err
	}
	repo, err := filepath.Abs(o.Repo)
	if err != nil {
		return err
	}
	if o.ReportOnly {
		b, err := os.ReadFile(filepath.Join(out, "results.json"))
		if err != nil {
			return err
		}
		var res Results
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(out, "results.json"), err)
		}
		return writeReport(out, &res)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	bins, err := buildAll(ctx, out, repo, o.Rev, o.Systems)
	if err != nil {
		return err
	}
	env := collectEnv(ctx, bins, repo, o.Rev)
	res := &Results{
		Started: time.Now().UTC(),
		Env:     env,
		Quick:   o.Quick,
		Repeat:  o.Repeat,
		Systems: o.Systems,
		Nodes:   o.Nodes,
	}
	cases := selectCases(defaultCases(o.Quick, o.Scale), o.Cases)
	res.Cases = cases
	runDir := filepath.Join(out, "run")
	if err := os.RemoveAll(runDir); err != nil {
		return err
	}
	for r := 0; r < o.Repeat; r++ {
		for _, n := range o.Nodes {
			for ci, cs := range cases {
				// Systems run one after the other on each case, so slow
				// drifts in the shared machine's load hit all of them alike;
				// the order rotates so that none is always first.
				for _, sys := range rotate(o.Systems, r+ci) {
					if err := ctx.Err(); err != nil {
						return err
					}
					dir := filepath.Join(runDir, fmt.Sprintf("r%d-n%d-%s-%s", r+1, n, slug(cs.Name), sys))
					ms, err := session(ctx, bins, sys, n, dir, []Case{cs}, r)
					res.Measurements = append(res.Measurements, ms...)
					if err != nil {
						res.Failures = append(res.Failures, fmt.Sprintf("repeat %d, %d node(s), %s, %s: %v", r+1, n, sys, cs.Name, err))
						fmt.Fprintf(os.Stderr, "repeat %d  %d node(s)  %-15s FAILED: %v\n", r+1, n, sys, err)
					}
					// Write as we go so an interrupted run still leaves its data.
					if err := res.writeJSON(filepath.Join(out, "results.json")); err != nil {
						return err
					}
				}
			}
		}
	}
	res.Finished = time.Now().UTC()
	if err := res.writeJSON(filepath.Join(out, "results.json")); err != nil {
		return err
	}
	if err := writeReport(out, res); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "report: %s\n", filepath.Join(out, "report.md"))
	return nil
}

func slug(s string) string {
	return strings.NewReplacer(" ", "_", "=", "").Replace(s)
}

func rotate(s []string, k int) []string {
	if len(s) == 0 {
		return nil
	}
	k %= len(s)
	return append(slices.Clone(s[k:]), s[:k]...)
}

// caseNames lists the cases' names in order.
func caseNames(cs []Case) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// selectCases keeps the named cases, in their default order (all when names
// is empty).
func selectCases(cs []Case, names []string) []Case {
	if len(names) == 0 {
		return cs
	}
	var out []Case
	for _, c := range cs {
		if slices.Contains(names, c.Name) {
			out = append(out, c)
		}
	}
	return out
}
