package engine

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{"4096", 4096, ""},
		{"64MiB", 64 << 20, ""},
		{" 10 gib ", 10 << 30, ""},
		{"1KB", 1000, ""},
		{"3B", 3, ""},
		{"", 0, "not an integer"},
		{"MiB", 0, "not an integer"},
		{"1.5GiB", 0, "not an integer"},
		{"-1", 0, "negative"},
		{"9000000TiB", 0, "overflows"},
	} {
		got, err := ParseBytes(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseBytes(%q) = %d, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if back, err := ParseBytes(FormatBytes(got)); err != nil || back != got {
			t.Errorf("round trip of %d through %q gave %d, %v", got, FormatBytes(got), back, err)
		}
	}
}

func TestParseKVReportsEveryProblem(t *testing.T) {
	knobs := []Knob{{Key: "a", Default: "1"}, {Key: "b", Default: "2"}}
	_, err := ParseKV("x", []string{"a=1", "a=2", "c=3", "novalue"}, knobs)
	if !errors.Is(err, ErrBadOption) {
		t.Fatalf("err = %v, want ErrBadOption", err)
	}
	for _, want := range []string{`"a" given twice`, `unknown option "c"`, `"novalue" is not of the form key=value`, "a (default 1), b (default 2)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
	m, err := ParseKV("x", []string{" a = 5 "}, knobs)
	if err != nil || m["a"] != "5" {
		t.Fatalf("ParseKV trimmed = %v, %v", m, err)
	}
}
