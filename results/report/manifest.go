package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ManifestSchema names the sweep.json schema.
const ManifestSchema = "etcdlab/sweep/v1"

// File names of a sweep directory.
const (
	ManifestFile = "sweep.json"
	SummaryFile  = "summary.csv"
	ReportFile   = "report.md"
	PlotsDir     = "plots"
	RunsDir      = "runs"
)

var (
	// ErrBadManifest marks a sweep.json this version cannot read.
	ErrBadManifest = errors.New("report: bad sweep manifest")
	// ErrNoRuns marks a directory without any usable run.
	ErrNoRuns = errors.New("report: no completed runs")
)

// Setting is one parameter name (a run flag) and its value.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Param is a swept parameter and its values, in sweep order.
type Param struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
	// Layers are the run layers that read the parameter (empty: every
	// layer, or a sweep written before it was recorded): on another layer
	// its values change nothing.
	Layers []string `json:"layers,omitempty"`
}

// ManifestRun is one run of a sweep: its directory relative to the sweep
// directory, its point id, its repeat index and its parameter values.
type ManifestRun struct {
	Dir    string    `json:"dir"`
	Point  string    `json:"point"`
	Repeat int       `json:"repeat"`
	Params []Setting `json:"params"`
}

// Manifest is sweep.json: what was swept, with which fixed settings, and
// the order the runs are executed in.
type Manifest struct {
	Schema string `json:"schema"`
	// Name is the experiment's name, or "sweep".
	Name string `json:"name"`
	// Description says what the experiment asks (presets only).
	Description string    `json:"description,omitempty"`
	Params      []Param   `json:"params"`
	Fixed       []Setting `json:"fixed"`
	// Exclude are the rules that dropped points from the product of Params
	// (sweep.Spec.Exclude); Runs lists only the points kept.
	Exclude []string `json:"exclude,omitempty"`
	Repeat  int      `json:"repeat"`
	// Seed drives the run order; run k's workload seed is in its result.
	Seed int64 `json:"seed"`
	// Build identifies the etcdlab binary that started the sweep (a hash
	// of its executable). A resume by another build is refused: its
	// finished runs could follow other defaults than the new ones.
	// Empty in sweeps written before it existed.
	Build string        `json:"build,omitempty"`
	Runs  []ManifestRun `json:"runs"`
	// Notes are caveats written into the report (what an experiment cannot
	// measure through this harness yet).
	Notes []string `json:"notes,omitempty"`
}

// WriteManifest writes m to dir/sweep.json through a rename.
func WriteManifest(dir string, m *Manifest) error {
	m.Schema = ManifestSchema
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, ManifestFile))
}

// ReadManifest reads dir/sweep.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadManifest, dir, err)
	}
	if m.Schema != ManifestSchema {
		return nil, fmt.Errorf("%w: %s: schema %q, this version reads %q", ErrBadManifest, dir, m.Schema, ManifestSchema)
	}
	return &m, nil
}
