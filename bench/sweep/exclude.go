package sweep

import (
	"fmt"
	"slices"
	"strings"

	"etcdlab/bench/runflags"
)

// rule is one exclusion: a point is dropped when every term holds.
type rule []term

// term is name=value, or name!=value when negate.
type term struct {
	name, value string
	negate      bool
}

// parseRule reads space-separated terms, each name=value or name!=value,
// the name a run flag ("engine" included).
func parseRule(s string) (rule, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: empty exclude rule", ErrBadSpec)
	}
	known := runflags.Names()
	var r rule
	for _, f := range fields {
		name, value, ok := strings.Cut(f, "=")
		negate := strings.HasSuffix(name, "!")
		name = runflags.Canonical(strings.TrimSuffix(strings.TrimPrefix(name, "--"), "!"))
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: exclude rule %q: term %q: want name=value or name!=value", ErrBadSpec, s, f)
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("%w: exclude rule %q: unknown parameter %q (accepted: %s)", ErrBadSpec, s, name, strings.Join(known, ", "))
		}
		r = append(r, term{name: name, value: value, negate: negate})
	}
	return r, nil
}

// matches says whether every term holds for the settings looked up by
// value. A term on a name that has no value never holds, so a rule about
// a parameter an override removed excludes nothing.
func (r rule) matches(value func(name string) (string, bool)) bool {
	for _, t := range r {
		v, ok := value(t.name)
		if !ok || (v == t.value) == t.negate {
			return false
		}
	}
	return true
}

// rules parses the spec's exclusions, returning every problem at once.
func (s *Spec) rules() ([]rule, []error) {
	var rs []rule
	var errs []error
	for _, x := range s.Exclude {
		r, err := parseRule(x)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs = append(rs, r)
	}
	return rs, errs
}

// excluded says whether a rule drops the point: its swept values first,
// then the fixed settings.
func (s *Spec) excluded(rs []rule, pt []runflags.Setting) bool {
	value := func(name string) (string, bool) {
		for _, ss := range [][]runflags.Setting{pt, s.Fixed} {
			for _, st := range ss {
				if st.Name == name {
					return st.Value, true
				}
			}
		}
		return "", false
	}
	for _, r := range rs {
		if r.matches(value) {
			return true
		}
	}
	return false
}
