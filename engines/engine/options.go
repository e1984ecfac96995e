package engine

import (
	"fmt"
	"sort"
	"strings"
)

// Knob documents one engine option that can be set as key=value.
type Knob struct {
	Key     string // option key, e.g. "initial-mmap-size"
	Default string // default value as text
	Doc     string // one-line description with units and accepted values
}

// ParseKV splits "key=value" strings into a map. Every malformed entry and every
// key not in knobs is reported at once, each naming the accepted keys; a key
// given twice is an error too.
func ParseKV(engineName string, kvs []string, knobs []Knob) (map[string]string, error) {
	known := make(map[string]bool, len(knobs))
	for _, k := range knobs {
		known[k.Key] = true
	}
	out := make(map[string]string, len(kvs))
	var problems []string
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok || k == "":
			problems = append(problems, fmt.Sprintf("%q is not of the form key=value", kv))
		case !known[k]:
			problems = append(problems, fmt.Sprintf("unknown option %q", k))
		case hasKey(out, k):
			problems = append(problems, fmt.Sprintf("option %q given twice", k))
		default:
			out[k] = strings.TrimSpace(v)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w for engine %s: %s (accepted: %s)", ErrBadOption, engineName,
			strings.Join(problems, "; "), KnobList(knobs))
	}
	return out, nil
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// KnobList formats knobs as "key (default D), ..." sorted by key.
func KnobList(knobs []Knob) string {
	ks := append([]Knob(nil), knobs...)
	sort.Slice(ks, func(i, j int) bool { return ks[i].Key < ks[j].Key })
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = fmt.Sprintf("%s (default %s)", k.Key, k.Default)
	}
	return strings.Join(parts, ", ")
}
