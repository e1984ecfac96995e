package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"etcdlab/bench"
	"etcdlab/bench/runflags"
	"etcdlab/engines"
	"etcdlab/plots"
	"etcdlab/results"
	"etcdlab/results/report"
)

// DefaultRepeat is the number of repeats per point.
const DefaultRepeat = 3

// MaxRuns caps a sweep's size so a typo cannot schedule days of runs.
const MaxRuns = 10_000

var (
	// ErrBadSpec marks a sweep spec that cannot run.
	ErrBadSpec = errors.New("sweep: bad spec")
	// ErrInterrupted: the context was cancelled; finished runs are kept.
	ErrInterrupted = errors.New("sweep: interrupted; run the same sweep again to resume")
	// ErrOtherSweep: the output directory holds a different sweep.
	ErrOtherSweep = errors.New("sweep: output directory holds a different sweep")
)

// Param is a swept run flag and its values.
type Param = report.Param

// Spec is what to sweep. The zero value plus one Param (or two Engines) is
// a valid sweep.
type Spec struct {
	// Name names the sweep in its report. Default "sweep".
	Name        string
	Description string
	// Params are swept in order; their names are run flags.
	Params []Param
	// Engines, when given, are swept as the parameter "engine" (first).
	Engines []string
	// Fixed run flags for every run (e.g. duration=3s, layer=mvcc).
	Fixed []runflags.Setting
	// Exclude drops points from the product, for combinations that are not
	// a run (nodes is read only by the cluster layer, so "layer=mvcc
	// nodes!=1"). A rule is space-separated terms, each name=value or
	// name!=value; it drops every point whose values (swept, else fixed)
	// satisfy all its terms. A term on a name neither swept nor fixed never
	// holds.
	Exclude []string
	// Repeat is the number of runs per point. Default 3.
	Repeat int
	// Seed drives the run order. Default 1.
	Seed int64
	// Notes are caveats copied into the report.
	Notes []string
}

// EnsureDefaults fills the documented defaults.
func (s *Spec) EnsureDefaults() {
	if s.Name == "" {
		s.Name = "sweep"
	}
	if s.Repeat == 0 {
		s.Repeat = DefaultRepeat
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
}

// params returns the swept parameters, engine first when given.
func (s *Spec) params() []Param {
	var ps []Param
	if len(s.Engines) > 0 {
		ps = append(ps, Param{Name: "engine", Values: s.Engines})
	}
	return append(ps, s.Params...)
}

// Validate reports every problem of an EnsureDefaults'd spec at once,
// including every point whose configuration is invalid.
func (s *Spec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadSpec}, args...)...))
	}
	if s.Repeat < 1 {
		bad("repeat %d: must be >= 1", s.Repeat)
	}
	seen := map[string]bool{}
	ps := s.params()
	for _, p := range ps {
		if seen[p.Name] {
			bad("parameter %q given twice (give its values comma-separated)", p.Name)
		}
		seen[p.Name] = true
		if len(p.Values) == 0 {
			bad("parameter %q has no values", p.Name)
		}
		if p.Name == "out" || p.Name == "seed" || p.Name == "data-dir" || p.Name == "keep-data" {
			bad("%q cannot be swept (the sweep sets it per run)", p.Name)
		}
	}
	for _, f := range s.Fixed {
		if seen[f.Name] {
			bad("%q is both swept and fixed", f.Name)
		}
	}
	if len(ps) == 0 {
		bad("nothing to sweep: give a parameter or engines")
	}
	_, ruleErrs := s.rules()
	errs = append(errs, ruleErrs...)
	n := 1
	for _, p := range ps {
		n *= max(len(p.Values), 1)
		if n*s.Repeat > MaxRuns {
			bad("%d+ runs: more than %d", n*s.Repeat, MaxRuns)
			break
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(s.Points()) == 0 {
		bad("every point is excluded (exclude: %s)", strings.Join(s.Exclude, "; "))
	}
	for _, pt := range s.Points() {
		if _, err := runflags.Build(s.settings(pt, 0)); err != nil {
			errs = append(errs, fmt.Errorf("point %s: %w", pt.ID, err))
		}
	}
	return errors.Join(errs...)
}

// Point is one combination of parameter values.
type Point struct {
	ID     string
	Params []runflags.Setting
}

// Points returns the cartesian product of the parameters, the last
// parameter varying fastest, less the points Exclude drops.
func (s *Spec) Points() []Point {
	pts := []Point{{}}
	for _, p := range s.params() {
		var next []Point
		for _, pt := range pts {
			for _, v := range p.Values {
				ps := append(append([]runflags.Setting(nil), pt.Params...), runflags.Setting{Name: p.Name, Value: v})
				next = append(next, Point{Params: ps})
			}
		}
		pts = next
	}
	rs, _ := s.rules() // Validate reports a bad rule
	kept := pts[:0]
	for _, pt := range pts {
		if !s.excluded(rs, pt.Params) {
			pt.ID = pointID(pt.Params)
			kept = append(kept, pt)
		}
	}
	return kept
}

// pointID is a file-name-safe id from the parameter values.
func pointID(ps []runflags.Setting) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = safe(p.Name) + "-" + safe(p.Value)
	}
	return strings.Join(parts, "_")
}

func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '+'
	}, s)
}

// baseSeed is the workload seed of repeat 0.
func (s *Spec) baseSeed() int64 {
	for _, f := range s.Fixed {
		if f.Name == "seed" {
			if v, err := strconv.ParseInt(f.Value, 10, 64); err == nil {
				return v
			}
		}
	}
	return 1
}

// RunConfig is the run configuration of repeat k of pt, exactly what the sweep
// runs (the workload seed is the repeat's). Benchmarks use it to run a
// preset's points under go test -bench.
func (s *Spec) RunConfig(pt Point, k int) (bench.Config, error) {
	return runflags.Build(s.settings(pt, k))
}

// settings are the run flags of repeat k of pt: fixed, then the point's
// values, then the repeat's workload seed.
func (s *Spec) settings(pt Point, k int) []runflags.Setting {
	var out []runflags.Setting
	for _, f := range s.Fixed {
		if f.Name != "seed" {
			out = append(out, f)
		}
	}
	out = append(out, pt.Params...)
	return append(out, runflags.Setting{Name: "seed", Value: strconv.FormatInt(s.baseSeed()+int64(k), 10)})
}

// Planned is one run of the schedule.
type Planned struct {
	Point  Point
	Repeat int
	Dir    string // relative to the sweep directory
}

// Schedule returns the runs in execution order (see the package contract).
func (s *Spec) Schedule() []Planned {
	pts := s.Points()
	var out []Planned
	for k := 0; k < s.Repeat; k++ {
		rng := rand.New(rand.NewPCG(uint64(s.Seed), uint64(k)))
		perm := rng.Perm(len(pts))
		for _, i := range perm {
			out = append(out, Planned{Point: pts[i], Repeat: k, Dir: filepath.Join(report.RunsDir, fmt.Sprintf("%s-r%d", pts[i].ID, k))})
		}
	}
	return out
}

func toReport(ss []runflags.Setting) []report.Setting {
	out := make([]report.Setting, len(ss))
	for i, s := range ss {
		out[i] = report.Setting{Name: s.Name, Value: s.Value}
	}
	return out
}

// Manifest is the sweep.json of s.
func (s *Spec) Manifest() *report.Manifest {
	m := &report.Manifest{Name: s.Name, Description: s.Description, Fixed: toReport(s.Fixed),
		Exclude: s.Exclude, Repeat: s.Repeat, Seed: s.Seed, Notes: s.Notes}
	for _, p := range s.params() {
		p.Layers = runflags.Layers(p.Name)
		m.Params = append(m.Params, p)
	}
	for _, p := range s.Schedule() {
		m.Runs = append(m.Runs, report.ManifestRun{Dir: p.Dir, Point: p.Point.ID, Repeat: p.Repeat, Params: toReport(p.Point.Params)})
	}
	return m
}

// Config is one sweep to run.
type Config struct {
	Spec Spec
	// Out is the sweep directory: new, empty, or holding the same sweep
	// (resume).
	Out string
	// Log receives one line per run (default: discarded).
	Log io.Writer
	// RunFunc runs one configuration into a run directory. Default
	// bench.RunToDir; tests may substitute it.
	RunFunc func(ctx context.Context, cfg bench.Config, out string) (*bench.Outcome, error)
	// Build identifies the code that runs the sweep; a sweep directory
	// started by another build is not resumed. Default: a hash of this
	// process's executable (BuildID).
	Build string
}

// BuildID is a short hash of the running executable: the same source built
// the same way gives the same bytes (Go's builds are reproducible), any
// change in code or defaults another. "" when the executable cannot be read.
func BuildID() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Outcome summarizes a sweep.
type Outcome struct {
	Dir, Report       string
	Ran, Skipped, Bad int
}

// Run runs the sweep (see the package contract).
func Run(ctx context.Context, c Config) (*Outcome, error) {
	s := &c.Spec
	s.EnsureDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if c.Out == "" {
		return nil, fmt.Errorf("%w: no output directory", ErrBadSpec)
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.RunFunc == nil {
		c.RunFunc = bench.RunToDir
	}
	if c.Build == "" {
		c.Build = BuildID()
	}
	m := s.Manifest()
	m.Build = c.Build
	if err := prepareOut(c.Out, m); err != nil {
		return nil, err
	}
	o := &Outcome{Dir: c.Out}
	var failures []error
	interrupted := false
	plan := s.Schedule()
	for i, p := range plan {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		dir := filepath.Join(c.Out, p.Dir)
		if r, err := results.Load(dir); err == nil && !r.Interrupted {
			o.Skipped++
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		cfg, err := runflags.Build(s.settings(p.Point, p.Repeat))
		if err != nil {
			return nil, err // validated above: only a changed file could do this
		}
		fmt.Fprintf(c.Log, "[%d/%d] %s r%d ", i+1, len(plan), labelOf(p.Point), p.Repeat)
		start := time.Now()
		out, err := c.RunFunc(ctx, cfg, dir)
		switch {
		case err != nil && ctx.Err() != nil:
			interrupted = true
		case err != nil:
			o.Bad++
			failures = append(failures, fmt.Errorf("%s: %w", p.Dir, err))
			fmt.Fprintf(c.Log, "FAILED: %v\n", err)
			continue
		case out.Result.Interrupted:
			interrupted = true
		default:
			o.Ran++
			fmt.Fprintf(c.Log, "%.0f ops/s p99 %.0fµs (%.1fs)\n", out.Result.Summary.ThroughputOpsS, out.Result.Summary.Latency.P99Us, time.Since(start).Seconds())
			continue
		}
		fmt.Fprintln(c.Log, "interrupted")
		break
	}
	if o.Ran+o.Skipped > 0 {
		path, err := report.Write(c.Out, plots.Style{Engines: engines.Names()})
		if err != nil {
			failures = append(failures, err)
		}
		o.Report = path
	}
	if interrupted {
		failures = append(failures, ErrInterrupted)
	}
	return o, errors.Join(failures...)
}

func labelOf(p Point) string {
	parts := make([]string, len(p.Params))
	for i, s := range p.Params {
		parts[i] = s.Name + "=" + s.Value
	}
	return strings.Join(parts, " ")
}

// prepareOut creates out with m, or checks that out holds the same sweep.
func prepareOut(out string, m *report.Manifest) error {
	old, err := report.ReadManifest(out)
	if err == nil {
		m.Schema = old.Schema
		if !reflect.DeepEqual(old.Params, m.Params) || !reflect.DeepEqual(old.Fixed, m.Fixed) ||
			!slices.Equal(old.Exclude, m.Exclude) || old.Repeat != m.Repeat || old.Seed != m.Seed {
			return fmt.Errorf("%w: %s (give a new directory, or the same parameters, fixed settings, exclusions, repeat and seed to resume)", ErrOtherSweep, out)
		}
		if old.Build != "" && m.Build != "" && old.Build != m.Build {
			return fmt.Errorf("%w: %s was started by another etcdlab build (%s, this one is %s): its finished runs may follow other code or defaults; give a new directory, or remove this one to start over",
				ErrOtherSweep, out, old.Build, m.Build)
		}
		return report.WriteManifest(out, m) // same sweep: notes or description may have changed
	}
	if _, serr := os.Stat(filepath.Join(out, report.ManifestFile)); serr == nil {
		return err
	}
	if err := results.CheckOut(out); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, report.RunsDir), 0o755); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return report.WriteManifest(out, m)
}

// specFile is the YAML form of a Spec:
//
//	name: my-sweep
//	params: ["snapshot-count=1000,10000,100000", "read-ratio=0.5,0.9"]
//	engines: [bbolt, pebble]
//	fixed: ["duration=10s", "layer=cluster", "nodes=3"]
//	exclude: ["snapshot-count=100000 read-ratio=0.9"]
//	repeat: 3
//	seed: 1
type specFile struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Params      []string `yaml:"params"`
	Engines     []string `yaml:"engines"`
	Fixed       []string `yaml:"fixed"`
	Exclude     []string `yaml:"exclude"`
	Repeat      int      `yaml:"repeat"`
	Seed        int64    `yaml:"seed"`
	Notes       []string `yaml:"notes"`
}

// ParseParam reads "name=v1,v2,...". A knob's old name (a deprecated run
// flag) becomes its etcd name.
func ParseParam(s string) (Param, error) {
	name, vals, ok := strings.Cut(s, "=")
	name = strings.TrimPrefix(strings.TrimSpace(name), "--")
	if !ok || name == "" || strings.TrimSpace(vals) == "" {
		return Param{}, fmt.Errorf("%w: parameter %q: want name=value1,value2 (comma-separated values)", ErrBadSpec, s)
	}
	p := Param{Name: runflags.Canonical(name)}
	for _, v := range strings.Split(vals, ",") {
		p.Values = append(p.Values, strings.TrimSpace(v))
	}
	return p, nil
}

// ParseSetting reads "name=value". A knob's old name becomes its etcd name.
func ParseSetting(s string) (runflags.Setting, error) {
	name, val, ok := strings.Cut(s, "=")
	name = strings.TrimPrefix(strings.TrimSpace(name), "--")
	if !ok || name == "" {
		return runflags.Setting{}, fmt.Errorf("%w: setting %q: want name=value", ErrBadSpec, s)
	}
	return runflags.Setting{Name: runflags.Canonical(name), Value: strings.TrimSpace(val)}, nil
}

// ParseSpec reads a YAML sweep spec (see specFile).
func ParseSpec(data []byte) (Spec, error) {
	var f specFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return Spec{}, fmt.Errorf("%w: %v", ErrBadSpec, err)
	}
	s := Spec{Name: f.Name, Description: f.Description, Engines: f.Engines, Exclude: f.Exclude, Repeat: f.Repeat, Seed: f.Seed, Notes: f.Notes}
	var errs []error
	for _, p := range f.Params {
		pp, err := ParseParam(p)
		if err != nil {
			errs = append(errs, err)
		}
		s.Params = append(s.Params, pp)
	}
	for _, x := range f.Fixed {
		st, err := ParseSetting(x)
		if err != nil {
			errs = append(errs, err)
		}
		s.Fixed = append(s.Fixed, st)
	}
	return s, errors.Join(errs...)
}

// LoadSpec reads a YAML sweep spec file.
func LoadSpec(path string) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("sweep: %w", err)
	}
	return ParseSpec(b)
}
