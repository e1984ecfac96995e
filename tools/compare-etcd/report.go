package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Env describes where and with what a run was made.
type Env struct {
	GoVersion        string `json:"go_version"`
	CPU              string `json:"cpu"`
	NumCPU           int    `json:"num_cpu"`
	Kernel           string `json:"kernel"`
	EtcdVersion      string `json:"etcd_version"`
	BenchmarkModule  string `json:"benchmark_module"`
	ServerModule     string `json:"server_module"`
	EtcdlabCommit    string `json:"etcdlab_commit"`
	EtcdlabTreeDirty bool   `json:"etcdlab_tree_dirty"`
}

// Results is everything one run produced.
type Results struct {
	Started      time.Time     `json:"started"`
	Finished     time.Time     `json:"finished"`
	Env          Env           `json:"env"`
	Quick        bool          `json:"quick"`
	Repeat       int           `json:"repeat"`
	Systems      []string      `json:"systems"`
	Nodes        []int         `json:"nodes"`
	Cases        []Case        `json:"cases"`
	Measurements []Measurement `json:"measurements"`
	Failures     []string      `json:"failures,omitempty"`
}

func (r *Results) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func cmdOutput(ctx context.Context, dir, name string, args ...string) string {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	b, err := cmd.Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(b))
}

func collectEnv(ctx context.Context, bins Binaries, repo, rev string) Env {
	e := Env{GoVersion: runtime.Version(), NumCPU: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					e.CPU = strings.TrimSpace(v)
					break
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	if v := cmdOutput(ctx, "", bins.Etcd, "--version"); v != "" {
		e.EtcdVersion = strings.TrimPrefix(strings.SplitN(v, "\n", 2)[0], "etcd Version: ")
	}
	e.BenchmarkModule = cmdOutput(ctx, "", "go", "list", "-m", "go.etcd.io/etcd/v3")
	e.ServerModule = cmdOutput(ctx, "", "go", "list", "-m", "go.etcd.io/etcd/server/v3")
	if rev == "worktree" {
		e.EtcdlabCommit = cmdOutput(ctx, repo, "git", "rev-parse", "--short", "HEAD")
		e.EtcdlabTreeDirty = cmdOutput(ctx, repo, "git", "status", "--porcelain", "--untracked-files=no") != ""
	} else {
		// Built from a clean export of this commit.
		e.EtcdlabCommit = cmdOutput(ctx, repo, "git", "rev-parse", "--short", rev+"^{commit}")
	}
	return e
}

// stat is one (system, nodes, case) cell over its repeats.
type stat struct {
	rps, p50, p99 []float64
	// fsyncsPerPut and commitP99 are the servers' own figures (their
	// /metrics), for the cases that have them.
	fsyncsPerPut, commitP99 []float64
	failed                  int
	errs                    []string
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

type cellKey struct {
	system string
	nodes  int
	cs     string
}

// row is one line of the report's tables: a case, or one summary (part)
// of a case whose command prints several.
type row struct {
	name string // the cell key: the case's name, then the part's
	cs   Case
	part part
}

// caseRows lists the rows of cases, in order.
func caseRows(cases []Case) []row {
	var out []row
	for _, c := range cases {
		cmd := ""
		if len(c.Args) > 0 {
			cmd = c.Args[0]
		}
		for _, p := range commandParts(cmd) {
			name := c.Name
			if p.name != "" {
				name += " " + p.name
			}
			out = append(out, row{name: name, cs: c, part: p})
		}
	}
	return out
}

// summaryOf is m's summary for part p.
func summaryOf(m Measurement, p part) Summary {
	if s, ok := m.Parts[p.name]; ok {
		return s
	}
	return m.Summary
}

func aggregate(r *Results) map[cellKey]*stat {
	rows := map[string][]row{}
	for _, rw := range caseRows(r.Cases) {
		rows[rw.cs.Name] = append(rows[rw.cs.Name], rw)
	}
	cells := map[cellKey]*stat{}
	for _, m := range r.Measurements {
		rs := rows[m.Case]
		if len(rs) == 0 {
			rs = []row{{name: m.Case}} // a case not listed: its headline
		}
		for _, rw := range rs {
			k := cellKey{m.System, m.Nodes, rw.name}
			st := cells[k]
			if st == nil {
				st = &stat{}
				cells[k] = st
			}
			sum := summaryOf(m, rw.part)
			st.failed += sum.Failed()
			if m.Error != "" {
				st.errs = append(st.errs, m.Error)
			}
			// A run with any failed request is not a throughput figure.
			if m.Error != "" || sum.ReqPerSec == 0 {
				continue
			}
			if m.Server != nil {
				if v := m.Server.FsyncsPerPut(m.Nodes); !math.IsNaN(v) {
					st.fsyncsPerPut = append(st.fsyncsPerPut, v)
				}
				if m.Server.BackendCommits > 0 {
					st.commitP99 = append(st.commitP99, m.Server.BackendCommitP99Secs)
				}
			}
			st.rps = append(st.rps, sum.ReqPerSec)
			st.p50 = append(st.p50, sum.Latency["50"])
			st.p99 = append(st.p99, sum.Latency["99"])
		}
	}
	return cells
}

func fmtRange(v []float64, scale float64, prec int) string {
	if len(v) == 0 {
		return "—"
	}
	m := mean(v) * scale
	if len(v) == 1 || slices.Min(v) == slices.Max(v) {
		return fmt.Sprintf("%.*f", prec, m)
	}
	return fmt.Sprintf("%.*f (%.*f–%.*f)", prec, m, prec, slices.Min(v)*scale, prec, slices.Max(v)*scale)
}

func writeReport(out string, r *Results) error {
	cells := aggregate(r)
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# etcdlab vs etcd 3.6 (etcd's benchmark tool)\n\n")
	w("Generated by tools/compare-etcd (`make compare-etcd`) on %s, %s.\n", r.Started.Format("2006-01-02 15:04 MST"), map[bool]string{true: "quick mode", false: "full mode"}[r.Quick])
	w("Every figure is the mean over %d repeat(s); ranges are min–max. ", r.Repeat)
	w("Every measurement is one case on a fresh cluster (fresh data directories) on 127.0.0.1; ")
	w("the systems run each case one after the other, and their order rotates from case to case.\n\n")
	w("## Environment\n\n")
	w("| | |\n|---|---|\n")
	w("| CPU | %s × %d |\n| kernel | %s |\n| Go | %s |\n", r.Env.CPU, r.Env.NumCPU, r.Env.Kernel, r.Env.GoVersion)
	w("| etcd server | %s (module %s, built with `go build` from the module proxy) |\n", r.Env.EtcdVersion, r.Env.ServerModule)
	w("| benchmark tool | module %s, tools/benchmark |\n", r.Env.BenchmarkModule)
	w("| etcdlab | commit %s%s |\n\n", r.Env.EtcdlabCommit, map[bool]string{true: " + uncommitted changes (built from the working tree)", false: " (built from a clean export of the commit)"}[r.Env.EtcdlabTreeDirty])
	w("Server settings for every system (etcd 3.6 defaults, passed explicitly): `%s`. ", strings.Join(commonFlags, " "))
	w("etcdlab nodes are started as `etcdlab node --engine=bbolt|pebble` with the same flags. ")
	w("With 3 nodes `--endpoints` lists all of them and `--target-leader` sends every request to the leader (as in etcd's performance guide); the 1000-client cases use %d gRPC connections.\n\n", conns1000)

	w("## Commands\n\n```\n")
	for _, c := range r.Cases {
		w("benchmark --endpoints=EPS [--target-leader] --conns=%d --clients=%d --precise %s\n", map[bool]int{true: conns1000, false: 1}[c.Clients >= 1000], c.Clients, strings.Join(c.Args, " "))
	}
	w("```\n\nBefore a range case the key `%s` is written once with a %d-byte value (the store holds only that key).\n\n", rangeKey, valSize)
	rows := caseRows(r.Cases)

	for _, n := range r.Nodes {
		w("## %d node(s)\n\n", n)
		w("| case |")
		for _, s := range r.Systems {
			w(" %s req/s | %s p50 ms | %s p99 ms |", s, s, s)
		}
		w("\n|---|")
		for range r.Systems {
			w("---:|---:|---:|")
		}
		w("\n")
		for _, rw := range rows {
			w("| %s |", rw.name)
			base := cells[cellKey{"etcd", n, rw.name}]
			for _, s := range r.Systems {
				st := cells[cellKey{s, n, rw.name}]
				if st == nil {
					w(" — | — | — |")
					continue
				}
				rps := fmtRange(st.rps, 1, 0)
				if s != "etcd" && base != nil && len(base.rps) > 0 && len(st.rps) > 0 {
					rps += fmt.Sprintf(" **%.2f×**", mean(st.rps)/mean(base.rps))
				}
				if st.failed > 0 || len(st.errs) > 0 {
					rps += fmt.Sprintf(" (%d failed)", st.failed)
				}
				w(" %s | %s | %s |", rps, fmtRange(st.p50, 1e3, 3), fmtRange(st.p99, 1e3, 3))
			}
			w("\n")
		}
		w("\n")
		serverTable(w, r, cells, n)
		// p99 at 1 client is a fraction of a millisecond and at 1000
		// clients tens of milliseconds: one linear axis each.
		charts := []struct {
			metric, file, title string
			keep                func(row) bool
		}{
			// Paced rows' requests/s is the pace, not a throughput.
			{"throughput", fmt.Sprintf("throughput-%dnode.png", n), fmt.Sprintf("throughput, %d node(s)", n), func(rw row) bool { return !rw.part.paced }},
			{"p99", fmt.Sprintf("p99-1client-%dnode.png", n), fmt.Sprintf("p99 latency, 1 client, %d node(s)", n), func(rw row) bool { return rw.cs.Clients == 1 }},
			{"p99", fmt.Sprintf("p99-1000clients-%dnode.png", n), fmt.Sprintf("p99 latency, 1000 clients, %d node(s)", n), func(rw row) bool { return rw.cs.Clients == 1000 }},
		}
		for _, ch := range charts {
			if !slices.ContainsFunc(rows, ch.keep) {
				continue // a run of selected cases (-cases) may have none for this chart
			}
			if err := barChart(filepath.Join(out, ch.file), ch.title, r.Systems, rows, cells, n, ch.metric, ch.keep); err != nil {
				return fmt.Errorf("plot %s: %w", ch.file, err)
			}
			w("![%s](%s)\n", ch.title, ch.file)
		}
		w("\n")
	}

	w("## Fidelity: etcdlab-bbolt against etcd (1 node)\n\n")
	w("etcdlab-bbolt must behave like etcd 3.6 so that etcdlab-pebble predicts etcd on pebble: ")
	w("a case is within fidelity when its throughput is 0.85–1.15× etcd's and its p99 within ±25%%. ")
	w("Faster than etcd is a defect to explain (docs/differences-from-etcd.md), not a win. ")
	w("Rows whose requests the tool paces (watch-latency) are judged on p99 alone.\n\n")
	for _, rw := range rows {
		e, lb := cells[cellKey{"etcd", 1, rw.name}], cells[cellKey{"etcdlab-bbolt", 1, rw.name}]
		if e == nil || lb == nil || len(e.rps) == 0 || len(lb.rps) == 0 {
			continue
		}
		ratio := mean(lb.rps) / mean(e.rps)
		p99 := ratioText(mean(lb.p99), mean(e.p99))
		p99ok := withinP99(mean(lb.p99), mean(e.p99))
		if rw.part.paced {
			w("- %s: p99 %.3f vs %.3f ms (**%s**), paced at %.0f vs %.0f req/s — %s\n",
				rw.name, mean(lb.p99)*1e3, mean(e.p99)*1e3, p99, mean(lb.rps), mean(e.rps),
				map[bool]string{true: "**within**", false: "**outside**"}[p99ok])
			continue
		}
		ok := ratio >= 0.85 && ratio <= 1.15 && p99ok
		wins, pairs := pairedWins(r, rw)
		w("- %s: bbolt %.0f vs etcd %.0f req/s = **%.2f×**, p99 %.2f vs %.2f ms (**%s**); bbolt ahead in %d of %d repeats — %s\n",
			rw.name, mean(lb.rps), mean(e.rps), ratio, mean(lb.p99)*1e3, mean(e.p99)*1e3, p99, wins, pairs,
			map[bool]string{true: "**within**", false: "**outside**"}[ok])
	}
	targets(w, rows, cells)
	w("\n## Engine parity: etcdlab-pebble against etcdlab-bbolt (1 node)\n\n")
	for _, rw := range rows {
		lb, lp := cells[cellKey{"etcdlab-bbolt", 1, rw.name}], cells[cellKey{"etcdlab-pebble", 1, rw.name}]
		if lb == nil || lp == nil || len(lb.rps) == 0 || len(lp.rps) == 0 {
			continue
		}
		if rw.part.paced {
			w("- %s: p99 pebble %.3f vs bbolt %.3f ms (paced)\n", rw.name, mean(lp.p99)*1e3, mean(lb.p99)*1e3)
			continue
		}
		w("- %s: pebble %.0f vs bbolt %.0f req/s = **%.2f×**, p99 %.2f vs %.2f ms\n",
			rw.name, mean(lp.rps), mean(lb.rps), mean(lp.rps)/mean(lb.rps), mean(lp.p99)*1e3, mean(lb.p99)*1e3)
	}
	w("\nRatios from one run on a shared 2-core machine where the benchmark client and the servers compete for the same cores; ")
	w("with %d repeat(s), differences of a few percent are within noise.\n", r.Repeat)
	w("\n## Notes\n\n")
	w("- Speed only: this run does not check that each system made every acknowledged write durable before answering; ")
	w("that etcdlab syncs its WAL before acknowledging is covered by its crash tests, not here.\n")
	w("- The 1000-client cases use %d gRPC connections (etcd's performance guide uses `--conns=100 --clients=1000`).\n", conns1000)
	w("- The benchmark client shares the cores with the servers, as it would in etcd's own single-machine runs; ")
	w("a system that needs less CPU per request leaves more for the client too.\n")
	if slices.ContainsFunc(r.Cases, func(c Case) bool { return c.Args[0] == "watch-latency" }) {
		w("- watch-latency: the tool times each watcher's event for a put from that put's response (an event that came first counts 0 s); ")
		w("its events row's requests/s is events delivered per second (%d watchers) at the tool's put pace (--put-rate=%d with a burst of as many puts), not a throughput.\n", watchStreams*watchersPerStream, watchPutRate)
	}
	if slices.ContainsFunc(r.Cases, func(c Case) bool { return c.Args[0] == "lease-keepalive" }) {
		w("- lease-keepalive: each client grants one lease, then renews it with KeepAliveOnce, which opens a new LeaseKeepAlive stream per request.\n")
	}
	if slices.ContainsFunc(r.Cases, func(c Case) bool { return c.Args[0] == "txn-mixed" }) {
		w("- txn-mixed: each request is a txn with one op; a read ranges over every key with a limit (the tool ignores its key argument), a write puts one of the key space's keys. ")
		w("The read and write rows' requests/s add up to the txns per second.\n")
	}
	w("- Raw tool output, server logs and the exact command of every measurement are under the run's `run/` directory and in results.json.\n")
	if len(r.Failures) > 0 {
		w("\n## Failures\n\n")
		for _, f := range r.Failures {
			w("- %s\n", strings.ReplaceAll(strings.SplitN(f, "\n", 2)[0], "|", "\\|"))
		}
	}
	return os.WriteFile(filepath.Join(out, "report.md"), b.Bytes(), 0o644)
}

// serverTable writes the servers' own figures for the put cases: WAL
// fsyncs per put (all members' fsyncs per client put) and the backend
// commit p99, from every node's /metrics scraped before and after the case.
func serverTable(w func(string, ...any), r *Results, cells map[cellKey]*stat, n int) {
	var puts []Case
	for _, c := range r.Cases {
		if len(c.Args) > 0 && c.Args[0] == "put" {
			puts = append(puts, c)
		}
	}
	if len(puts) == 0 {
		return
	}
	w("Server side, from the servers' own Prometheus metrics (every node's /metrics before and after the case; etcd's names, which etcdlab serves too): ")
	w("WAL fsyncs per put over all members (etcd_disk_wal_fsync_duration_seconds_count / etcd_mvcc_put_total per member) and the backend commit p99 ")
	w("(etcd_disk_backend_commit_duration_seconds, histogram_quantile over etcd's 1, 2, 4 ms ... buckets).\n\n")
	w("| case |")
	for _, s := range r.Systems {
		w(" %s fsyncs/put | %s commit p99 ms |", s, s)
	}
	w("\n|---|")
	for range r.Systems {
		w("---:|---:|")
	}
	w("\n")
	for _, c := range puts {
		w("| %s |", c.Name)
		for _, s := range r.Systems {
			st := cells[cellKey{s, n, c.Name}]
			if st == nil {
				w(" — | — |")
				continue
			}
			w(" %s | %s |", fmtRange(st.fsyncsPerPut, 1, 3), fmtRange(st.commitP99, 1e3, 1))
		}
		w("\n")
	}
	w("\n")
}

// ratioText is a/b as "1.23×", or "n/a" when b is 0.
func ratioText(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// withinP99 reports whether p99 a is within ±25% of b (both 0 counts as
// within).
func withinP99(a, b float64) bool {
	if b == 0 {
		return a == 0
	}
	return a/b >= 0.75 && a/b <= 1.25
}

// targets writes issue #14's speed targets for the watch and lease cases
// at 1 node: watch-latency p99 on etcdlab within ±25% of etcd's, and
// lease-keepalive throughput at least 0.9× etcd's.
func targets(w func(string, ...any), rows []row, cells map[cellKey]*stat) {
	var lines []string
	for _, rw := range rows {
		e := cells[cellKey{"etcd", 1, rw.name}]
		if e == nil || len(e.rps) == 0 {
			continue
		}
		for _, sys := range []string{"etcdlab-bbolt", "etcdlab-pebble"} {
			st := cells[cellKey{sys, 1, rw.name}]
			if st == nil || len(st.rps) == 0 {
				continue
			}
			switch {
			case rw.cs.Args[0] == "watch-latency" && rw.part.name == "events":
				ok := withinP99(mean(st.p99), mean(e.p99))
				lines = append(lines, fmt.Sprintf("- %s, %s: p99 %.3f vs etcd %.3f ms = **%s** (target 0.75–1.25×) — %s",
					rw.name, sys, mean(st.p99)*1e3, mean(e.p99)*1e3, ratioText(mean(st.p99), mean(e.p99)),
					map[bool]string{true: "**met**", false: "**missed**"}[ok]))
			case rw.cs.Args[0] == "lease-keepalive":
				ratio := mean(st.rps) / mean(e.rps)
				lines = append(lines, fmt.Sprintf("- %s, %s: %.0f vs etcd %.0f req/s = **%.2f×** (target ≥ 0.9×) — %s",
					rw.name, sys, mean(st.rps), mean(e.rps), ratio,
					map[bool]string{true: "**met**", false: "**missed**"}[ratio >= 0.9]))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	w("\n## Watch and lease targets (issue #14, 1 node)\n\n")
	for _, l := range lines {
		w("%s\n", l)
	}
}

// pairedWins counts the repeats (1 node, row rw) where etcdlab-bbolt's
// throughput beat etcd's in the same repeat, and how many repeats have both.
func pairedWins(r *Results, rw row) (wins, pairs int) {
	byRepeat := map[int]map[string]float64{}
	for _, m := range r.Measurements {
		sum := summaryOf(m, rw.part)
		if m.Nodes != 1 || m.Case != rw.cs.Name || m.Error != "" || sum.ReqPerSec == 0 {
			continue
		}
		if byRepeat[m.Repeat] == nil {
			byRepeat[m.Repeat] = map[string]float64{}
		}
		byRepeat[m.Repeat][m.System] = sum.ReqPerSec
	}
	for _, v := range byRepeat {
		e, okE := v["etcd"]
		b, okB := v["etcdlab-bbolt"]
		if okE && okB {
			pairs++
			if b > e {
				wins++
			}
		}
	}
	return wins, pairs
}

var palette = []color.Color{
	color.RGBA{R: 0x44, G: 0x77, B: 0xaa, A: 0xff},
	color.RGBA{R: 0xee, G: 0x66, B: 0x77, A: 0xff},
	color.RGBA{R: 0x22, G: 0x88, B: 0x33, A: 0xff},
}

// barChart draws one metric for the rows keep selects (x) and every system
// (bars side by side).
func barChart(path, title string, systems []string, rows []row, cells map[cellKey]*stat, nodes int, metric string, keep func(row) bool) error {
	p := plot.New()
	unit := "req/s"
	if metric == "p99" {
		unit = "ms"
	}
	p.Title.Text = title
	p.Y.Label.Text = fmt.Sprintf("%s (%s)", metric, unit)
	var kept []row
	var names []string
	for _, rw := range rows {
		if keep(rw) {
			kept = append(kept, rw)
			names = append(names, rw.name)
		}
	}
	width := vg.Points(14)
	for i, s := range systems {
		vals := make(plotter.Values, len(kept))
		for j, rw := range kept {
			st := cells[cellKey{s, nodes, rw.name}]
			v := math.NaN()
			if st != nil {
				if metric == "p99" {
					v = mean(st.p99) * 1e3
				} else {
					v = mean(st.rps)
				}
			}
			if math.IsNaN(v) || v < 0 {
				v = 0 // missing figure: no bar
			}
			vals[j] = v
		}
		bc, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bc.Color = palette[i%len(palette)]
		bc.LineStyle.Width = 0
		bc.Offset = width * vg.Length(float64(i)-float64(len(systems)-1)/2)
		p.Add(bc)
		p.Legend.Add(s, bc)
	}
	p.Y.Min = 0
	p.Y.Max *= 1.15 // room for the legend
	p.Legend.Top = true
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.5
	p.X.Tick.Label.XAlign = -0.9
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}
