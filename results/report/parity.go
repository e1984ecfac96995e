package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"etcdlab/internal/stats"
)

// ParityTolerance is the largest relative spread of the per-op overhead
// across engines that counts as parity: max/min − 1 ≤ 10%.
const ParityTolerance = 0.10

// Parity verdicts.
const (
	ParityPass = "PASS"
	ParityFail = "FAIL"
	// ParityInconclusive: the spread exceeds the tolerance but the excess
	// is within the run-to-run noise.
	ParityInconclusive = "INCONCLUSIVE"
	// ParityNA: fewer than two engines, or no measurable overhead.
	ParityNA = "n/a"
	// ParityNotComparable: the engines' linearizable reads shared ReadIndex
	// rounds unlike (reads per round differ by more than the tolerance), so
	// the same round code is split over a different number of reads and its
	// cost per read differs for a reason that is not an engine-specific
	// path. Reads compare at one client, where every read has its round.
	ParityNotComparable = "NOT COMPARABLE"
)

// Parity is the engine-parity check of a set that ran the same workload on
// the mvcc layer and on the cluster layer for several engines (the
// "parity" experiment). The cluster layer adds raft, the WAL, the client,
// the apply loop and the quota check to the mvcc layer's work; that added
// cost is the same code for every engine, so it must cost the same.
//
// Cost per op is process CPU time per acknowledged op (user + sys,
// summary.cpu_per_op_us), and the check uses it: it counts the work an op
// causes on every in-process node, which is what an engine-specific path
// outside the engine would add to, and waiting — fsync latency, the other
// tenant of a shared 2-core machine, the closed loop's queueing — adds
// nothing to it (contention still moves it through caches and scheduling,
// far less than it moves latency). Wall time per op (mean latency at the
// sweep's fixed client count) is shown beside it: it mostly measures
// waiting, so it is noisier and is not judged.
//
// The overhead of a cluster of n nodes is cluster − k × mvcc, with k the
// number of times the cluster does the mvcc layer's work for one op: every
// node applies a write, one node serves a read, so k = 1 + (n−1)·w with w
// the share of writes (k = n for puts, 1 for gets). Subtracting one mvcc
// cost for a 3-node put would leave two followers' engine work in the
// "overhead" and make it differ by engine for a reason that is not
// overhead. The harness's own per-op cost is engine-independent, so
// subtracting it k times shifts every engine's overhead alike. Latency
// overhead subtracts one mvcc latency: the client waits for one apply.
type Parity struct {
	Checks []ParityCheck
	// Status is the worst of the checks': FAIL, then INCONCLUSIVE, then
	// PASS (n/a when no check could be judged).
	Status string
}

// ParityCheck compares the engines on one workload at one cluster size.
type ParityCheck struct {
	// Group names the workload: the swept values other than engine, layer
	// and nodes (e.g. "workload=etcd-put"). Op lists the op kinds it ran.
	Group, Op string
	Nodes     int
	Rows      []ParityRow
	// Spread is max/min − 1 of the engines' CPU overhead (NaN when an
	// overhead is not positive or there is one engine); WallSpread the same
	// for the latency overhead, shown but not judged.
	Spread, WallSpread float64
	// BatchSlope, when not 0, is the CPU µs per op that one more WAL sync
	// per op adds, fitted within each engine's runs (a common slope), and
	// each row's Judged is its overhead at the mean batching of every run
	// of the check: the batching's run-to-run flips are taken out of the
	// comparison. Engines whose mean batching differs by more than the
	// tolerance are not comparable instead.
	BatchSlope float64
	Status     string
	// Verdict says why in one sentence with the numbers, naming each engine
	// whose overhead exceeds the cheapest one's by more than the tolerance
	// and whether that excess is beyond the noise.
	Verdict string
}

// ParityRow is one engine's costs, each the mean over the repeats with the
// half-width of its 95% confidence interval. CPU figures are µs of process
// CPU per op; wall figures µs of mean latency.
type ParityRow struct {
	Engine string
	// Replicas is k, the mvcc-layer work the cluster does per op.
	Replicas                         float64
	MVCCCPU, ClusterCPU, OverheadCPU Cost
	// WALSyncCPU is the CPU time per op the cluster's WAL fdatasyncs took
	// (every node), shown so that a reader can see whether the engine's
	// writes to the same disk make the harness's syncs dearer (they could:
	// the kernel work of an fdatasync grows with other writes). It stays in
	// OverheadCPU: measured, it did not depend on the engine. 0 where the
	// runs did not record it.
	WALSyncCPU                          Cost
	MVCCWall, ClusterWall, OverheadWall Cost
	// Attributed: every run of the row profiled its CPU (run flag
	// --attribute-cpu), so MVCCOutside and ClusterOutside hold the CPU per
	// op outside the engine's code (summary.cpu_outside_engine_per_op_us)
	// and OverheadOutside = ClusterOutside − k × MVCCOutside. The
	// subtraction OverheadCPU also holds whatever engine work costs more
	// per op in the cluster than in the mvcc layer (caches shared with raft
	// and the WAL, smaller commits): EngineInCluster = OverheadCPU −
	// OverheadOutside names that engine-specific cost.
	// MVCCGC and ClusterGC are the runtime's GC work per op (background and
	// charged to allocating goroutines: bench/cpuattr.go isGCWork), which
	// no stack can be charged for; shown, not in either side.
	Attributed                                   bool
	MVCCOutside, ClusterOutside, OverheadOutside Cost
	EngineInCluster                              Cost
	MVCCGC, ClusterGC                            Cost
	// ReadsPerRound is the cluster's linearizable reads per ReadIndex
	// round (NaN without reads or rounds): a round's fixed cost is shared
	// by its reads, and a faster engine lets more reads wait for each
	// round, so a slower engine pays more of that same code per read.
	ReadsPerRound Cost
	// SyncsPerOp is the cluster's raft WAL fdatasyncs (every node) per
	// acknowledged op (NaN where not recorded): the writes' batching. Each
	// WAL sync is a Ready round on every node, whose fixed cost its ops
	// share; on a shared 2-core machine the batching of one configuration
	// flips from run to run (measured 2026-12-05, 3-node puts at 16
	// clients: 0.445–0.458 syncs per op in some runs and 0.515–0.529 in the
	// others of the same engine, with CPU per op 68–76 vs 82–98 µs).
	SyncsPerOp Cost
	// Judged is what the check compares: OverheadOutside when Attributed,
	// else OverheadCPU; for writes with the batching recorded, at the
	// check's common batching (see ParityCheck.BatchSlope).
	Judged Cost
	// MVCCRuns and ClusterRuns count the repeats behind the figures.
	MVCCRuns, ClusterRuns int
}

// Cost is a mean over repeats and the half-width of its 95% confidence
// interval (NaN with fewer than two repeats).
type Cost struct {
	Mean, Half float64
}

func costOf(values []float64) Cost {
	mean, _, hi := stats.MeanCI(values)
	if len(values) < 2 {
		return Cost{Mean: mean, Half: math.NaN()}
	}
	return Cost{Mean: mean, Half: hi - mean}
}

// minus returns c − k·m, its interval combining both (independent runs).
func (c Cost) minus(k float64, m Cost) Cost {
	return Cost{Mean: c.Mean - k*m.Mean, Half: math.Hypot(c.Half, k*m.Half)}
}

func (c Cost) String() string {
	if math.IsNaN(c.Half) {
		return num(c.Mean)
	}
	return num(c.Mean) + " ± " + num(c.Half)
}

// parityKey locates the runs of one cell of the parity table.
type parityKey struct {
	group, engine, layer string
	nodes                int
}

// parityIndex holds a set's runs by group, engine, layer and nodes, with
// the groups and engines in the order the set's points list them.
type parityIndex struct {
	groups, engines []string
	nodes           map[string][]int // group → cluster sizes run
	runs            map[parityKey][]Run
}

// parityGroup is what a parity check holds equal: every swept value but
// engine, layer and nodes, else the workload's name.
func parityGroup(r Run) string {
	var parts []string
	for _, p := range r.Params {
		if p.Name != "engine" && p.Name != "layer" && p.Name != "nodes" {
			parts = append(parts, p.Name+"="+p.Value)
		}
	}
	if len(parts) == 0 {
		return "workload=" + r.Result.Config.Workload.Name
	}
	return strings.Join(parts, " ")
}

func indexParity(s *Set) parityIndex {
	ix := parityIndex{nodes: map[string][]int{}, runs: map[parityKey][]Run{}}
	for _, p := range s.Points() {
		for _, r := range p.Runs {
			c := r.Result.Config
			g := parityGroup(r)
			if !slices.Contains(ix.groups, g) {
				ix.groups = append(ix.groups, g)
			}
			if !slices.Contains(ix.engines, c.Engine) {
				ix.engines = append(ix.engines, c.Engine)
			}
			if c.Layer == "cluster" && !slices.Contains(ix.nodes[g], c.Nodes) {
				ix.nodes[g] = append(ix.nodes[g], c.Nodes)
				sort.Ints(ix.nodes[g])
			}
			k := parityKey{group: g, engine: c.Engine, layer: c.Layer, nodes: c.Nodes}
			ix.runs[k] = append(ix.runs[k], r)
		}
	}
	return ix
}

// ComputeParity returns the parity checks of s, or nil when no engine ran
// a workload on both the mvcc and the cluster layer.
func ComputeParity(s *Set) *Parity {
	ix := indexParity(s)
	p := &Parity{}
	for _, g := range ix.groups {
		for _, n := range ix.nodes[g] {
			if c, ok := ix.check(g, n); ok {
				p.Checks = append(p.Checks, c)
			}
		}
	}
	if len(p.Checks) == 0 {
		return nil
	}
	p.Status = overallStatus(p.Checks)
	return p
}

func overallStatus(cs []ParityCheck) string {
	rank := map[string]int{ParityNA: 0, ParityPass: 1, ParityNotComparable: 2, ParityInconclusive: 2, ParityFail: 3}
	status := ParityNA
	for _, c := range cs {
		if rank[c.Status] > rank[status] {
			status = c.Status
		}
	}
	return status
}

// check builds the rows of group g at n nodes for every engine that ran
// both layers, and judges them.
func (ix parityIndex) check(g string, n int) (ParityCheck, bool) {
	c := ParityCheck{Group: g, Nodes: n}
	var ops []string
	var clusterRuns [][]Run // per row
	for _, e := range ix.engines {
		mv := ix.runs[parityKey{group: g, engine: e, layer: "mvcc", nodes: 1}]
		cl := ix.runs[parityKey{group: g, engine: e, layer: "cluster", nodes: n}]
		if len(mv) == 0 || len(cl) == 0 {
			continue
		}
		c.Rows = append(c.Rows, parityRow(e, n, mv, cl))
		clusterRuns = append(clusterRuns, cl)
		for _, op := range opKinds(cl) {
			if !slices.Contains(ops, op) {
				ops = append(ops, op)
			}
		}
	}
	if len(c.Rows) == 0 {
		return c, false
	}
	sort.Strings(ops)
	c.Op = strings.Join(ops, "+")
	adjustForBatching(&c, clusterRuns)
	judge(&c)
	return c, true
}

// adjustForBatching sets c.BatchSlope and each row's Judged to its overhead
// at the check's mean batching, when every row's runs recorded their WAL
// syncs, are writes, and number at least 3 per engine, and the batching
// varied within engines (an analysis of covariance: within each engine,
// overhead = a_engine + slope × syncs per op, one slope for all). The
// interval of an adjusted overhead is the fit's: the residual variance
// over N − engines − 1 degrees of freedom, for the engine's mean and the
// slope's share, combined with the subtracted mvcc cost's.
func adjustForBatching(c *ParityCheck, clusterRuns [][]Run) {
	if len(c.Rows) < 2 {
		return
	}
	type obs struct{ x, y float64 }
	groups := make([][]obs, len(c.Rows))
	var all []float64
	for i, r := range c.Rows {
		per := outsidePerOp
		if !r.Attributed {
			per = cpuPerOp
		}
		mvcc := r.MVCCOutside.Mean
		if !r.Attributed {
			mvcc = r.MVCCCPU.Mean
		}
		for _, run := range clusterRuns[i] {
			x, y := syncsPerOp(run), per(run)
			if math.IsNaN(x) || x <= 0 || math.IsNaN(y) || writeShare([]Run{run}) == 0 {
				return // reads, or not recorded: nothing to adjust for
			}
			groups[i] = append(groups[i], obs{x, y - r.Replicas*mvcc})
			all = append(all, x)
		}
		if len(groups[i]) < 3 {
			return
		}
	}
	grand := mean(all)
	var sxx, sxy float64
	means := make([]obs, len(groups))
	for i, g := range groups {
		var xs, ys []float64
		for _, o := range g {
			xs, ys = append(xs, o.x), append(ys, o.y)
		}
		means[i] = obs{mean(xs), mean(ys)}
		for _, o := range g {
			sxx += (o.x - means[i].x) * (o.x - means[i].x)
			sxy += (o.x - means[i].x) * (o.y - means[i].y)
		}
	}
	if sxx <= 0 {
		return
	}
	slope := sxy / sxx
	var rss float64
	for i, g := range groups {
		for _, o := range g {
			e := o.y - means[i].y - slope*(o.x-means[i].x)
			rss += e * e
		}
	}
	df := len(all) - len(groups) - 1
	if df < 1 {
		return
	}
	s2, t := rss/float64(df), stats.TCritical95(df)
	c.BatchSlope = slope
	for i := range c.Rows {
		r := &c.Rows[i]
		d := means[i].x - grand
		half := t * math.Sqrt(s2*(1/float64(len(groups[i]))+d*d/sxx))
		mvccHalf := r.MVCCOutside.Half
		if !r.Attributed {
			mvccHalf = r.MVCCCPU.Half
		}
		r.Judged = Cost{Mean: means[i].y - slope*d, Half: math.Hypot(half, r.Replicas*mvccHalf)}
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func parityRow(engine string, n int, mv, cl []Run) ParityRow {
	row := ParityRow{Engine: engine, Replicas: 1 + float64(n-1)*writeShare(cl), MVCCRuns: len(mv), ClusterRuns: len(cl)}
	row.MVCCCPU, row.ClusterCPU = costOf(perRun(mv, cpuPerOp)), costOf(perRun(cl, cpuPerOp))
	row.MVCCWall, row.ClusterWall = costOf(perRun(mv, meanLatency)), costOf(perRun(cl, meanLatency))
	row.WALSyncCPU = costOf(perRun(cl, walSyncCPUPerOp))
	if math.IsNaN(row.WALSyncCPU.Mean) {
		row.WALSyncCPU = Cost{}
	}
	row.OverheadCPU = row.ClusterCPU.minus(row.Replicas, row.MVCCCPU)
	row.OverheadWall = row.ClusterWall.minus(1, row.MVCCWall)
	row.Judged = row.OverheadCPU
	row.ReadsPerRound = costOf(perRun(cl, readsPerRound))
	row.SyncsPerOp = costOf(perRun(cl, syncsPerOp))
	mo, co := perRun(mv, outsidePerOp), perRun(cl, outsidePerOp)
	if len(mo) == len(mv) && len(co) == len(cl) {
		row.Attributed = true
		row.MVCCOutside, row.ClusterOutside = costOf(mo), costOf(co)
		row.MVCCGC, row.ClusterGC = costOf(perRun(mv, gcPerOp)), costOf(perRun(cl, gcPerOp))
		row.OverheadOutside = row.ClusterOutside.minus(row.Replicas, row.MVCCOutside)
		row.EngineInCluster = Cost{Mean: row.OverheadCPU.Mean - row.OverheadOutside.Mean, Half: math.NaN()}
		row.Judged = row.OverheadOutside
	}
	return row
}

// perRun returns f of every run where it is known.
func perRun(runs []Run, f func(Run) float64) []float64 {
	var out []float64
	for _, r := range runs {
		if v := f(r); !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

// outsidePerOp is the CPU per op outside the engine's code, NaN unless the
// run attributed its CPU.
func outsidePerOp(r Run) float64 {
	if v := r.Result.Summary.CPUOutsideEnginePerOpUs; v > 0 {
		return v
	}
	return math.NaN()
}

// gcPerOp is the GC work's CPU per op of a profiled run (0 when the
// profile caught none), NaN when the run was not profiled.
func gcPerOp(r Run) float64 {
	if r.Result.Summary.CPUOutsideEnginePerOpUs <= 0 {
		return math.NaN()
	}
	return r.Result.Summary.CPUGCPerOpUs
}

// syncsPerOp is the run's raft WAL fdatasyncs (every node) per op, NaN
// when the run recorded none.
func syncsPerOp(r Run) float64 {
	if r.Result.Fsyncs.WAL <= 0 || r.Result.Summary.Ops == 0 {
		return math.NaN()
	}
	return float64(r.Result.Fsyncs.WAL) / float64(r.Result.Summary.Ops)
}

// readsPerRound is the run's gets per ReadIndex round, NaN without either.
func readsPerRound(r Run) float64 {
	rounds := r.Result.Summary.ReadIndexRounds
	var reads int64
	for op, st := range r.Result.Ops {
		if isRead(op) {
			reads += st.Count
		}
	}
	if rounds <= 0 || reads == 0 {
		return math.NaN()
	}
	return float64(reads) / float64(rounds)
}

func cpuPerOp(r Run) float64 {
	if v := r.Result.Summary.CPUPerOpUs; v > 0 {
		return v
	}
	return math.NaN() // recorded before CPU time was measured
}

// walSyncCPUPerOp is the WAL fdatasyncs' CPU time per acknowledged op, in
// µs (NaN when the run did not record it).
func walSyncCPUPerOp(r Run) float64 {
	s := r.Result.Summary
	if r.Result.Fsyncs.WALSyncCPUS <= 0 || s.Ops == 0 {
		return math.NaN()
	}
	return r.Result.Fsyncs.WALSyncCPUS * 1e6 / float64(s.Ops)
}

func meanLatency(r Run) float64 {
	if r.Result.Summary.Ops == 0 {
		return math.NaN()
	}
	return r.Result.Summary.Latency.MeanUs
}

// isRead: op kinds one node serves; every other kind is applied by every
// node.
func isRead(op string) bool { return op == "get" || op == "range" }

// writeShare is the share of the runs' acknowledged ops that every node
// applies.
func writeShare(runs []Run) float64 {
	var writes, all int64
	for _, r := range runs {
		for op, st := range r.Result.Ops {
			all += st.Count
			if !isRead(op) {
				writes += st.Count
			}
		}
	}
	if all == 0 {
		return 0
	}
	return float64(writes) / float64(all)
}

func opKinds(runs []Run) []string {
	var out []string
	for _, r := range runs {
		for op, st := range r.Result.Ops {
			if st.Count > 0 && !slices.Contains(out, op) {
				out = append(out, op)
			}
		}
	}
	return out
}

// spread is max/min − 1 of vs, NaN unless every value is positive.
func spread(vs []float64) float64 {
	if len(vs) < 2 {
		return math.NaN()
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		if !(v > 0) {
			return math.NaN()
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return hi/lo - 1
}

// judge sets the check's spreads, status and verdict: n/a when no engine's
// overhead is measurably above 0 (1-node gets: a single node answers a
// ReadIndex at once); PASS when the overheads' spread is within the
// tolerance; otherwise FAIL when an engine's excess over the cheapest
// engine is real (the 95% interval of the excess excludes 0) and
// INCONCLUSIVE when it is within the noise.
func judge(c *ParityCheck) {
	var cpu, wall []float64
	for _, r := range c.Rows {
		cpu = append(cpu, r.Judged.Mean)
		wall = append(wall, r.OverheadWall.Mean)
	}
	c.Spread, c.WallSpread = spread(cpu), spread(wall)
	if len(c.Rows) < 2 {
		c.Status, c.Verdict = ParityNA, "one engine: nothing to compare"
		return
	}
	if !slices.ContainsFunc(c.Rows, measurable) {
		// A ratio of two overheads that are both noise around zero means
		// nothing, and more repeats would not change that.
		var parts []string
		for _, r := range c.Rows {
			parts = append(parts, fmt.Sprintf("%s %s", r.Engine, r.Judged))
		}
		c.Status = ParityNA
		c.Verdict = fmt.Sprintf("no measurable overhead to compare (%s µs/op: every 95%% CI includes 0)", strings.Join(parts, ", "))
		return
	}
	if lo, hi, ok := roundSharing(c.Rows); ok && hi.ReadsPerRound.Mean/lo.ReadsPerRound.Mean-1 > ParityTolerance {
		// Judged before the spread, whatever it is: a pass here would be
		// as much an accident of the sharing as a failure.
		c.Status = ParityNotComparable
		c.Verdict = fmt.Sprintf("the engines' reads shared ReadIndex rounds unlike (%s %s vs %s %s reads per round, overheads %s vs %s µs/op): a round's fixed cost is split over more reads where the engine serves them faster, so the same code costs a different amount per read; compare reads at 1 client, where each read has its own round (the parity preset does)",
			hi.Engine, hi.ReadsPerRound, lo.Engine, lo.ReadsPerRound, hi.Judged, lo.Judged)
		return
	}
	if lo, hi, ok := batching(c.Rows); ok && c.BatchSlope != 0 && hi.SyncsPerOp.Mean/lo.SyncsPerOp.Mean-1 > ParityTolerance {
		c.Status = ParityNotComparable
		c.Verdict = fmt.Sprintf("the engines' writes were batched unlike (%s %s vs %s %s WAL syncs per op): a Ready round's fixed cost is split over a different number of writes, further apart than the common-batching adjustment should bridge",
			hi.Engine, hi.SyncsPerOp, lo.Engine, lo.SyncsPerOp)
		return
	}
	if c.Spread <= ParityTolerance {
		c.Status = ParityPass
		c.Verdict = fmt.Sprintf("the engines' overheads agree within %.1f%% (≤ %.0f%%)", 100*c.Spread, 100*ParityTolerance)
		return
	}
	base, over := excesses(c.Rows)
	var real, noise []string
	for _, x := range over {
		if x.significant() {
			real = append(real, x.String())
		} else {
			noise = append(noise, x.String())
		}
	}
	if len(real) > 0 {
		c.Status, c.Verdict = ParityFail, "engine-specific cost: "+strings.Join(real, "; ")
		return
	}
	c.Status = ParityInconclusive
	c.Verdict = fmt.Sprintf("%s; within the noise (the 95%% CI of the excess includes 0", strings.Join(noise, "; "))
	if base.Judged.Half >= base.Judged.Mean {
		c.Verdict += fmt.Sprintf(", and %s's overhead, %s µs/op, is itself no larger than its CI", base.Engine, base.Judged)
	}
	c.Verdict += "): more repeats or a quieter machine will decide"
}

// batching returns the rows with the fewest and the most WAL syncs per op,
// ok when at least two rows know theirs.
func batching(rows []ParityRow) (lo, hi ParityRow, ok bool) {
	return extremes(rows, func(r ParityRow) float64 { return r.SyncsPerOp.Mean })
}

// roundSharing returns the rows with the fewest and the most reads per
// ReadIndex round, ok when at least two rows know theirs.
func roundSharing(rows []ParityRow) (lo, hi ParityRow, ok bool) {
	return extremes(rows, func(r ParityRow) float64 { return r.ReadsPerRound.Mean })
}

// extremes returns the rows with the least and the greatest f among those
// where f is known (positive), ok when there are at least two.
func extremes(rows []ParityRow, f func(ParityRow) float64) (lo, hi ParityRow, ok bool) {
	n := 0
	for _, r := range rows {
		m := f(r)
		if math.IsNaN(m) || m <= 0 {
			continue
		}
		if n == 0 || m < f(lo) {
			lo = r
		}
		if n == 0 || m > f(hi) {
			hi = r
		}
		n++
	}
	return lo, hi, n >= 2
}

// measurable: the row's overhead is above 0 beyond its 95% interval (or,
// with one repeat and no interval, above 0).
func measurable(r ParityRow) bool {
	o := r.Judged
	return o.Mean > 0 && (math.IsNaN(o.Half) || o.Mean-o.Half > 0)
}

// excessCost is how much more an engine pays outside the engine than the
// cheapest engine does.
type excessCost struct {
	engine, base       string
	overhead, baseCost Cost
	excess             Cost // overhead − base overhead
}

// significant: the excess's 95% interval lies above 0.
func (x excessCost) significant() bool {
	return !math.IsNaN(x.excess.Half) && x.excess.Mean-x.excess.Half > 0
}

func (x excessCost) String() string {
	rel := "n/a"
	if x.baseCost.Mean > 0 {
		rel = fmt.Sprintf("+%.0f%%", 100*(x.overhead.Mean/x.baseCost.Mean-1))
	}
	return fmt.Sprintf("%s pays %s µs/op more than %s outside the engine (overhead %s vs %s µs/op, %s)",
		x.engine, x.excess, x.base, num(x.overhead.Mean), num(x.baseCost.Mean), rel)
}

// excesses returns the engine with the smallest overhead and every engine
// whose overhead exceeds it by more than the tolerance (any excess when
// the smallest overhead is not positive).
func excesses(rows []ParityRow) (ParityRow, []excessCost) {
	base := rows[0]
	for _, r := range rows[1:] {
		if r.Judged.Mean < base.Judged.Mean {
			base = r
		}
	}
	limit := ParityTolerance * math.Max(base.Judged.Mean, 0)
	var out []excessCost
	for _, r := range rows {
		ex := r.Judged.minus(1, base.Judged)
		if r.Engine == base.Engine || ex.Mean <= limit {
			continue
		}
		out = append(out, excessCost{engine: r.Engine, base: base.Engine, overhead: r.Judged, baseCost: base.Judged, excess: ex})
	}
	return base, out
}

// Lines are one line per check, for a terminal.
func (p *Parity) Lines() []string {
	out := []string{"parity: " + p.Status}
	for _, c := range p.Checks {
		var es []string
		for _, r := range c.Rows {
			es = append(es, fmt.Sprintf("%s %s", r.Engine, num(r.Judged.Mean)))
		}
		out = append(out, fmt.Sprintf("  %s (%s) nodes=%d: CPU overhead µs/op %s: %s: %s",
			c.Group, c.Op, c.Nodes, strings.Join(es, ", "), c.Status, c.Verdict))
	}
	return out
}

// Finding is the parity verdict as one sentence of "what this shows".
func (p *Parity) Finding() string {
	switch p.Status {
	case ParityNA:
		return "**Parity n/a**: one engine, or no measurable overhead: nothing to compare."
	case ParityPass:
		return fmt.Sprintf("**Parity PASS**: in every check with a measurable overhead the CPU cost the cluster layer adds per op agrees across engines within %.0f%% (see Parity).", 100*ParityTolerance)
	}
	var parts []string
	for _, c := range p.Checks {
		if c.Status == p.Status {
			parts = append(parts, fmt.Sprintf("%s (%s) at %d node(s): %s", c.Group, c.Op, c.Nodes, c.Verdict))
		}
	}
	return fmt.Sprintf("**Parity %s**: %s.", p.Status, strings.Join(parts, "; "))
}

// Markdown renders the Parity section.
func (p *Parity) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Parity: the cost outside the engine\n\n**%s.** ", p.Status)
	b.WriteString("The cluster layer adds raft, the WAL, the client, the apply loop and the quota check to the mvcc layer's work: the same code for every engine, so it must cost the same. ")
	b.WriteString("*Cost per op* is process CPU time (user + sys) per acknowledged op, over the measured phase, its flush and the engine's settle (pebble's flushes and compactions the run caused), every in-process node included: it counts work, not waiting, so fsync latency and a busy neighbour move it far less than they move wall time; the check uses it. ")
	b.WriteString("*Overhead* = cluster − k × mvcc, with k the mvcc-layer work the cluster does per op (every node applies a write, one node serves a read: k = nodes for puts, 1 for gets). The raft WAL's fdatasync CPU (measured on the syncing thread, every node) is shown in its own column: the kernel work inside a sync could grow with the engine's writes to the same disk; it is part of the overhead. ")
	b.WriteString("Where every run profiled its CPU (`--attribute-cpu`, as the parity preset does), the overhead judged is the CPU *outside the engine's code* (samples without the engine's library or adapter on the stack, and without the runtime's GC work — its background workers and the mark assists, sweeping and write-barrier flushes it charges to whichever goroutine allocates — which follows every allocation of the process and is shown in its own column), cluster − k × mvcc: an engine whose own work costs more per op in the cluster than alone (caches shared with raft and the WAL, commits of another size) would otherwise be charged for it as harness cost; that difference, *engine work in the cluster beyond k × mvcc*, is shown in its own column. ")
	fmt.Fprintf(&b, "A check passes when the overhead's spread across engines, max/min − 1, is at most %.0f%%; beyond that it fails when an engine's excess over the cheapest engine is real (the 95%% CI of the excess excludes 0) and is inconclusive when the excess is within the run-to-run noise; a check where no engine's overhead is measurably above 0 is n/a; a check of reads whose engines shared ReadIndex rounds unlike (reads per round differing by more than %.0f%%) is not comparable, whatever its spread: the same round code is split over more reads on the faster engine. ", 100*ParityTolerance, 100*ParityTolerance)
	fmt.Fprintf(&b, "Writes share the raft WAL's syncs (a Ready round on every node), and on a shared machine the batching of one configuration flips from run to run; with at least 3 runs per engine, the judged write overhead is each engine's at the check's mean WAL syncs per op, by one slope fitted within each engine's runs (an analysis of covariance; the interval is the fit's), and writes whose engines' mean batching differs by more than %.0f%% are not comparable. ", 100*ParityTolerance)
	b.WriteString("Mean latency (wall time per op at the fixed client count; its overhead is cluster − mvcc) is shown but not judged: it is mostly waiting. Values are means over the repeats ± half the 95% CI (Student t).\n\n")
	b.WriteString("| check | nodes | result | CPU overhead spread | latency overhead spread | verdict |\n|---|---|---|---|---|---|\n")
	for _, c := range p.Checks {
		sp, wsp := pct(c.Spread), pct(c.WallSpread)
		if c.Status == ParityNA {
			sp, wsp = "—", "—" // a ratio of noise: quoting it would mislead
		}
		fmt.Fprintf(&b, "| %s (%s) | %d | **%s** | %s | %s | %s |\n", c.Group, c.Op, c.Nodes, c.Status, sp, wsp, c.Verdict)
	}
	b.WriteString("\n| check | nodes | engine | judged overhead µs/op | as measured µs/op | WAL syncs per op | slope: µs/op per WAL sync per op | reads per ReadIndex round |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range p.Checks {
		for _, r := range c.Rows {
			measured := r.OverheadCPU
			if r.Attributed {
				measured = r.OverheadOutside
			}
			slope := "—"
			if c.BatchSlope != 0 {
				slope = num(c.BatchSlope)
			}
			fmt.Fprintf(&b, "| %s (%s) | %d | %s | %s | %s | %s | %s | %s |\n",
				c.Group, c.Op, c.Nodes, r.Engine, r.Judged, measured, costOrDash(r.SyncsPerOp), slope, costOrDash(r.ReadsPerRound))
		}
	}
	b.WriteString("\n| check | nodes | engine | mvcc CPU µs/op | cluster CPU µs/op | WAL fdatasync CPU µs/op | k | overhead CPU µs/op | mvcc latency µs | cluster latency µs | latency overhead µs | runs mvcc/cluster |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range p.Checks {
		for _, r := range c.Rows {
			fmt.Fprintf(&b, "| %s (%s) | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |\n",
				c.Group, c.Op, c.Nodes, r.Engine, r.MVCCCPU, r.ClusterCPU, r.WALSyncCPU, num(r.Replicas), r.OverheadCPU,
				r.MVCCWall, r.ClusterWall, r.OverheadWall, r.MVCCRuns, r.ClusterRuns)
		}
	}
	if p.attributed() {
		b.WriteString("\nCPU outside the engine's code (profile attribution):\n\n| check | nodes | engine | mvcc outside-engine CPU µs/op | cluster outside-engine CPU µs/op | k | overhead outside the engine µs/op | engine work in the cluster beyond k × mvcc µs/op | GC work µs/op mvcc / cluster | reads per ReadIndex round |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range p.Checks {
			for _, r := range c.Rows {
				if !r.Attributed {
					continue
				}
				rpr := "—"
				if !math.IsNaN(r.ReadsPerRound.Mean) {
					rpr = r.ReadsPerRound.String()
				}
				fmt.Fprintf(&b, "| %s (%s) | %d | %s | %s | %s | %s | %s | %s | %s / %s | %s |\n",
					c.Group, c.Op, c.Nodes, r.Engine, r.MVCCOutside, r.ClusterOutside, num(r.Replicas), r.OverheadOutside, num(r.EngineInCluster.Mean), r.MVCCGC, r.ClusterGC, rpr)
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

// costOrDash is c, or "—" when it is not known.
func costOrDash(c Cost) string {
	if math.IsNaN(c.Mean) || c.Mean == 0 {
		return "—"
	}
	return c.String()
}

// attributed: some row was judged on profile attribution.
func (p *Parity) attributed() bool {
	for _, c := range p.Checks {
		if slices.ContainsFunc(c.Rows, func(r ParityRow) bool { return r.Attributed }) {
			return true
		}
	}
	return false
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}
