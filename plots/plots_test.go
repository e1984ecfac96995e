package plots

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"

	"etcdlab/internal/event"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the synthetic data (0: derive from the time and log it)")

// keepDir, when set, writes the figures there instead of a temp dir, so a
// person can look at them: go test ./plots -run Figures -keep=/tmp/figs
var keepDir = flag.String("keep", "", "directory to keep the test figures in")

func testRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// synthHist records n log-normal latencies (µs) around median.
func synthHist(t *testing.T, r *rand.Rand, n int, median, sigma float64) *hdrhistogram.Histogram {
	t.Helper()
	h := hdrhistogram.New(1, 60_000_000, 3)
	for range n {
		v := int64(median * math.Exp(sigma*r.NormFloat64()))
		v = max(v, 1)
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func synthTimeline(r *rand.Rand, label string, secs int, p50 float64, ops float64) Timeline {
	tl := Timeline{Label: label}
	for s := range secs {
		tl.Seconds = append(tl.Seconds, float64(s))
		f := 1 + 0.1*r.NormFloat64()
		if s >= 20 && s < 24 { // a stall: slow seconds
			f *= 6
		}
		tl.P50Micros = append(tl.P50Micros, p50*f)
		tl.P99Micros = append(tl.P99Micros, 4*p50*f*(1+0.3*r.Float64()))
		tl.Throughput = append(tl.Throughput, ops/f)
	}
	// An idle second: no latency, zero throughput.
	tl.P50Micros[40], tl.P99Micros[40], tl.Throughput[40] = math.NaN(), math.NaN(), 0
	return tl
}

func figureDir(t *testing.T) string {
	if *keepDir != "" {
		return *keepDir
	}
	return t.TempDir()
}

// checkSaved saves p and checks both files: PNG decodes at the expected size,
// SVG is an SVG document.
func checkSaved(t *testing.T, p *plot.Plot, dir, name string) {
	t.Helper()
	paths, err := Save(p, dir, name)
	if err != nil {
		t.Fatalf("%s: Save: %v", name, err)
	}
	if len(paths) != 2 {
		t.Fatalf("%s: Save wrote %v, want png and svg", name, paths)
	}
	wantW, wantH := SaveOptions{}.PixelSize()
	if wantW != 1200 || wantH != 750 {
		t.Fatalf("default pixel size %dx%d, want 1200x750", wantW, wantH)
	}
	data, err := os.ReadFile(filepath.Join(dir, name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s.png does not decode: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Fatalf("%s.png is %dx%d, want %dx%d", name, b.Dx(), b.Dy(), wantW, wantH)
	}
	// Not a blank canvas: some pixels are neither white nor the same color.
	colors := map[[4]uint32]bool{}
	for y := 0; y < wantH; y += 7 {
		for x := 0; x < wantW; x += 7 {
			r, g, b, a := img.At(x, y).RGBA()
			colors[[4]uint32{r, g, b, a}] = true
		}
	}
	if len(colors) < 3 {
		t.Fatalf("%s.png looks blank (%d colors sampled)", name, len(colors))
	}
	svg, err := os.ReadFile(filepath.Join(dir, name+".svg"))
	if err != nil {
		t.Fatal(err)
	}
	head := strings.TrimSpace(string(svg[:min(len(svg), 200)]))
	if !strings.HasPrefix(head, "<?xml") && !strings.HasPrefix(head, "<svg") {
		t.Fatalf("%s.svg starts with %q", name, head[:min(len(head), 40)])
	}
	if !bytes.Contains(svg, []byte(p.Title.Text)) {
		t.Fatalf("%s.svg does not contain its title %q", name, p.Title.Text)
	}
	// No temporary files left behind.
	left, _ := filepath.Glob(filepath.Join(dir, "."+name+"*"))
	if len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// testStyle is the registry's engines, as report callers pass them.
var testStyle = Style{Engines: []string{"bbolt", "memory", "pebble"}}

func TestFigures(t *testing.T) {
	r := testRand(t)
	dir := figureDir(t)
	bbolt := synthHist(t, r, 200_000, 800, 0.6)
	pebble := synthHist(t, r, 200_000, 500, 0.9)
	small := synthHist(t, r, 500, 300, 0.4)

	t.Run("spectrum", func(t *testing.T) {
		p, err := PercentileSpectrum("put latency spectrum (synthetic)", []SpectrumLine{
			{Label: "bbolt", Hist: bbolt},
			{Label: "pebble", Hist: pebble},
			{Label: "memory, 500 ops", Hist: small},
		}, LatencyOptions{LogScale: true, Style: testStyle})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Y.Label.Text, "latency (ms)"; got != want {
			t.Errorf("y label %q, want %q", got, want)
		}
		checkSaved(t, p, dir, "spectrum")
	})
	t.Run("spectrum-percentiles", func(t *testing.T) {
		p, err := PercentileSpectrum("range latency from summary percentiles", []SpectrumLine{
			{Label: "bbolt", Percentiles: []float64{99.9, 50, 90, 99}, LatencyMicros: []float64{900, 120, 300, 600}},
		}, LatencyOptions{Style: testStyle})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Y.Label.Text, "latency (µs)"; got != want {
			t.Errorf("y label %q, want %q", got, want)
		}
		checkSaved(t, p, dir, "spectrum-percentiles")
	})
	t.Run("cdf", func(t *testing.T) {
		p, err := CDF("put latency CDF (synthetic)", []SpectrumLine{
			{Label: "bbolt", Hist: bbolt},
			{Label: "pebble", Hist: pebble},
		}, LatencyOptions{LogScale: true, Style: testStyle})
		if err != nil {
			t.Fatal(err)
		}
		checkSaved(t, p, dir, "cdf")
	})
	tlB := synthTimeline(r, "bbolt", 60, 900, 12000)
	tlP := synthTimeline(r, "pebble", 60, 600, 15000)
	tlB.Events = []Event{
		{Second: 10, Kind: event.SnapshotTaken}, {Second: 30, Kind: event.SnapshotTaken}, {Second: 50, Kind: event.SnapshotTaken},
		{Second: 21, Kind: event.LeaderChanged, Label: "node 2"},
		{Second: 35, Kind: event.Compaction}, {Second: 45, Kind: event.Defrag},
		{Second: 55, Kind: event.AlarmRaised, Label: "NOSPACE"}, {Second: 22, Kind: event.SlowApply},
		{Second: 12, Kind: "wal rotate"},
	}
	t.Run("latency-over-time", func(t *testing.T) {
		p, err := LatencyOverTime("put latency per second (synthetic)", []Timeline{tlB, tlP}, LatencyOptions{Style: testStyle})
		if err != nil {
			t.Fatal(err)
		}
		checkSaved(t, p, dir, "latency-over-time")
	})
	t.Run("latency-over-time-log", func(t *testing.T) {
		p, err := LatencyOverTime("put latency per second, log scale (synthetic)", []Timeline{tlB}, LatencyOptions{LogScale: true, Unit: "us", Style: testStyle})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Y.Label.Text, "latency per second (µs)"; got != want {
			t.Errorf("y label %q, want %q", got, want)
		}
		checkSaved(t, p, dir, "latency-over-time-log")
	})
	t.Run("throughput-over-time", func(t *testing.T) {
		p, err := ThroughputOverTime("throughput per second (synthetic)", []Timeline{tlB, tlP}, testStyle)
		if err != nil {
			t.Fatal(err)
		}
		checkSaved(t, p, dir, "throughput-over-time")
	})
	t.Run("sweep", func(t *testing.T) {
		var pts []SweepPoint
		for _, e := range []struct {
			name string
			base float64
		}{{"pebble", 14000}, {"bbolt", 11000}, {"memory", 30000}} {
			for _, sc := range []float64{1000, 10000, 100000} {
				var vs []float64
				for range 5 {
					vs = append(vs, e.base*(1+0.1*math.Log10(sc))*(1+0.05*r.NormFloat64()))
				}
				pts = append(pts, SweepPoint{Engine: e.name, X: sc, Values: vs})
			}
		}
		p, err := SweepCurve(Sweep{
			Title: "throughput vs snapshot-count (synthetic)", Param: "snapshot-count",
			Metric: "throughput", MetricUnit: "ops/s", LogX: true, ZeroY: true, Points: pts, Style: testStyle,
		})
		if err != nil {
			t.Fatal(err)
		}
		checkSaved(t, p, dir, "sweep")
	})
	t.Run("bars", func(t *testing.T) {
		var bs []Bar
		for _, w := range []string{"90/10 read/write", "50/50", "write-only"} {
			for i, e := range []string{"bbolt", "pebble", "memory"} {
				vs := []float64{}
				n := 3
				if e == "memory" {
					n = 1 // one repeat: no error bar
				}
				for range n {
					vs = append(vs, float64(10000+3000*i)*(1+0.05*r.NormFloat64()))
				}
				bs = append(bs, Bar{Group: w, Label: e, Values: vs})
			}
		}
		p, err := Bars(BarChart{Title: "throughput by workload (synthetic)", Group: "workload",
			Metric: "throughput", Unit: "ops/s", Bars: bs, Style: testStyle})
		if err != nil {
			t.Fatal(err)
		}
		checkSaved(t, p, dir, "bars")
	})
}

// TestDeterministic: the same input gives byte-identical SVG (legend order and
// colors do not depend on map iteration).
func TestDeterministic(t *testing.T) {
	pts := []SweepPoint{
		{Engine: "pebble", X: 1, Values: []float64{1, 2}}, {Engine: "bbolt", X: 1, Values: []float64{3, 4}},
		{Engine: "zeta", X: 2, Values: []float64{2}}, {Engine: "alpha", X: 2, Values: []float64{5, 6, 7}},
		{Engine: "pebble", X: 2, Values: []float64{2, 3}}, {Engine: "bbolt", X: 2, Values: []float64{4, 4.5}},
	}
	tl := Timeline{Label: "x", Seconds: []float64{0, 1, 2}, P50Micros: []float64{1, 2, 3}, P99Micros: []float64{2, 3, 4},
		Throughput: []float64{5, 6, 7}, Events: []Event{{1, "zz", ""}, {1, "snapshot", ""}, {2, "aa", ""}, {0, "defrag", ""}}}
	var prev [][]byte
	for i := range 5 {
		var out [][]byte
		for _, mk := range []func() (*plot.Plot, error){
			func() (*plot.Plot, error) {
				return SweepCurve(Sweep{Title: "t", Param: "x", Metric: "y", Points: pts})
			},
			func() (*plot.Plot, error) { return LatencyOverTime("t", []Timeline{tl}, LatencyOptions{}) },
		} {
			p, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if _, err := Save(p, dir, "f", SVG); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "f.svg"))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		if i > 0 {
			for j := range out {
				if !bytes.Equal(out[j], prev[j]) {
					t.Fatalf("figure %d differs between identical draws", j)
				}
			}
		}
		prev = out
	}
}

func TestBadInput(t *testing.T) {
	h := hdrhistogram.New(1, 1000, 3)
	empty := hdrhistogram.New(1, 1000, 3)
	if err := h.RecordValue(10); err != nil {
		t.Fatal(err)
	}
	okTL := Timeline{Label: "a", Seconds: []float64{0, 1}, P50Micros: []float64{1, 2}, P99Micros: []float64{2, 3}, Throughput: []float64{1, 1}}
	badLen := okTL
	badLen.P99Micros = []float64{1}
	negTP := okTL
	negTP.Throughput = []float64{1, -1}
	allNaN := okTL
	allNaN.P50Micros, allNaN.P99Micros = []float64{math.NaN(), math.NaN()}, []float64{math.NaN(), math.NaN()}
	noKind := okTL
	noKind.Events = []Event{{Second: 1}}
	zeroLat := okTL
	zeroLat.P50Micros = []float64{0, 1}
	unsorted := okTL
	unsorted.Seconds = []float64{1, 0}

	for _, tc := range []struct {
		name string
		draw func() (*plot.Plot, error)
		want error
	}{
		{"spectrum no lines", func() (*plot.Plot, error) { return PercentileSpectrum("t", nil, LatencyOptions{}) }, ErrNoData},
		{"spectrum no title", func() (*plot.Plot, error) {
			return PercentileSpectrum(" ", []SpectrumLine{{Label: "a", Hist: h}}, LatencyOptions{})
		}, ErrBadInput},
		{"spectrum empty hist", func() (*plot.Plot, error) {
			return PercentileSpectrum("t", []SpectrumLine{{Label: "a", Hist: empty}}, LatencyOptions{})
		}, ErrNoData},
		{"spectrum no label", func() (*plot.Plot, error) {
			return PercentileSpectrum("t", []SpectrumLine{{Hist: h}}, LatencyOptions{})
		}, ErrBadInput},
		{"spectrum nothing in line", func() (*plot.Plot, error) {
			return PercentileSpectrum("t", []SpectrumLine{{Label: "a"}}, LatencyOptions{})
		}, ErrNoData},
		{"spectrum p100", func() (*plot.Plot, error) {
			return PercentileSpectrum("t", []SpectrumLine{{Label: "a", Percentiles: []float64{100}, LatencyMicros: []float64{1}}}, LatencyOptions{})
		}, ErrBadInput},
		{"spectrum length mismatch", func() (*plot.Plot, error) {
			return PercentileSpectrum("t", []SpectrumLine{{Label: "a", Percentiles: []float64{50, 90}, LatencyMicros: []float64{1}}}, LatencyOptions{})
		}, ErrBadInput},
		{"spectrum NaN latency", func() (*plot.Plot, error) {
			return PercentileSpectrum("t", []SpectrumLine{{Label: "a", Percentiles: []float64{50}, LatencyMicros: []float64{math.NaN()}}}, LatencyOptions{})
		}, ErrBadInput},
		{"spectrum zero on log", func() (*plot.Plot, error) {
			return PercentileSpectrum("t", []SpectrumLine{{Label: "a", Percentiles: []float64{50}, LatencyMicros: []float64{0}}}, LatencyOptions{LogScale: true})
		}, ErrBadInput},
		{"spectrum bad unit", func() (*plot.Plot, error) {
			return PercentileSpectrum("t", []SpectrumLine{{Label: "a", Hist: h}}, LatencyOptions{Unit: "min"})
		}, ErrBadInput},
		{"spectrum negative hist unit", func() (*plot.Plot, error) {
			return PercentileSpectrum("t", []SpectrumLine{{Label: "a", Hist: h, HistUnit: -1}}, LatencyOptions{})
		}, ErrBadInput},
		{"cdf no lines", func() (*plot.Plot, error) { return CDF("t", []SpectrumLine{}, LatencyOptions{}) }, ErrNoData},
		{"latency no timelines", func() (*plot.Plot, error) { return LatencyOverTime("t", nil, LatencyOptions{}) }, ErrNoData},
		{"latency length mismatch", func() (*plot.Plot, error) { return LatencyOverTime("t", []Timeline{badLen}, LatencyOptions{}) }, ErrBadInput},
		{"latency all NaN", func() (*plot.Plot, error) { return LatencyOverTime("t", []Timeline{allNaN}, LatencyOptions{}) }, ErrNoData},
		{"latency zero on log", func() (*plot.Plot, error) {
			return LatencyOverTime("t", []Timeline{zeroLat}, LatencyOptions{LogScale: true})
		}, ErrBadInput},
		{"latency event without kind", func() (*plot.Plot, error) { return LatencyOverTime("t", []Timeline{noKind}, LatencyOptions{}) }, ErrBadInput},
		{"throughput unsorted seconds", func() (*plot.Plot, error) { return ThroughputOverTime("t", []Timeline{unsorted}, Style{}) }, ErrBadInput},
		{"throughput no seconds", func() (*plot.Plot, error) { return ThroughputOverTime("t", []Timeline{{Label: "a"}}, Style{}) }, ErrNoData},
		{"throughput negative", func() (*plot.Plot, error) { return ThroughputOverTime("t", []Timeline{negTP}, Style{}) }, ErrBadInput},
		{"throughput missing", func() (*plot.Plot, error) {
			return ThroughputOverTime("t", []Timeline{{Label: "a", Seconds: []float64{1}}}, Style{})
		}, ErrBadInput},
		{"sweep no points", func() (*plot.Plot, error) { return SweepCurve(Sweep{Title: "t", Param: "x", Metric: "y"}) }, ErrNoData},
		{"sweep unnamed metric", func() (*plot.Plot, error) {
			return SweepCurve(Sweep{Title: "t", Param: "x", Points: []SweepPoint{{Engine: "a", X: 1, Values: []float64{1}}}})
		}, ErrBadInput},
		{"sweep no values", func() (*plot.Plot, error) {
			return SweepCurve(Sweep{Title: "t", Param: "x", Metric: "y", Points: []SweepPoint{{Engine: "a", X: 1}}})
		}, ErrNoData},
		{"sweep log x zero", func() (*plot.Plot, error) {
			return SweepCurve(Sweep{Title: "t", Param: "x", Metric: "y", LogX: true, Points: []SweepPoint{{Engine: "a", X: 0, Values: []float64{1}}}})
		}, ErrBadInput},
		{"sweep inf value", func() (*plot.Plot, error) {
			return SweepCurve(Sweep{Title: "t", Param: "x", Metric: "y", Points: []SweepPoint{{Engine: "a", X: 1, Values: []float64{math.Inf(1)}}}})
		}, ErrBadInput},
		{"bars none", func() (*plot.Plot, error) { return Bars(BarChart{Title: "t", Group: "g", Metric: "m"}) }, ErrNoData},
		{"bars duplicate", func() (*plot.Plot, error) {
			return Bars(BarChart{Title: "t", Group: "g", Metric: "m", Bars: []Bar{
				{Group: "g", Label: "a", Values: []float64{1}}, {Group: "g", Label: "a", Values: []float64{2}}}})
		}, ErrBadInput},
		{"bars no values", func() (*plot.Plot, error) {
			return Bars(BarChart{Title: "t", Group: "g", Metric: "m", Bars: []Bar{{Group: "g", Label: "a"}}})
		}, ErrNoData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.draw()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got plot %v, error %v; want %v", p != nil, err, tc.want)
			}
			if p != nil {
				t.Fatalf("a plot came back with the error %v", err)
			}
		})
	}
}

func TestSaveBadInput(t *testing.T) {
	p, err := ThroughputOverTime("t", []Timeline{{Label: "a", Seconds: []float64{0, 1}, Throughput: []float64{1, 2}}}, Style{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"", "a/b", "..", "."} {
		if _, err := Save(p, dir, name); !errors.Is(err, ErrBadInput) {
			t.Errorf("Save name %q: %v, want ErrBadInput", name, err)
		}
	}
	if _, err := Save(nil, dir, "x"); !errors.Is(err, ErrBadInput) {
		t.Errorf("Save nil plot: %v", err)
	}
	err = SaveOptions{Width: 1, Height: 1, DPI: 1, Formats: []Format{"gif"}}.Validate()
	for _, want := range []string{"width", "height", "dpi", "gif"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v does not report %s", err, want)
		}
	}
	// A custom size and DPI give the matching PNG.
	opts := SaveOptions{Width: 4 * 72, Height: 3 * 72, DPI: 100, Formats: []Format{PNG}}
	paths, err := SaveWith(p, dir, "small", opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 400 || cfg.Height != 300 {
		t.Errorf("small.png is %dx%d, want 400x300", cfg.Width, cfg.Height)
	}
	if _, err := os.Stat(filepath.Join(dir, "small.svg")); !os.IsNotExist(err) {
		t.Errorf("svg written although only png was asked for (%v)", err)
	}
}

func TestColors(t *testing.T) {
	for label, want := range map[string]string{
		"bbolt": "bbolt", "Pebble p99": "pebble", "engine=memory/nodes=3": "memory",
		"bbolt vs pebble": "", "pebblestore": "", "run 1": "",
	} {
		if got := testStyle.EngineOf(label); got != want {
			t.Errorf("EngineOf(%q) = %q, want %q", label, got, want)
		}
	}
	if got := (Style{}).EngineOf("bbolt"); got != "" {
		t.Errorf("EngineOf with no engines = %q", got)
	}
	c := newColorer(testStyle)
	b1, b2, x := c.look("bbolt snap=10k"), c.look("bbolt snap=100k"), c.look("other")
	if b1.color != rgb(0x1f, 0x77, 0xb4) {
		t.Errorf("first bbolt line is not bbolt blue")
	}
	for engine, want := range map[string]color.RGBA{"memory": rgb(0x7f, 0x7f, 0x7f), "pebble": rgb(0xff, 0x7f, 0x0e)} {
		if got := newColorer(testStyle).look(engine).color; got != want {
			t.Errorf("%s is drawn in %v, want %v", engine, got, want)
		}
	}
	for _, bad := range []Style{{Engines: []string{"a", "a"}}, {Engines: []string{" "}}} {
		if err := bad.Validate(); !errors.Is(err, ErrBadInput) {
			t.Errorf("Validate(%v) = %v, want ErrBadInput", bad.Engines, err)
		}
	}
	if b2.color == b1.color || x.color == b1.color || x.color == b2.color {
		t.Errorf("lines share a color: %v %v %v", b1, b2, x)
	}
	if again := c.look("bbolt snap=10k"); again.color != b1.color || len(again.dashes) != len(b1.dashes) {
		t.Errorf("same label, different look")
	}
	// Beyond the palette, lines still differ (by dash pattern).
	looks := map[string]bool{}
	for i := range 25 {
		l := c.look(string(rune('A' + i)))
		k := l.color
		key := fmt.Sprint(l.dashes, k)
		if looks[key] {
			t.Fatalf("label %d repeats a look", i)
		}
		looks[key] = true
	}
}

func TestSpectrumStopsAtSampleSize(t *testing.T) {
	h := hdrhistogram.New(1, 1_000_000, 3)
	for i := 1; i <= 1000; i++ {
		if err := h.RecordValue(int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	pts, err := SpectrumLine{Label: "a", Hist: h}.percentilePoints()
	if err != nil {
		t.Fatal(err)
	}
	last := pts[len(pts)-1]
	// 1000 samples support p99.9 at most.
	if math.Abs(last.p-99.9) > 1e-9 {
		t.Errorf("spectrum of 1000 samples ends at p%v, want p99.9", last.p)
	}
	if pts[0].p != 0 {
		t.Errorf("spectrum starts at p%v, want p0", pts[0].p)
	}
	for _, pt := range pts {
		// Uniform 1..1000: the latency at p is about 10·p (3 significant digits).
		if want := math.Max(1, 10*pt.p); math.Abs(pt.micros-want) > 0.01*want+1 {
			t.Fatalf("p%v = %v µs, want about %v", pt.p, pt.micros, want)
		}
	}
	// HistUnit scales: nanosecond histograms are converted to µs.
	pts, err = SpectrumLine{Label: "a", Hist: h, HistUnit: time.Nanosecond}.percentilePoints()
	if err != nil {
		t.Fatal(err)
	}
	if got := pts[len(pts)-1].micros; math.Abs(got-0.999) > 0.01 {
		t.Errorf("p99.9 of ns histogram = %v µs, want 0.999", got)
	}
}

func TestPercentileAxis(t *testing.T) {
	for _, tc := range []struct{ p, x float64 }{{0, 0}, {90, 1}, {99, 2}, {99.9, 3}, {99.99, 4}} {
		if got := spectrumX(tc.p); math.Abs(got-tc.x) > 1e-9 {
			t.Errorf("spectrumX(%v) = %v, want %v", tc.p, got, tc.x)
		}
		if got := spectrumP(tc.x); math.Abs(got-tc.p) > 1e-9 {
			t.Errorf("spectrumP(%v) = %v, want %v", tc.x, got, tc.p)
		}
	}
	labels := map[string]float64{}
	for _, tk := range percentileTicks.Ticks(0, 4) {
		if tk.Label != "" {
			labels[tk.Label] = tk.Value
		}
	}
	for _, l := range []string{"0", "90", "99", "99.9", "99.99"} {
		if _, ok := labels[l]; !ok {
			t.Errorf("percentile axis lacks the %q label (has %v)", l, labels)
		}
	}
}

func TestTickers(t *testing.T) {
	labels := func(ts []plot.Tick) []string {
		var out []string
		for _, tk := range ts {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		ticks []plot.Tick
		want  string
	}{
		{"linear 0..60", plainTicks{}.Ticks(0, 60), "0 10 20 30 40 50 60"},
		{"linear 0..21000", plainTicks{}.Ticks(0, 21000), "0 5000 10000 15000 20000"},
		{"linear 0..0.9", plainTicks{}.Ticks(0, 0.9), "0.0 0.2 0.4 0.6 0.8"},
		{"log short", logTicks{}.Ticks(700, 45000), "1000 2000 5000 10000 20000"},
		{"log long", logTicks{}.Ticks(0.004, 20), "0.01 0.1 1 10"},
	} {
		if got := strings.Join(labels(tc.ticks), " "); got != tc.want {
			t.Errorf("%s: labels %q, want %q", tc.name, got, tc.want)
		}
	}
	if ts := (logTicks{}).Ticks(0, 10); ts != nil {
		t.Errorf("log ticks over a non-positive range: %v", ts)
	}
	if ts := (plainTicks{}).Ticks(5, 5); ts != nil {
		t.Errorf("linear ticks over an empty range: %v", ts)
	}
}
