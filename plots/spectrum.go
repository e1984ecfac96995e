package plots

import (
	"fmt"
	"math"
	"sort"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SpectrumLine is one latency distribution (one run, engine or op) on a
// percentile spectrum or CDF. Give either Hist, or Percentiles with
// LatencyMicros (e.g. the percentiles stored in a result summary).
type SpectrumLine struct {
	Label string

	// Hist is the full distribution. It is only read.
	Hist *hdrhistogram.Histogram
	// HistUnit is the duration of one histogram value. Default (0): one
	// microsecond, etcdlab's recording unit.
	HistUnit time.Duration

	// Percentiles (each in [0,100)) and the latency at each, in
	// microseconds; used when Hist is nil. Order does not matter.
	Percentiles   []float64
	LatencyMicros []float64
}

// spectrumStep is the x resolution of a spectrum drawn from a histogram:
// 100 points per decade of nines.
const spectrumStep = 0.01

// percentilePoints returns (percentile, µs) pairs for the line, sorted by
// percentile, ready for either figure.
func (l SpectrumLine) percentilePoints() ([]pctPoint, error) {
	if l.Hist != nil {
		n := l.Hist.TotalCount()
		if n == 0 {
			return nil, fmt.Errorf("%w: line %q: empty histogram", ErrNoData, l.Label)
		}
		scale, err := l.microsPerValue()
		if err != nil {
			return nil, err
		}
		// Beyond p = 1−1/n the histogram only repeats its maximum; stop there
		// rather than draw a flat "tail" that was never measured.
		xmax := math.Min(maxSpectrumX, math.Log10(float64(n)))
		var pts []pctPoint
		for i := 0; ; i++ {
			x := float64(i) * spectrumStep
			last := x >= xmax
			if last {
				x = xmax
			}
			p := spectrumP(x)
			v := l.Hist.ValueAtQuantile(p)
			if p == 0 {
				// hdrhistogram-go answers quantile 0 with the first bucket's
				// value (0) whether or not it holds counts. p0 is the smallest
				// sample, read like every other point as the top of its
				// bucket: the 1/n quantile.
				v = l.Hist.ValueAtQuantile(100 / float64(n))
			}
			pts = append(pts, pctPoint{p, float64(v) * scale})
			if last {
				break
			}
		}
		return pts, nil
	}
	if len(l.Percentiles) == 0 && len(l.LatencyMicros) == 0 {
		return nil, fmt.Errorf("%w: line %q: neither a histogram nor percentiles", ErrNoData, l.Label)
	}
	if len(l.Percentiles) != len(l.LatencyMicros) {
		return nil, fmt.Errorf("%w: line %q: %d percentiles but %d latencies",
			ErrBadInput, l.Label, len(l.Percentiles), len(l.LatencyMicros))
	}
	pts := make([]pctPoint, len(l.Percentiles))
	for i, p := range l.Percentiles {
		v := l.LatencyMicros[i]
		if !(p >= 0 && p < 100) {
			return nil, fmt.Errorf("%w: line %q: percentile %v outside [0,100)", ErrBadInput, l.Label, p)
		}
		if !finite(v) || v < 0 {
			return nil, fmt.Errorf("%w: line %q: latency %v at p%v", ErrBadInput, l.Label, v, p)
		}
		pts[i] = pctPoint{p, v}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].p < pts[j].p })
	return pts, nil
}

func (l SpectrumLine) microsPerValue() (float64, error) {
	switch {
	case l.HistUnit == 0:
		return 1, nil
	case l.HistUnit < 0:
		return 0, fmt.Errorf("%w: line %q: negative histogram unit %v", ErrBadInput, l.Label, l.HistUnit)
	}
	return float64(l.HistUnit) / float64(time.Microsecond), nil
}

type pctPoint struct{ p, micros float64 }

// collectLines validates the common inputs of the spectrum and CDF.
func collectLines(title string, lines []SpectrumLine, opts LatencyOptions) ([][]pctPoint, latencyUnit, error) {
	if err := checkTitle(title); err != nil {
		return nil, latencyUnit{}, err
	}
	if err := opts.Validate(); err != nil {
		return nil, latencyUnit{}, err
	}
	if len(lines) == 0 {
		return nil, latencyUnit{}, fmt.Errorf("%w: no lines", ErrNoData)
	}
	all := make([][]pctPoint, len(lines))
	maxMicros := 0.0
	for i, l := range lines {
		if l.Label == "" {
			return nil, latencyUnit{}, fmt.Errorf("%w: line %d has no label", ErrBadInput, i)
		}
		pts, err := l.percentilePoints()
		if err != nil {
			return nil, latencyUnit{}, err
		}
		for _, pt := range pts {
			if opts.LogScale && pt.micros <= 0 {
				return nil, latencyUnit{}, fmt.Errorf("%w: line %q: latency %v µs at p%v cannot be drawn on a log scale",
					ErrBadInput, l.Label, pt.micros, pt.p)
			}
			maxMicros = math.Max(maxMicros, pt.micros)
		}
		all[i] = pts
	}
	unit, fixed, _ := parseUnit(opts.Unit)
	if !fixed {
		unit = pickUnit(maxMicros)
	}
	return all, unit, nil
}

// PercentileSpectrum draws latency against percentile, the x axis spaced by
// 1/(1−p) on a log scale from p0 to p99.99, one line per entry of lines. The
// title should name the op (e.g. "put latency spectrum, 3 nodes").
func PercentileSpectrum(title string, lines []SpectrumLine, opts LatencyOptions) (*plot.Plot, error) {
	all, unit, err := collectLines(title, lines, opts)
	if err != nil {
		return nil, err
	}
	p := newPlot(title, "percentile (%, spaced by 1/(1−p))", "latency ("+unit.name+")")
	p.X.Tick.Marker = percentileTicks
	if opts.LogScale {
		setLogY(p)
	}
	p.Add(plotter.NewGrid())
	cs := newColorer(opts.Style)
	for i, pts := range all {
		xys := make(plotter.XYs, len(pts))
		for j, pt := range pts {
			xys[j] = plotter.XY{X: spectrumX(pt.p), Y: pt.micros / unit.micros}
		}
		ln, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("%w: line %q: %v", ErrBadInput, lines[i].Label, err)
		}
		lk := cs.look(lines[i].Label)
		ln.LineStyle = lineStyle(lk, vg.Points(1.5))
		p.Add(ln)
		if sc := pointMarks(lines[i], xys, lk); sc != nil {
			p.Add(sc)
			p.Legend.Add(lines[i].Label, ln, sc)
		} else {
			p.Legend.Add(lines[i].Label, ln)
		}
	}
	p.X.Min = 0
	if p.X.Max < 1 {
		p.X.Max = 1 // keep the p0–p90 decade visible even for tiny samples
	}
	finishLatencyAxis(&p.Y, opts.LogScale)
	return p, nil
}

// CDF draws, for each line, the share of operations whose latency is at or
// below x. Histograms are drawn bucket by bucket as a step function;
// percentile lists as straight segments between the given points.
func CDF(title string, lines []SpectrumLine, opts LatencyOptions) (*plot.Plot, error) {
	all, unit, err := collectLines(title, lines, opts)
	if err != nil {
		return nil, err
	}
	p := newPlot(title, "latency ("+unit.name+")", "operations at or below latency (%)")
	if opts.LogScale {
		setLogX(p)
	}
	p.Add(plotter.NewGrid())
	cs := newColorer(opts.Style)
	for i, l := range lines {
		var xys plotter.XYs
		step := false
		if l.Hist != nil {
			scale, _ := l.microsPerValue() // validated by collectLines
			xys = histCDF(l.Hist, scale/unit.micros, opts.LogScale)
			step = true
		} else {
			for _, pt := range all[i] {
				xys = append(xys, plotter.XY{X: pt.micros / unit.micros, Y: pt.p})
			}
		}
		ln, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("%w: line %q: %v", ErrBadInput, l.Label, err)
		}
		if step {
			ln.StepStyle = plotter.PostStep
		}
		lk := cs.look(l.Label)
		ln.LineStyle = lineStyle(lk, vg.Points(1.5))
		p.Add(ln)
		if sc := pointMarks(l, xys, lk); sc != nil {
			p.Add(sc)
			p.Legend.Add(l.Label, ln, sc)
		} else {
			p.Legend.Add(l.Label, ln)
		}
	}
	p.Y.Min, p.Y.Max = 0, 100
	p.Y.Tick.Marker = plot.ConstantTicks{
		{Value: 0, Label: "0"}, {Value: 25, Label: "25"}, {Value: 50, Label: "50"},
		{Value: 75, Label: "75"}, {Value: 90, Label: "90"}, {Value: 100, Label: "100"},
	}
	finishLatencyAxis(&p.X, opts.LogScale)
	return p, nil
}

// histCDF returns the cumulative share (in %) at the top of every non-empty
// bucket, starting at 0 at the bottom of the first one.
func histCDF(h *hdrhistogram.Histogram, scale float64, logScale bool) plotter.XYs {
	total := float64(h.TotalCount())
	var xys plotter.XYs
	var cum int64
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		if xys == nil {
			from := float64(b.From) * scale
			if logScale && from <= 0 {
				from = float64(b.To) * scale / 2
			}
			xys = append(xys, plotter.XY{X: from, Y: 0})
		}
		cum += b.Count
		xys = append(xys, plotter.XY{X: float64(b.To) * scale, Y: 100 * float64(cum) / total})
	}
	return xys
}

// finishLatencyAxis pads a latency axis: from 0 on a linear scale (so lines
// are compared against zero, not against each other), a little margin on a
// log scale.
func finishLatencyAxis(a *plot.Axis, logScale bool) {
	if logScale {
		padLogRange(a)
		return
	}
	startAtZero(a)
}

// pointMarks marks the measured points of a line given as a percentile list:
// between them the line is only an interpolation, and the reader should see
// where the data is. Histogram lines are dense and get no marks.
func pointMarks(l SpectrumLine, xys plotter.XYs, lk lineLook) *plotter.Scatter {
	if l.Hist != nil {
		return nil
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return nil // the line itself was built from the same points
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: lk.color, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
	return sc
}
