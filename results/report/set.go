package report

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"etcdlab/results"
)

// Run is one loaded run of a set.
type Run struct {
	Dir    string
	Point  string
	Repeat int
	Params []Setting
	Result *results.Result
}

// Set is the runs of a run, sweep or repeats directory.
type Set struct {
	Dir      string
	Manifest *Manifest // nil unless a sweep
	Runs     []Run
	// Skipped lists runs left out (interrupted, missing or unreadable) with
	// the reason.
	Skipped []string
}

// Load reads dir as a run directory (result.json), a sweep directory
// (sweep.json) or a directory whose subdirectories are runs (repeats).
func Load(dir string) (*Set, error) {
	s := &Set{Dir: dir}
	if _, err := os.Stat(filepath.Join(dir, results.ResultFile)); err == nil {
		r, err := results.Load(dir)
		if err != nil {
			return nil, err
		}
		s.add(Run{Dir: dir, Point: filepath.Base(filepath.Clean(dir)), Result: r})
	} else if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		m, err := ReadManifest(dir)
		if err != nil {
			return nil, err
		}
		s.Manifest = m
		for _, mr := range m.Runs {
			p := filepath.Join(dir, mr.Dir)
			r, err := results.Load(p)
			if err != nil {
				s.Skipped = append(s.Skipped, fmt.Sprintf("%s: not run or unreadable", mr.Dir))
				continue
			}
			s.add(Run{Dir: p, Point: mr.Point, Repeat: mr.Repeat, Params: mr.Params, Result: r})
		}
	} else {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		k := 0
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if _, err := os.Stat(filepath.Join(p, results.ResultFile)); err != nil {
				continue
			}
			r, err := results.Load(p)
			if err != nil {
				s.Skipped = append(s.Skipped, fmt.Sprintf("%s: %v", e.Name(), err))
				continue
			}
			s.add(Run{Dir: p, Point: filepath.Base(filepath.Clean(dir)), Repeat: k, Result: r})
			k++
		}
	}
	if len(s.Runs) == 0 {
		if len(s.Skipped) > 0 {
			return nil, fmt.Errorf("%w in %s: %s", ErrNoRuns, dir, strings.Join(s.Skipped, "; "))
		}
		return nil, fmt.Errorf("%w in %s (a run directory, a sweep directory or a directory of runs)", ErrNoRuns, dir)
	}
	return s, nil
}

func (s *Set) add(r Run) {
	if r.Result.Interrupted {
		s.Skipped = append(s.Skipped, fmt.Sprintf("%s: interrupted", r.Dir))
		return
	}
	if err := r.Result.Complete(); err != nil {
		s.Skipped = append(s.Skipped, fmt.Sprintf("%s: %v", r.Dir, err))
		return
	}
	s.Runs = append(s.Runs, r)
}

// Point is the runs of one parameter combination.
type Point struct {
	ID     string
	Params []Setting
	Runs   []Run
}

// Label is the point's parameters as "a=1 b=2", or its id.
func (p Point) Label() string { return settingsLabel(p.Params, "", p.ID) }

func settingsLabel(ss []Setting, skip, def string) string {
	var parts []string
	for _, s := range ss {
		if s.Name != skip {
			parts = append(parts, s.Name+"="+s.Value)
		}
	}
	if len(parts) == 0 {
		return def
	}
	return strings.Join(parts, " ")
}

// Param returns the value of the named parameter and whether it is set.
func (p Point) Param(name string) (string, bool) {
	for _, s := range p.Params {
		if s.Name == name {
			return s.Value, true
		}
	}
	return "", false
}

// Points groups the runs by point, in the sweep's parameter order (the
// manifest's value order), else in order of first appearance.
func (s *Set) Points() []Point {
	idx := map[string]int{}
	var pts []Point
	for _, r := range s.Runs {
		i, ok := idx[r.Point]
		if !ok {
			i = len(pts)
			idx[r.Point] = i
			pts = append(pts, Point{ID: r.Point, Params: r.Params})
		}
		pts[i].Runs = append(pts[i].Runs, r)
	}
	if s.Manifest != nil {
		rank := func(p Point) []int {
			var out []int
			for _, par := range s.Manifest.Params {
				v, _ := p.Param(par.Name)
				k := len(par.Values)
				for j, pv := range par.Values {
					if pv == v {
						k = j
					}
				}
				out = append(out, k)
			}
			return out
		}
		sort.SliceStable(pts, func(i, j int) bool {
			a, b := rank(pts[i]), rank(pts[j])
			for k := range a {
				if a[k] != b[k] {
					return a[k] < b[k]
				}
			}
			return false
		})
	}
	return pts
}
