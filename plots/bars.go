package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"etcdlab/internal/stats"
)

// Bar is one configuration's value in one group, measured once per repeat;
// its height is the mean and its error bar the 95% confidence interval (with
// at least two repeats). Groups are laid out along x and Labels side by side
// within a group, both in order of first appearance, so the caller controls
// the order. A (Group, Label) pair may appear once.
type Bar struct {
	Group  string
	Label  string
	Values []float64
}

// BarChart describes a grouped bar chart of one metric.
type BarChart struct {
	Title string
	// Group names what the groups are (x axis label), e.g. "workload".
	Group string
	// Metric and Unit label the y axis, e.g. "throughput", "ops/s".
	Metric, Unit string
	Bars         []Bar
	// Style pins the engines' colors. Default: none pinned.
	Style Style
}

// bars draws rectangles in data coordinates, so that error bars (placed in
// data coordinates too) sit exactly on their bar whatever the figure size.
type bars struct {
	x0, x1, y []float64
	color     color.Color
	outline   draw.LineStyle
}

func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i := range b.y {
		lo, hi := math.Min(0, b.y[i]), math.Max(0, b.y[i])
		pts := []vg.Point{
			{X: trX(b.x0[i]), Y: trY(lo)}, {X: trX(b.x0[i]), Y: trY(hi)},
			{X: trX(b.x1[i]), Y: trY(hi)}, {X: trX(b.x1[i]), Y: trY(lo)},
		}
		c.FillPolygon(b.color, c.ClipPolygonXY(pts))
		pts = append(pts, pts[0])
		c.StrokeLines(b.outline, c.ClipLinesXY(pts)...)
	}
}

func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), 0, 0
	for i := range b.y {
		xmin, xmax = math.Min(xmin, b.x0[i]), math.Max(xmax, b.x1[i])
		ymin, ymax = math.Min(ymin, b.y[i]), math.Max(ymax, b.y[i])
	}
	return
}

func (b *bars) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y},
		{X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y},
	}
	c.FillPolygon(b.color, pts)
	c.StrokeLines(b.outline, append(pts, pts[0]))
}

// groupWidth is the share of the distance between groups the bars fill.
const groupWidth = 0.8

// Bars draws a grouped bar chart: one group per distinct Group, one colored
// bar per Label within it (engine labels keep their engine color).
func Bars(bc BarChart) (*plot.Plot, error) {
	if err := checkTitle(bc.Title); err != nil {
		return nil, err
	}
	if bc.Metric == "" || bc.Group == "" {
		return nil, fmt.Errorf("%w: bars %q: metric and group axis must be named", ErrBadInput, bc.Title)
	}
	if len(bc.Bars) == 0 {
		return nil, fmt.Errorf("%w: bars %q have no bars", ErrNoData, bc.Title)
	}
	if err := bc.Style.Validate(); err != nil {
		return nil, err
	}
	var groups, labels []string
	gIdx, lIdx := map[string]int{}, map[string]int{}
	type key struct{ g, l int }
	seen := map[key]bool{}
	for _, b := range bc.Bars {
		if b.Label == "" {
			return nil, fmt.Errorf("%w: bars %q: bar in group %q has no label", ErrBadInput, bc.Title, b.Group)
		}
		if len(b.Values) == 0 {
			return nil, fmt.Errorf("%w: bars %q: %q/%q has no values", ErrNoData, bc.Title, b.Group, b.Label)
		}
		for _, v := range b.Values {
			if !finite(v) {
				return nil, fmt.Errorf("%w: bars %q: %q/%q: value %v", ErrBadInput, bc.Title, b.Group, b.Label, v)
			}
		}
		if _, ok := gIdx[b.Group]; !ok {
			gIdx[b.Group] = len(groups)
			groups = append(groups, b.Group)
		}
		if _, ok := lIdx[b.Label]; !ok {
			lIdx[b.Label] = len(labels)
			labels = append(labels, b.Label)
		}
		k := key{gIdx[b.Group], lIdx[b.Label]}
		if seen[k] {
			return nil, fmt.Errorf("%w: bars %q: %q/%q appears twice", ErrBadInput, bc.Title, b.Group, b.Label)
		}
		seen[k] = true
	}

	p := newPlot(bc.Title, bc.Group, axisLabel(bc.Metric, bc.Unit))
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil // vertical grid lines would cut through bars
	p.Add(grid)
	width := groupWidth / float64(len(labels))
	cs := newColorer(bc.Style)
	perLabel := make([]*bars, len(labels))
	var errs struct {
		plotter.XYs
		plotter.YErrors
	}
	var ns []int
	for _, b := range bc.Bars {
		ns = append(ns, len(b.Values))
		li := lIdx[b.Label]
		if perLabel[li] == nil {
			lk := cs.look(b.Label)
			perLabel[li] = &bars{color: lk.color, outline: draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)}}
		}
		center := float64(gIdx[b.Group]) - groupWidth/2 + width*(float64(li)+0.5)
		m, lo, hi := stats.MeanCI(b.Values)
		bl := perLabel[li]
		bl.x0 = append(bl.x0, center-width*0.45)
		bl.x1 = append(bl.x1, center+width*0.45)
		bl.y = append(bl.y, m)
		if len(b.Values) > 1 {
			errs.XYs = append(errs.XYs, plotter.XY{X: center, Y: m})
			errs.YErrors = append(errs.YErrors, struct{ Low, High float64 }{m - lo, hi - m})
		}
	}
	for i, bl := range perLabel {
		p.Add(bl)
		p.Legend.Add(labels[i], bl)
	}
	if len(errs.XYs) > 0 {
		eb, err := plotter.NewYErrorBars(errs)
		if err != nil {
			return nil, fmt.Errorf("%w: bars %q: %v", ErrBadInput, bc.Title, err)
		}
		eb.LineStyle = draw.LineStyle{Color: color.Black, Width: vg.Points(1)}
		eb.CapWidth = vg.Points(5)
		p.Add(eb)
	}
	if note := ciNote(ns); note != "" {
		p.Legend.Add(note)
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	startAtZero(&p.Y)
	p.Y.Max += (p.Y.Max - p.Y.Min) * 0.05
	return p, nil
}
