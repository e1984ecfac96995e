package plots

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// spectrumX maps a percentile p (0 ≤ p < 100) to the spectrum's x position
// log10(1/(1−p/100)): 0→0, 90→1, 99→2, 99.9→3, 99.99→4. Each decade of "nines"
// gets the same width, so the tail is as readable as the median.
func spectrumX(p float64) float64 { return -math.Log10(1 - p/100) }

// spectrumP is the inverse of spectrumX.
func spectrumP(x float64) float64 { return 100 * (1 - math.Pow(10, -x)) }

// maxSpectrumX is the right end of a spectrum: p99.99.
const maxSpectrumX = 4

// percentileTicks labels the spectrum's x axis in percentiles.
var percentileTicks = plot.TickerFunc(func(min, max float64) []plot.Tick {
	major := []struct {
		p     float64
		label string
	}{{0, "0"}, {50, "50"}, {90, "90"}, {99, "99"}, {99.9, "99.9"}, {99.99, "99.99"}}
	minor := []float64{25, 75, 95, 99.5, 99.95}
	var ts []plot.Tick
	for _, m := range major {
		ts = append(ts, plot.Tick{Value: spectrumX(m.p), Label: m.label})
	}
	for _, p := range minor {
		ts = append(ts, plot.Tick{Value: spectrumX(p)})
	}
	return ts
})

// logTicks labels a log axis: powers of ten, and 2 and 5 between them when
// the axis spans less than two decades (else a short axis shows one label).
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	if !(min > 0) || !(max > min) {
		return nil
	}
	lo := math.Floor(math.Log10(min))
	hi := math.Ceil(math.Log10(max))
	few := math.Log10(max/min) <= 2.5
	var ts []plot.Tick
	for e := lo; e <= hi; e++ {
		base := math.Pow(10, e)
		for i := 1; i < 10; i++ {
			v := base * float64(i)
			if v < min*0.999 || v > max*1.001 {
				continue
			}
			t := plot.Tick{Value: v}
			if i == 1 || few && (i == 2 || i == 5) {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// setLogY puts the y axis on a log10 scale.
func setLogY(p *plot.Plot) {
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
}

// setLogX puts the x axis on a log10 scale.
func setLogX(p *plot.Plot) {
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
}

// padLogRange widens a log axis slightly so the extreme points are not on the
// frame, and keeps a degenerate (single value) range drawable.
func padLogRange(a *plot.Axis) {
	if a.Min == a.Max {
		a.Min /= 2
		a.Max *= 2
		return
	}
	a.Min /= 1.1
	a.Max *= 1.1
}

// startAtZero makes a linear axis of non-negative data start at 0, so bar
// heights and throughputs are not visually exaggerated.
func startAtZero(a *plot.Axis) {
	if a.Min > 0 {
		a.Min = 0
	}
	if a.Max <= a.Min {
		a.Max = a.Min + 1
	}
}

// plainTicks label a linear axis at about six "nice" steps (1, 2 or 5 times
// a power of ten) with plain numbers ("25", not "25.00"; "15000", not
// "1.5e+04"), and put four minor ticks between labels. gonum's default picks
// about three labels, too few to read a value off a latency axis.
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || math.IsInf(max-min, 0) {
		return nil
	}
	step := niceStep((max - min) / 6)
	decimals := max0(-int(math.Floor(math.Log10(step))))
	minor := step / 5
	var ts []plot.Tick
	first := math.Ceil(min/minor-1e-9) * minor
	for i := 0; ; i++ {
		v := first + float64(i)*minor
		if v > max+minor*1e-9 {
			break
		}
		t := plot.Tick{Value: v}
		if k := v / step; math.Abs(k-math.Round(k)) < 1e-6 {
			if math.Abs(v) < step*1e-9 {
				v = 0 // no "-0"
			}
			t.Label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
		ts = append(ts, t)
	}
	return ts
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= x*(1-1e-9) {
			return m * e
		}
	}
	return 10 * e
}

func max0(i int) int {
	if i < 0 {
		return 0
	}
	return i
}

// Compile-time checks of the gonum interfaces the package's own drawing
// types implement.
var (
	_ plot.Ticker      = logTicks{}
	_ plot.Ticker      = plainTicks{}
	_ plot.Plotter     = (*eventMarks)(nil)
	_ plot.DataRanger  = (*eventMarks)(nil)
	_ plot.Thumbnailer = (*eventMarks)(nil)
	_ plot.Plotter     = (*bars)(nil)
	_ plot.DataRanger  = (*bars)(nil)
	_ plot.Thumbnailer = (*bars)(nil)
)
