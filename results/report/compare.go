package report

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"etcdlab/internal/stats"
)

// Ratio is B/A for one metric.
type Ratio struct {
	Metric       Metric
	NA, NB       int
	MeanA, MeanB float64
	// Ratio is MeanB/MeanA; Lo and Hi bound its 95% confidence interval
	// (NaN without at least two repeats on each side).
	Ratio, Lo, Hi float64
	// Significant: the interval excludes 1.
	Significant bool
}

// RatioCI returns mean(b)/mean(a) and its 95% confidence interval on the
// log scale: se² = s_a²/(n_a·m_a²) + s_b²/(n_b·m_b²) (delta method), t from
// Welch–Satterthwaite degrees of freedom. Both sides need two values or
// more and positive means, else lo and hi are NaN. With no spread on
// either side the interval is the ratio itself.
func RatioCI(a, b []float64) (ratio, lo, hi float64) {
	ma, _, _ := stats.MeanCI(a)
	mb, _, _ := stats.MeanCI(b)
	ratio = mb / ma
	if ma == 0 {
		ratio = math.NaN()
	}
	if len(a) < 2 || len(b) < 2 || !(ma > 0) || !(mb > 0) {
		return ratio, math.NaN(), math.NaN()
	}
	va := variance(a, ma) / (float64(len(a)) * ma * ma)
	vb := variance(b, mb) / (float64(len(b)) * mb * mb)
	se := math.Sqrt(va + vb)
	if se == 0 {
		return ratio, ratio, ratio
	}
	df := (va + vb) * (va + vb) / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	t := stats.TCritical95(int(math.Floor(df)))
	return ratio, ratio * math.Exp(-t*se), ratio * math.Exp(t*se)
}

func variance(v []float64, mean float64) float64 {
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return ss / float64(len(v)-1)
}

// Compare returns B/A for every metric both sets have.
func Compare(a, b []Run) []Ratio {
	var out []Ratio
	for _, m := range Metrics(append(append([]Run(nil), a...), b...)) {
		va, vb := m.values(a), m.values(b)
		if len(va) == 0 || len(vb) == 0 {
			continue
		}
		r := Ratio{Metric: m, NA: len(va), NB: len(vb)}
		r.MeanA, _, _ = stats.MeanCI(va)
		r.MeanB, _, _ = stats.MeanCI(vb)
		r.Ratio, r.Lo, r.Hi = RatioCI(va, vb)
		r.Significant = !math.IsNaN(r.Lo) && (r.Lo > 1 || r.Hi < 1)
		out = append(out, r)
	}
	return out
}

// PrintComparison prints a table of ratios; '*' marks significant ones.
func PrintComparison(w io.Writer, nameA, nameB string, rs []Ratio) {
	fmt.Fprintf(w, "A = %s\nB = %s\nratio = mean B / mean A; 95%% CI from the repeats; * = interval excludes 1\n", nameA, nameB)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tunit\tn A\tmean A\tn B\tmean B\tB/A\t95% CI\t")
	for _, r := range rs {
		ci := "n/a (needs 2+ repeats each)"
		ratio := fmt.Sprintf("%.3f", r.Ratio)
		switch {
		case r.MeanA == 0 && r.MeanB == 0:
			ci, ratio = "(both 0)", "-"
		case r.MeanA == 0:
			ci, ratio = "(A is 0)", "n/a"
		case !math.IsNaN(r.Lo):
			ci = fmt.Sprintf("%.3f – %.3f", r.Lo, r.Hi)
		}
		mark := ""
		if r.Significant {
			mark = " *"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s%s\t%s\t\n", r.Metric.Label, r.Metric.Unit, r.NA, num(r.MeanA), r.NB, num(r.MeanB), ratio, mark, ci)
	}
	tw.Flush()
}

// num prints a value with about four significant digits.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// PointTable returns a header row and one row per point of s: for each
// metric path, the mean of the repeats ± half the 95% CI (or the mean alone
// with one repeat).
func PointTable(s *Set, paths []string) [][]string {
	ms := map[string]Metric{}
	for _, m := range Metrics(s.Runs) {
		ms[m.Path] = m
	}
	head := []string{"point", "n"}
	var use []Metric
	for _, p := range paths {
		if m, ok := ms[p]; ok {
			use = append(use, m)
			unit := ""
			if m.Unit != "" {
				unit = " (" + m.Unit + ")"
			}
			head = append(head, m.Label+unit)
		}
	}
	rows := [][]string{head}
	for _, p := range s.Points() {
		row := []string{p.Label(), fmt.Sprint(len(p.Runs))}
		for _, m := range use {
			mean, _, hi := stats.MeanCI(m.values(p.Runs))
			cell := num(mean)
			if len(p.Runs) > 1 && !math.IsNaN(hi) {
				cell += " ±" + num(hi-mean)
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	return rows
}
