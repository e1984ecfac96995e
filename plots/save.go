package plots

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Format is an output file format.
type Format string

// The formats Save writes.
const (
	PNG Format = "png"
	SVG Format = "svg"
)

// SaveOptions size the output. The zero value gives the defaults.
type SaveOptions struct {
	// Width and Height of the figure. Default 8in × 5in.
	Width, Height vg.Length
	// DPI is the PNG resolution. Default 150 (1200 × 750 pixels at the
	// default size: readable on screen and in a Markdown report). SVG is
	// resolution-free.
	DPI int
	// Formats to write. Default PNG and SVG.
	Formats []Format
}

// Defaults for SaveOptions.
const (
	DefaultWidth  = 8 * vg.Inch
	DefaultHeight = 5 * vg.Inch
	DefaultDPI    = 150
)

// EnsureDefaults fills unset fields with the documented defaults.
func (o *SaveOptions) EnsureDefaults() {
	if o.Width == 0 {
		o.Width = DefaultWidth
	}
	if o.Height == 0 {
		o.Height = DefaultHeight
	}
	if o.DPI == 0 {
		o.DPI = DefaultDPI
	}
	if len(o.Formats) == 0 {
		o.Formats = []Format{PNG, SVG}
	}
}

// Validate reports every problem with the options at once.
func (o SaveOptions) Validate() error {
	var errs []error
	// Bounds keep a typo (inches given as points, or the reverse) from
	// producing a postage stamp or a multi-gigabyte image.
	if o.Width < vg.Inch || o.Width > 40*vg.Inch {
		errs = append(errs, fmt.Errorf("%w: width %v outside 1in..40in", ErrBadInput, o.Width))
	}
	if o.Height < vg.Inch || o.Height > 40*vg.Inch {
		errs = append(errs, fmt.Errorf("%w: height %v outside 1in..40in", ErrBadInput, o.Height))
	}
	if o.DPI < 30 || o.DPI > 600 {
		errs = append(errs, fmt.Errorf("%w: dpi %d outside 30..600", ErrBadInput, o.DPI))
	}
	for _, f := range o.Formats {
		if f != PNG && f != SVG {
			errs = append(errs, fmt.Errorf("%w: format %q (want png or svg)", ErrBadInput, f))
		}
	}
	return errors.Join(errs...)
}

// PixelSize returns the PNG dimensions the options produce.
func (o SaveOptions) PixelSize() (w, h int) {
	o.EnsureDefaults()
	return pixels(o.Width, o.DPI), pixels(o.Height, o.DPI)
}

// pixels mirrors vgimg's rounding of a length to image pixels.
func pixels(l vg.Length, dpi int) int {
	return int(l.Dots(float64(dpi)) + 0.5)
}

// Save writes the plot as dir/name.png and dir/name.svg with the default
// options (see SaveOptions), or only the formats given. It returns the paths
// written.
func Save(p *plot.Plot, dir, name string, formats ...Format) ([]string, error) {
	return SaveWith(p, dir, name, SaveOptions{Formats: formats})
}

// SaveWith writes the plot as dir/name.<format> for each format. dir is
// created if missing. Each file is written to a temporary file in dir and
// renamed into place, so a concurrent reader (a report generator) never sees
// a partial image.
func SaveWith(p *plot.Plot, dir, name string, opts SaveOptions) ([]string, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil plot", ErrBadInput)
	}
	if name == "" || name != filepath.Base(name) || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fmt.Errorf("%w: figure name %q must be a plain file name", ErrBadInput, name)
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plots: %w", err)
	}
	var paths []string
	for _, f := range opts.Formats {
		var wt io.WriterTo
		switch f {
		case PNG:
			c := vgimg.NewWith(vgimg.UseWH(opts.Width, opts.Height), vgimg.UseDPI(opts.DPI))
			drawFigure(p, draw.New(c))
			wt = vgimg.PngCanvas{Canvas: c}
		case SVG:
			c := vgsvg.New(opts.Width, opts.Height)
			drawFigure(p, draw.New(c))
			wt = c
		}
		path := filepath.Join(dir, name+"."+string(f))
		if err := writeAtomic(path, wt); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func writeAtomic(path string, wt io.WriterTo) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = wt.WriteTo(tmp); err != nil {
		return fmt.Errorf("plots: writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("plots: writing %s: %w", path, err)
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	return nil
}

// drawFigure draws the plot with its legend in a column to the right of the
// data area rather than over it: timelines carry up to a dozen entries
// (lines and event kinds), and a legend inside would hide data. The caller's
// plot is not modified.
func drawFigure(p *plot.Plot, c draw.Canvas) {
	leg := p.Legend
	width := leg.Rectangle(c).Size().X
	if width <= 0 {
		p.Draw(c)
		return
	}
	gap := vg.Points(10)
	q := *p
	q.Legend = plot.NewLegend() // empty: drawn separately below
	q.Draw(draw.Crop(c, 0, -(width + 2*gap), 0, 0))

	lc := c
	lc.Min.X = c.Max.X - width - gap
	// Align the legend's top with the top of the data area.
	if p.Title.Text != "" {
		lc.Max.Y -= p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
	}
	lc.Max.Y -= p.Y.Padding
	leg.Top, leg.Left = true, true
	leg.XOffs, leg.YOffs = 0, 0
	leg.Draw(lc)
}
