package plots

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"etcdlab/internal/event"
)

// Timeline is one run's per-second series. Seconds are the interval starts
// (or ends, as the producer records them) since the start of measurement.
// P50Micros, P99Micros and Throughput, when given, have one value per second;
// a NaN latency marks a second without completed operations and leaves a gap
// in the line (an idle second has no latency, not a latency of zero).
type Timeline struct {
	Label      string
	Seconds    []float64
	P50Micros  []float64
	P99Micros  []float64
	Throughput []float64 // ops/s
	Events     []Event
	// Bands are spans of the run drawn as shaded areas: the scheduled
	// faults, from when each was injected to when it was lifted, and the
	// compactions and defrags, from start to end.
	Bands []Band
	// WatchLag is the watchers' largest lag per second (revisions behind
	// the leader) and WatchP99Micros their events' latency p99 (NaN: no
	// event that second); both nil for a run without watchers.
	WatchLag       []float64
	WatchP99Micros []float64
}

// Band is a span of a run, in seconds since the start of measurement.
type Band struct {
	Start, End float64
	// Kind groups bands in the legend ("kill-leader", "slow-disk", ...);
	// the timed events' kinds (event.Compaction, event.Defrag) have
	// fixed colors and are named as is, the others as faults.
	Kind string
	// Label is a detail (the schedule entry); not drawn.
	Label string
}

// Event is something the cluster did at a point of the run.
type Event struct {
	Second float64
	// Kind groups events in the legend: one of package event's names
	// (event.SnapshotTaken, event.LeaderChanged, ...), whose usual ones
	// have fixed looks, or any other word.
	Kind string
	// Label is a detail (e.g. "node 2", "NOSPACE"); not drawn, kept for
	// callers that print event tables next to the figure.
	Label string
}

// eventKinds fixes the look of the usual kinds, keyed by the names the
// layers emit (package event; TestEventLooksAreEventNames keeps them so);
// other kinds follow in order of first appearance with the remaining colors.
var eventKinds = []struct {
	kind  string
	color color.RGBA
	glyph draw.GlyphDrawer
}{
	{event.SnapshotTaken, rgb(0x2c, 0xa0, 0x2c), draw.TriangleGlyph{}},
	{event.LeaderChanged, rgb(0xd6, 0x27, 0x28), draw.CrossGlyph{}},
	{event.Compaction, rgb(0x94, 0x67, 0xbd), draw.BoxGlyph{}},
	{event.Defrag, rgb(0x8c, 0x56, 0x4b), draw.PyramidGlyph{}},
	{event.AlarmRaised, rgb(0x00, 0x00, 0x00), draw.RingGlyph{}},
	{event.SlowApply, rgb(0xe3, 0x77, 0xc2), draw.PlusGlyph{}},
}

// extraEventColors are the colors of the other kinds, in order; a run's
// timeline often has eight or more kinds (snapshots taken, sent, installed,
// leader changes, kills, restarts...), so there are as many colors as that
// and, past them, the glyph changes too (extraEventGlyphs).
var extraEventColors = []color.RGBA{
	rgb(0xbc, 0xbd, 0x22), rgb(0x17, 0xbe, 0xcf), rgb(0x39, 0x3b, 0x79), rgb(0x63, 0x79, 0x39),
	rgb(0xff, 0x7f, 0x0e), rgb(0x1f, 0x77, 0xb4), rgb(0x7f, 0x7f, 0x7f), rgb(0xad, 0x49, 0x4a),
	rgb(0x6b, 0x6e, 0xcf), rgb(0x8c, 0xa2, 0x52),
}

var extraEventGlyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.RingGlyph{}}

// extraEventLook is the color and glyph of the i-th other kind: the colors
// in turn, then the next glyph with the colors again, so the first
// len(colors) × len(glyphs) kinds all look different.
func extraEventLook(i int) (color.RGBA, draw.GlyphDrawer) {
	n := len(extraEventColors)
	return extraEventColors[i%n], extraEventGlyphs[(i/n)%len(extraEventGlyphs)]
}

// normKind makes "leader_change", "LeaderChange"-free spellings such as
// "leader-change" and "Leader change" one legend entry.
func normKind(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	k = strings.NewReplacer("_", " ", "-", " ").Replace(k)
	return strings.Join(strings.Fields(k), " ")
}

// eventMarks draws the events of one kind as thin vertical lines across the
// data area with a glyph at the top; the legend shows the glyph.
type eventMarks struct {
	seconds []float64
	line    draw.LineStyle
	glyph   draw.GlyphStyle
}

func (e *eventMarks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, s := range e.seconds {
		x := trX(s)
		if x < c.Min.X || x > c.Max.X {
			continue
		}
		c.StrokeLine2(e.line, x, c.Min.Y, x, c.Max.Y)
		c.DrawGlyphNoClip(e.glyph, vg.Point{X: x, Y: c.Max.Y - e.glyph.Radius})
	}
}

// DataRange widens only the x range; ±Inf for y leaves the y range to the data.
func (e *eventMarks) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, s := range e.seconds {
		xmin, xmax = math.Min(xmin, s), math.Max(xmax, s)
	}
	return xmin, xmax, math.Inf(1), math.Inf(-1)
}

func (e *eventMarks) Thumbnail(c *draw.Canvas) {
	mid := vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: (c.Min.Y + c.Max.Y) / 2}
	c.StrokeLine2(e.line, mid.X, c.Min.Y, mid.X, c.Max.Y)
	c.DrawGlyphNoClip(e.glyph, mid)
}

// eventLook is how one kind of event is drawn, and where.
type eventLook struct {
	kind    string // normalized, as the legend shows it
	color   color.RGBA
	glyph   draw.GlyphDrawer
	seconds []float64
}

// eventLooks groups the events of all timelines by kind, in a fixed order:
// the kinds with fixed looks first, then the others by first appearance.
func eventLooks(tls []Timeline) ([]eventLook, error) {
	bySeconds := map[string][]float64{}
	var unknown []string
	for _, tl := range tls {
		for _, ev := range tl.Events {
			if !finite(ev.Second) {
				return nil, fmt.Errorf("%w: timeline %q: event %q at second %v", ErrBadInput, tl.Label, ev.Kind, ev.Second)
			}
			k := normKind(ev.Kind)
			if k == "" {
				return nil, fmt.Errorf("%w: timeline %q: event at second %v has no kind", ErrBadInput, tl.Label, ev.Second)
			}
			if _, seen := bySeconds[k]; !seen && !isKnownKind(k) {
				unknown = append(unknown, k)
			}
			bySeconds[k] = append(bySeconds[k], ev.Second)
		}
	}
	var looks []eventLook
	for _, k := range eventKinds {
		if secs, ok := bySeconds[normKind(k.kind)]; ok {
			looks = append(looks, eventLook{normKind(k.kind), k.color, k.glyph, secs})
		}
	}
	for i, k := range unknown {
		c, g := extraEventLook(i)
		looks = append(looks, eventLook{k, c, g, bySeconds[k]})
	}
	return looks, nil
}

// addEvents draws the events of all timelines, one legend entry per kind in
// eventLooks' order.
func addEvents(p *plot.Plot, tls []Timeline) error {
	looks, err := eventLooks(tls)
	if err != nil {
		return err
	}
	for _, lk := range looks {
		secs := lk.seconds
		// Translucent, so dense events do not hide the data. NRGBA: a
		// premultiplied RGBA with a lowered alpha alone is a different color.
		lc := color.NRGBA{R: lk.color.R, G: lk.color.G, B: lk.color.B, A: 150}
		m := &eventMarks{
			seconds: secs,
			line:    draw.LineStyle{Color: lc, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}},
			glyph:   draw.GlyphStyle{Color: lk.color, Radius: vg.Points(3.5), Shape: lk.glyph},
		}
		p.Add(m)
		p.Legend.Add(fmt.Sprintf("%s (%d)", lk.kind, len(secs)), m)
	}
	return nil
}

var bandColors = []color.NRGBA{
	{R: 0xd6, G: 0x27, B: 0x28, A: 40}, {R: 0x1f, G: 0x77, B: 0xb4, A: 40}, {R: 0xff, G: 0x7f, B: 0x0e, A: 45},
	{R: 0x94, G: 0x67, B: 0xbd, A: 40}, {R: 0x2c, G: 0xa0, B: 0x2c, A: 40},
}

// bandMarks shades spans of the x axis across the data area.
type bandMarks struct {
	spans [][2]float64
	fill  color.NRGBA
}

func (b *bandMarks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, s := range b.spans {
		x0, x1 := max(trX(s[0]), c.Min.X), min(trX(s[1]), c.Max.X)
		if x1 <= x0 {
			continue
		}
		c.FillPolygon(b.fill, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
	}
}

// DataRange widens only the x range, as eventMarks does.
func (b *bandMarks) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, s := range b.spans {
		xmin, xmax = math.Min(xmin, s[0]), math.Max(xmax, s[1])
	}
	return xmin, xmax, math.Inf(1), math.Inf(-1)
}

func (b *bandMarks) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(b.fill, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}

// addBands shades the timelines' bands, one legend entry per kind in order
// of first appearance. Called before the lines are added, so they draw on
// top.
func addBands(p *plot.Plot, tls []Timeline) error {
	spans := map[string][][2]float64{}
	var kinds []string
	for _, tl := range tls {
		for _, b := range tl.Bands {
			if !finite(b.Start) || !finite(b.End) || b.End < b.Start {
				return fmt.Errorf("%w: timeline %q: band %q from %v to %v", ErrBadInput, tl.Label, b.Kind, b.Start, b.End)
			}
			k := normKind(b.Kind)
			if _, ok := spans[k]; !ok {
				kinds = append(kinds, k)
			}
			spans[k] = append(spans[k], [2]float64{b.Start, b.End})
		}
	}
	faults := 0
	for _, k := range kinds {
		spans[k] = mergeSpans(spans[k])
		if fill, ok := timedBandColor(k); ok {
			// A compaction or defrag: its kind's own color, named as is.
			m := &bandMarks{spans: spans[k], fill: fill}
			p.Add(m)
			p.Legend.Add(fmt.Sprintf("%s (%d)", k, len(spans[k])), m)
			continue
		}
		m := &bandMarks{spans: spans[k], fill: bandColors[faults%len(bandColors)]}
		faults++
		p.Add(m)
		p.Legend.Add("fault: "+k, m)
	}
	return nil
}

// mergeSpans sorts spans and joins those that overlap: a compaction runs on
// every member at once, and its bands would otherwise stack into a darker
// shade and count once per member.
func mergeSpans(spans [][2]float64) [][2]float64 {
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var out [][2]float64
	for _, sp := range spans {
		if n := len(out); n > 0 && sp[0] <= out[n-1][1] {
			out[n-1][1] = math.Max(out[n-1][1], sp[1])
			continue
		}
		out = append(out, sp)
	}
	return out
}

// timedBandColor is the band of a timed event's kind (event.Timed; k
// normalized), in its event marks' color (eventKinds), translucent.
func timedBandColor(k string) (color.NRGBA, bool) {
	switch k {
	case normKind(event.Compaction):
		return color.NRGBA{R: 0x94, G: 0x67, B: 0xbd, A: 55}, true
	case normKind(event.Defrag):
		return color.NRGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 55}, true
	}
	return color.NRGBA{}, false
}

// isKnownKind reports whether k (normalized) has a fixed look.
func isKnownKind(k string) bool {
	for _, e := range eventKinds {
		if normKind(e.kind) == k {
			return true
		}
	}
	return false
}

// checkTimelines validates the shape common to both timeline figures; need
// picks the series the figure draws.
func checkTimelines(title string, tls []Timeline, need func(Timeline) [][]float64, what string) error {
	if err := checkTitle(title); err != nil {
		return err
	}
	if len(tls) == 0 {
		return fmt.Errorf("%w: no timelines", ErrNoData)
	}
	for i, tl := range tls {
		if tl.Label == "" {
			return fmt.Errorf("%w: timeline %d has no label", ErrBadInput, i)
		}
		if len(tl.Seconds) == 0 {
			return fmt.Errorf("%w: timeline %q has no seconds", ErrNoData, tl.Label)
		}
		for j, s := range tl.Seconds {
			if !finite(s) {
				return fmt.Errorf("%w: timeline %q: second %v", ErrBadInput, tl.Label, s)
			}
			if j > 0 && s <= tl.Seconds[j-1] {
				return fmt.Errorf("%w: timeline %q: seconds not increasing (%v after %v)", ErrBadInput, tl.Label, s, tl.Seconds[j-1])
			}
		}
		for _, series := range need(tl) {
			if len(series) != len(tl.Seconds) {
				return fmt.Errorf("%w: timeline %q: %d seconds but %d %s values",
					ErrBadInput, tl.Label, len(tl.Seconds), len(series), what)
			}
		}
	}
	return nil
}

// segments splits a series at NaN values so gaps stay gaps.
func segments(xs, ys []float64, scale float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i := range xs {
		if math.IsNaN(ys[i]) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: xs[i], Y: ys[i] / scale})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// addSeries draws one series (possibly in several segments) and adds one
// legend entry for it. It reports whether anything was drawn.
func addSeries(p *plot.Plot, legend string, segs []plotter.XYs, style draw.LineStyle) (bool, error) {
	var first *plotter.Line
	for _, seg := range segs {
		ln, err := plotter.NewLine(seg)
		if err != nil {
			return false, fmt.Errorf("%w: %s: %v", ErrBadInput, legend, err)
		}
		ln.LineStyle = style
		p.Add(ln)
		if first == nil {
			first = ln
		}
		if len(seg) == 1 {
			// A lone second between gaps would be invisible as a line.
			sc, err := plotter.NewScatter(seg)
			if err != nil {
				return false, fmt.Errorf("%w: %s: %v", ErrBadInput, legend, err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: style.Color, Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}
			p.Add(sc)
		}
	}
	if first == nil {
		return false, nil
	}
	p.Legend.Add(legend, first)
	return true, nil
}

// latencySeries returns the latency series a timeline has: either may be
// left out, not both.
func latencySeries(t Timeline) [][]float64 {
	var out [][]float64
	for _, s := range [][]float64{t.P50Micros, t.P99Micros} {
		if s != nil {
			out = append(out, s)
		}
	}
	if out == nil {
		return [][]float64{nil} // reported as a length mismatch
	}
	return out
}

// LatencyOverTime draws p50 (dashed) and p99 (solid) latency per second for
// each timeline, with the timelines' events as vertical markers.
func LatencyOverTime(title string, tls []Timeline, opts LatencyOptions) (*plot.Plot, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := checkTimelines(title, tls, latencySeries, "latency"); err != nil {
		return nil, err
	}
	maxMicros := 0.0
	for _, tl := range tls {
		for _, s := range [][]float64{tl.P50Micros, tl.P99Micros} {
			for i, v := range s {
				if math.IsInf(v, 0) || v < 0 || opts.LogScale && v == 0 {
					return nil, fmt.Errorf("%w: timeline %q: latency %v µs at second %v (use NaN for a second without ops)",
						ErrBadInput, tl.Label, v, tl.Seconds[i])
				}
				if !math.IsNaN(v) {
					maxMicros = math.Max(maxMicros, v)
				}
			}
		}
	}
	unit, fixed, _ := parseUnit(opts.Unit)
	if !fixed {
		unit = pickUnit(maxMicros)
	}
	p := newPlot(title, "time since start (s)", "latency per second ("+unit.name+")")
	if opts.LogScale {
		setLogY(p)
	}
	p.Add(plotter.NewGrid())
	if err := addBands(p, tls); err != nil {
		return nil, err
	}
	cs := newColorer(opts.Style)
	drawn := false
	for _, tl := range tls {
		lk := cs.look(tl.Label)
		for _, q := range []struct {
			name   string
			ys     []float64
			dashes []vg.Length
			width  vg.Length
		}{
			{"p50", tl.P50Micros, []vg.Length{vg.Points(5), vg.Points(3)}, vg.Points(1.2)},
			{"p99", tl.P99Micros, nil, vg.Points(1.5)},
		} {
			if q.ys == nil {
				continue
			}
			style := draw.LineStyle{Color: lk.color, Width: q.width, Dashes: q.dashes}
			ok, err := addSeries(p, tl.Label+" "+q.name, segments(tl.Seconds, q.ys, unit.micros), style)
			if err != nil {
				return nil, err
			}
			drawn = drawn || ok
		}
	}
	if !drawn {
		return nil, fmt.Errorf("%w: no latency values in any timeline", ErrNoData)
	}
	if err := addEvents(p, tls); err != nil {
		return nil, err
	}
	finishLatencyAxis(&p.Y, opts.LogScale)
	eventHeadroom(&p.Y, opts.LogScale, tls)
	return p, nil
}

// eventHeadroom raises the top of the y axis when there are event glyphs, so
// they sit above the data rather than on a peak.
func eventHeadroom(a *plot.Axis, logScale bool, tls []Timeline) {
	for _, tl := range tls {
		if len(tl.Events) > 0 {
			if logScale {
				a.Max *= 1.5
			} else {
				a.Max += (a.Max - a.Min) * 0.08
			}
			return
		}
	}
}

// WatchLagOverTime draws the watchers' largest lag, in revisions behind the
// leader, per second for each timeline that has watchers, with the
// timelines' events as vertical markers.
func WatchLagOverTime(title string, tls []Timeline, style Style) (*plot.Plot, error) {
	return perSecondOverTime(title, tls, style, "largest watcher lag (revisions)", "watch lag",
		func(t Timeline) []float64 { return t.WatchLag })
}

// ThroughputOverTime draws completed operations per second for each
// timeline, with the timelines' events as vertical markers.
func ThroughputOverTime(title string, tls []Timeline, style Style) (*plot.Plot, error) {
	return perSecondOverTime(title, tls, style, "throughput (ops/s)", "throughput",
		func(t Timeline) []float64 { return t.Throughput })
}

// perSecondOverTime draws one non-negative per-second series of each
// timeline (what names it in errors), events as vertical markers.
func perSecondOverTime(title string, tls []Timeline, style Style, yLabel, what string, series func(Timeline) []float64) (*plot.Plot, error) {
	if err := style.Validate(); err != nil {
		return nil, err
	}
	if err := checkTimelines(title, tls, func(t Timeline) [][]float64 { return [][]float64{series(t)} }, what); err != nil {
		return nil, err
	}
	p := newPlot(title, "time since start (s)", yLabel)
	p.Add(plotter.NewGrid())
	if err := addBands(p, tls); err != nil {
		return nil, err
	}
	cs := newColorer(style)
	for _, tl := range tls {
		ys := series(tl)
		for i, v := range ys {
			if !finite(v) || v < 0 {
				return nil, fmt.Errorf("%w: timeline %q: %s %v at second %v", ErrBadInput, tl.Label, what, v, tl.Seconds[i])
			}
		}
		if _, err := addSeries(p, tl.Label, segments(tl.Seconds, ys, 1), lineStyle(cs.look(tl.Label), vg.Points(1.5))); err != nil {
			return nil, err
		}
	}
	if err := addEvents(p, tls); err != nil {
		return nil, err
	}
	startAtZero(&p.Y)
	eventHeadroom(&p.Y, false, tls)
	return p, nil
}
