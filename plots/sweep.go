package plots

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"etcdlab/internal/stats"
)

// SweepPoint is one engine at one parameter value, with the metric measured
// once per repeat. Points with the same Engine and X are merged.
type SweepPoint struct {
	Engine string
	X      float64
	Values []float64
}

// Sweep describes a sweep curve: Param against Metric.
type Sweep struct {
	Title string
	// Param and ParamUnit label the x axis, e.g. "snapshot-count" and ""
	// (a count has no unit), or "value size" and "bytes".
	Param, ParamUnit string
	// Metric and MetricUnit label the y axis, e.g. "p99 put latency" and
	// "ms", "throughput" and "ops/s", "write amplification" and "×".
	Metric, MetricUnit string
	// LogX spaces the parameter logarithmically (for 1e3, 1e4, 1e5 …).
	LogX bool
	// ZeroY starts the y axis at zero. Default false: the axis fits the
	// data, which suits metrics far from zero.
	ZeroY  bool
	Points []SweepPoint
	// Style pins the engines' colors. Default: none pinned.
	Style Style
}

func axisLabel(name, unit string) string {
	if unit == "" {
		return name
	}
	return name + " (" + unit + ")"
}

// SweepCurve draws one line per engine (sorted by name) through the mean of
// the repeats at each parameter value, with a 95% confidence interval bar
// where there are at least two repeats (see MeanCI).
func SweepCurve(s Sweep) (*plot.Plot, error) {
	if err := checkTitle(s.Title); err != nil {
		return nil, err
	}
	if s.Param == "" || s.Metric == "" {
		return nil, fmt.Errorf("%w: sweep %q: parameter and metric must be named", ErrBadInput, s.Title)
	}
	if len(s.Points) == 0 {
		return nil, fmt.Errorf("%w: sweep %q has no points", ErrNoData, s.Title)
	}
	if err := s.Style.Validate(); err != nil {
		return nil, err
	}
	byEngine := map[string]map[float64][]float64{}
	for _, pt := range s.Points {
		if pt.Engine == "" {
			return nil, fmt.Errorf("%w: sweep %q: point at x=%v has no engine", ErrBadInput, s.Title, pt.X)
		}
		if !finite(pt.X) || s.LogX && pt.X <= 0 {
			return nil, fmt.Errorf("%w: sweep %q: %s: parameter value %v", ErrBadInput, s.Title, pt.Engine, pt.X)
		}
		if len(pt.Values) == 0 {
			return nil, fmt.Errorf("%w: sweep %q: %s at x=%v has no values", ErrNoData, s.Title, pt.Engine, pt.X)
		}
		for _, v := range pt.Values {
			if !finite(v) {
				return nil, fmt.Errorf("%w: sweep %q: %s at x=%v: value %v", ErrBadInput, s.Title, pt.Engine, pt.X, v)
			}
		}
		if byEngine[pt.Engine] == nil {
			byEngine[pt.Engine] = map[float64][]float64{}
		}
		byEngine[pt.Engine][pt.X] = append(byEngine[pt.Engine][pt.X], pt.Values...)
	}
	engines := make([]string, 0, len(byEngine))
	for e := range byEngine {
		engines = append(engines, e)
	}
	sort.Strings(engines)

	p := newPlot(s.Title, axisLabel(s.Param, s.ParamUnit), axisLabel(s.Metric, s.MetricUnit))
	if s.LogX {
		setLogX(p)
	}
	p.Add(plotter.NewGrid())
	cs := newColorer(s.Style)
	var ns []int
	for _, e := range engines {
		xsMap := byEngine[e]
		xs := make([]float64, 0, len(xsMap))
		for x := range xsMap {
			xs = append(xs, x)
		}
		sort.Float64s(xs)
		var means plotter.XYs
		var bars struct {
			plotter.XYs
			plotter.YErrors
		}
		for _, x := range xs {
			m, lo, hi := stats.MeanCI(xsMap[x])
			ns = append(ns, len(xsMap[x]))
			means = append(means, plotter.XY{X: x, Y: m})
			if len(xsMap[x]) > 1 {
				bars.XYs = append(bars.XYs, plotter.XY{X: x, Y: m})
				bars.YErrors = append(bars.YErrors, struct{ Low, High float64 }{m - lo, hi - m})
			}
		}
		lk := cs.look(e)
		ln, sc, err := plotter.NewLinePoints(means)
		if err != nil {
			return nil, fmt.Errorf("%w: sweep %q: %s: %v", ErrBadInput, s.Title, e, err)
		}
		ln.LineStyle = lineStyle(lk, vg.Points(1.5))
		sc.GlyphStyle = draw.GlyphStyle{Color: lk.color, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		p.Add(ln, sc)
		if len(bars.XYs) > 0 {
			eb, err := plotter.NewYErrorBars(bars)
			if err != nil {
				return nil, fmt.Errorf("%w: sweep %q: %s: %v", ErrBadInput, s.Title, e, err)
			}
			eb.LineStyle = draw.LineStyle{Color: lk.color, Width: vg.Points(1)}
			eb.CapWidth = vg.Points(6)
			p.Add(eb)
		}
		p.Legend.Add(e, ln, sc)
	}
	if note := ciNote(ns); note != "" {
		p.Legend.Add(note)
	}
	if s.LogX {
		padLogRange(&p.X)
	} else {
		padLinear(&p.X)
	}
	if s.ZeroY {
		startAtZero(&p.Y)
		p.Y.Max += (p.Y.Max - p.Y.Min) * 0.05
	} else {
		padLinear(&p.Y)
	}
	return p, nil
}

// padLinear adds 5% on each side of a linear axis (and widens a single value
// to a drawable range).
func padLinear(a *plot.Axis) {
	span := a.Max - a.Min
	if span == 0 {
		span = math.Max(math.Abs(a.Max), 1)
	}
	nonNegative := a.Min >= 0
	a.Min -= span * 0.05
	a.Max += span * 0.05
	if nonNegative && a.Min < 0 {
		a.Min = 0 // a metric that cannot be negative gets no negative axis
	}
}
