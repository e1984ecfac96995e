package event

import (
	"regexp"
	"testing"
)

func TestNames(t *testing.T) {
	form := regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
	seen := map[string]bool{}
	for _, k := range All() {
		if !form.MatchString(k) {
			t.Errorf("%q is not a lower-case dashed name", k)
		}
		if seen[k] {
			t.Errorf("%q listed twice", k)
		}
		seen[k] = true
		if !Known(k) {
			t.Errorf("Known(%q) = false", k)
		}
	}
	for _, bad := range []string{"", "snapshot", "leader change", "Snapshot-Taken"} {
		if Known(bad) {
			t.Errorf("Known(%q) = true", bad)
		}
	}
}
