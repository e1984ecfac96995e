package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Sentinel errors; figure functions wrap them with the detail.
var (
	// ErrNoData: nothing to draw (no lines, empty histograms, no points).
	ErrNoData = errors.New("plots: no data")
	// ErrBadInput: input that cannot be drawn honestly (empty title, NaN
	// where a value is required, mismatched lengths, bad options).
	ErrBadInput = errors.New("plots: bad input")
)

func rgb(r, g, b uint8) color.RGBA { return color.RGBA{R: r, G: g, B: b, A: 255} }

// Style is what the figures of one report share, so that a reader can follow
// an engine from figure to figure. The zero value is usable: no label is
// taken for an engine's, and lines take the palette colors in order.
//
// The engine names come from the caller, as data: plots sits at the end of
// the data flow (bench → results → plots) and draws from result files, and
// importing the registry (etcdlab/engines) would put the storage engines,
// pebble and bbolt, under every figure and every test of this package.
// Callers that import the registry pass engines.Names(); the registry stays
// the one place that lists engines.
type Style struct {
	// Engines are the engine names, in the registry's order. A label that
	// names exactly one of them (see EngineOf) is drawn in that engine's
	// color: the i-th engine takes the i-th of engineColors, so with the
	// registry's bbolt, memory, pebble they are blue, gray and orange; an
	// engine past them takes the next free palette color like any label.
	Engines []string
}

// engineColors are the engines' colors, by position in Style.Engines.
var engineColors = []color.RGBA{
	rgb(0x1f, 0x77, 0xb4), // blue
	rgb(0x7f, 0x7f, 0x7f), // gray
	rgb(0xff, 0x7f, 0x0e), // orange
}

// EnsureDefaults fills unset fields; the zero value is the default.
func (s *Style) EnsureDefaults() {}

// Validate reports every empty or repeated engine name.
func (s Style) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, e := range s.Engines {
		switch {
		case strings.TrimSpace(e) == "":
			errs = append(errs, fmt.Errorf("%w: style: engine %d has no name", ErrBadInput, i))
		case seen[e]:
			errs = append(errs, fmt.Errorf("%w: style: engine %q listed twice", ErrBadInput, e))
		}
		seen[e] = true
	}
	return errors.Join(errs...)
}

// engineColor is the color pinned to engine, and whether there is one.
func (s Style) engineColor(engine string) (color.RGBA, bool) {
	for i, e := range s.Engines {
		if e == engine && i < len(engineColors) {
			return engineColors[i], true
		}
	}
	return color.RGBA{}, false
}

// otherColors are handed to labels that name no engine (or whose engine
// color is already taken in the same figure), in order.
var otherColors = []color.RGBA{
	rgb(0x2c, 0xa0, 0x2c), // green
	rgb(0xd6, 0x27, 0x28), // red
	rgb(0x94, 0x67, 0xbd), // purple
	rgb(0x8c, 0x56, 0x4b), // brown
	rgb(0xe3, 0x77, 0xc2), // pink
	rgb(0xbc, 0xbd, 0x22), // olive
	rgb(0x17, 0xbe, 0xcf), // cyan
	rgb(0x39, 0x3b, 0x79), // navy
	rgb(0x63, 0x79, 0x39), // moss
	rgb(0x84, 0x3c, 0x39), // maroon
}

// dashes for lines beyond the palette, so two lines never look identical.
var dashCycle = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(2), vg.Points(2)},
	{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)},
}

// EngineOf returns the engine of s.Engines a label names, or "" if it names
// none or more than one. A label names an engine when one of its words
// (split at anything but letters and digits) is the engine's name,
// case-insensitively: "pebble", "pebble p99", "engine=pebble/nodes=3".
func (s Style) EngineOf(label string) string {
	words := strings.FieldsFunc(strings.ToLower(label), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	found := ""
	for _, e := range s.Engines {
		for _, w := range words {
			if w == strings.ToLower(e) {
				if found != "" && found != e {
					return ""
				}
				found = e
			}
		}
	}
	return found
}

// colorer assigns colors within one figure: the engine's color the first
// time an engine appears, otherwise the next free palette color.
type colorer struct {
	style   Style
	byLabel map[string]lineLook
	used    map[color.RGBA]bool
	next    int
}

type lineLook struct {
	color  color.RGBA
	dashes []vg.Length
}

func newColorer(style Style) *colorer {
	return &colorer{style: style, byLabel: map[string]lineLook{}, used: map[color.RGBA]bool{}}
}

func (c *colorer) look(label string) lineLook {
	if l, ok := c.byLabel[label]; ok {
		return l
	}
	var l lineLook
	if col, ok := c.style.engineColor(c.style.EngineOf(label)); ok && !c.used[col] {
		l.color = col
	} else {
		// Skip colors already taken by engines; after the palette wraps,
		// vary the dash pattern instead.
		for {
			i := c.next
			c.next++
			col := otherColors[i%len(otherColors)]
			round := i / len(otherColors)
			if round == 0 && c.used[col] {
				continue
			}
			l.color = col
			l.dashes = dashCycle[round%len(dashCycle)]
			break
		}
	}
	c.used[l.color] = true
	c.byLabel[label] = l
	return l
}

// latencyUnit is the unit a latency axis is drawn in.
type latencyUnit struct {
	name   string  // "µs", "ms", "s"
	micros float64 // microseconds per unit
}

var (
	unitMicros = latencyUnit{"µs", 1}
	unitMillis = latencyUnit{"ms", 1e3}
	unitSecs   = latencyUnit{"s", 1e6}
)

// parseUnit maps an option value to a unit; "" means choose from the data.
func parseUnit(s string) (latencyUnit, bool, error) {
	switch s {
	case "":
		return latencyUnit{}, false, nil
	case "us", "µs":
		return unitMicros, true, nil
	case "ms":
		return unitMillis, true, nil
	case "s":
		return unitSecs, true, nil
	}
	return latencyUnit{}, false, fmt.Errorf("%w: latency unit %q (want us, ms or s)", ErrBadInput, s)
}

// pickUnit chooses the unit in which the largest latency reads as a number
// below 1000.
func pickUnit(maxMicros float64) latencyUnit {
	switch {
	case maxMicros < 1e3:
		return unitMicros
	case maxMicros < 1e6:
		return unitMillis
	default:
		return unitSecs
	}
}

// LatencyOptions configure figures with a latency axis. The zero value is
// usable: linear axis, unit chosen from the data.
type LatencyOptions struct {
	// LogScale draws the latency axis on a log10 scale. Default false.
	// Non-positive latencies cannot be drawn on it and are an error.
	LogScale bool
	// Unit fixes the latency unit: "us" (or "µs"), "ms", "s". Default ""
	// picks from the largest latency drawn.
	Unit string
	// Style pins the engines' colors. Default: none pinned.
	Style Style
}

// EnsureDefaults fills unset fields; every default is the zero value today,
// kept so callers follow the project's Options pattern.
func (o *LatencyOptions) EnsureDefaults() {}

// Validate reports every problem with the options.
func (o LatencyOptions) Validate() error {
	_, _, err := parseUnit(o.Unit)
	return errors.Join(err, o.Style.Validate())
}

// newPlot returns a plot with the common look: title, readable fonts, plain
// tick labels. Save draws the legend to the right of the data area.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = 14
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.X.Label.TextStyle.Font.Size = 11
	p.Y.Label.TextStyle.Font.Size = 11
	p.X.Tick.Label.Font.Size = 10
	p.Y.Tick.Label.Font.Size = 10
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = 10
	p.Legend.ThumbnailWidth = vg.Points(22)
	p.Legend.Padding = vg.Points(3)
	p.X.Tick.Marker = plainTicks{}
	p.Y.Tick.Marker = plainTicks{}
	return p
}

func checkTitle(title string) error {
	if strings.TrimSpace(title) == "" {
		return fmt.Errorf("%w: empty title", ErrBadInput)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func lineStyle(l lineLook, width vg.Length) draw.LineStyle {
	return draw.LineStyle{Color: l.color, Width: width, Dashes: l.dashes}
}
