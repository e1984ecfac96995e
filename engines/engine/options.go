package engine

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
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

// byteUnits are the suffixes ParseBytes accepts, longest first so that "KiB"
// is not read as "B".
var byteUnits = [...]struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// ParseBytes reads a non-negative integer byte count, optionally followed by
// a unit: KiB/MiB/GiB/TiB are binary, KB/MB/GB/TB decimal, B is bytes; case
// is ignored ("64MiB", "10gib", "4096").
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if len(s) > len(u.suffix) && strings.EqualFold(s[len(s)-len(u.suffix):], u.suffix) {
			mult = u.mult
			s = strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("not an integer byte count")
	}
	if n < 0 {
		return 0, errors.New("negative")
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("overflows int64")
	}
	return n * mult, nil
}

// FormatBytes prints n with the largest binary unit that divides it exactly,
// so that ParseBytes(FormatBytes(n)) == n.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
