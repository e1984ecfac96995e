package cluster

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// nonDefault sets flag f of fl to a value other than its default, chosen to
// exercise String's quoting (a space, a quote, an empty element), and
// returns what it set.
func nonDefault(t *testing.T, fl *pflag.FlagSet, f *pflag.Flag) []string {
	t.Helper()
	var vals []string
	switch typ := f.Value.Type(); typ {
	case "string":
		vals = []string{`a b"c`}
	case "stringArray":
		vals = []string{"k=v w", "", "x=1"}
	case "bool":
		b, err := strconv.ParseBool(f.DefValue)
		if err != nil {
			t.Fatal(err)
		}
		vals = []string{strconv.FormatBool(!b)}
	case "int", "int64":
		vals = []string{"-7"}
	case "uint64":
		d, err := strconv.ParseUint(f.DefValue, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		vals = []string{strconv.FormatUint(d+7, 10)}
	case "duration":
		d, err := time.ParseDuration(f.DefValue)
		if err != nil {
			t.Fatal(err)
		}
		vals = []string{(d + 1500*time.Millisecond).String()}
	default:
		t.Fatalf("knob --%s has type %s: give this test a non-default value for it", f.Name, typ)
	}
	for _, v := range vals {
		if err := fl.Set(f.Name, v); err != nil {
			t.Fatalf("--%s=%q: %v", f.Name, v, err)
		}
	}
	return vals
}

// TestNodeOptionsRoundTrip: for every knob the node options' flag set holds
// (RegisterFlags' and the others), a non-default value survives String →
// ParseNodeOptions, and String of what was parsed is the same string. A
// knob added to the flag set is covered without touching this test.
func TestNodeOptionsRoundTrip(t *testing.T) {
	var probe NodeOptions
	var names []string
	probe.knobs().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	if len(names) < 20 {
		t.Fatalf("only %d knobs: %v", len(names), names)
	}
	defaults := probe.String()
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var o NodeOptions
			fl := o.knobs()
			vals := nonDefault(t, fl, fl.Lookup(name))
			s := o.String()
			if s == defaults {
				t.Fatalf("--%s=%q does not change String: %s", name, vals, s)
			}
			for _, v := range vals {
				if want := name + "=" + quoteKnob(v); !strings.Contains(s, want) {
					t.Errorf("String lacks %s: %s", want, s)
				}
			}
			p, err := ParseNodeOptions(s)
			if err != nil {
				t.Fatalf("ParseNodeOptions(%s): %v", s, err)
			}
			if got := p.String(); got != s {
				t.Fatalf("round trip:\n got %s\nwant %s", got, s)
			}
			if !reflect.DeepEqual(p, o) {
				t.Fatalf("parsed %+v, want %+v", p, o)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		o := NodeOptions{ID: 3, Dir: "d", EngineOptions: []string{"wal=disabled"}}
		o.EnsureDefaults()
		p, err := ParseNodeOptions(o.String())
		if err != nil {
			t.Fatal(err)
		}
		if p.String() != o.String() {
			t.Fatalf("round trip:\n got %s\nwant %s", p.String(), o.String())
		}
		if p.RequestTimeout != o.RequestTimeout || p.SnapshotCount != DefaultSnapshotCount || p.Backend.BatchLimit != o.Backend.BatchLimit || p.ID != 0 || p.Dir != "" {
			t.Fatalf("parsed %+v", p)
		}
	})
}

// TestNodeOptionsStringCoversEveryField: every field of NodeOptions (and of
// its Backend) that is a knob shows in String, so that a field added
// without a flag in knobs fails here, by name. The identity and the
// plumbing are not knobs.
func TestNodeOptionsStringCoversEveryField(t *testing.T) {
	notKnobs := map[string]bool{"ID": true, "Dir": true, "Peers": true, "Join": true, "FS": true, "WrapEngine": true,
		"Clock": true, "OnEvent": true, "Metrics": true, "Backend.Clock": true, "Backend.OnCommit": true}
	var o NodeOptions
	o.EnsureDefaults()
	base := o.String()
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			name := prefix + sf.Name
			if !sf.IsExported() || notKnobs[name] {
				continue
			}
			fv := v.Field(i)
			old := reflect.ValueOf(fv.Interface())
			switch fv.Kind() {
			case reflect.Struct:
				walk(name+".", fv)
				continue
			case reflect.String:
				fv.SetString(fv.String() + "x")
			case reflect.Bool:
				fv.SetBool(!fv.Bool())
			case reflect.Int, reflect.Int64:
				fv.SetInt(fv.Int() + 7)
			case reflect.Uint64:
				fv.SetUint(fv.Uint() + 7)
			case reflect.Slice:
				fv.Set(reflect.Append(fv, reflect.ValueOf("k=v")))
			default:
				t.Errorf("field %s of kind %s: a knob (add it to knobs) or not (add it to notKnobs)", name, fv.Kind())
				continue
			}
			if o.String() == base {
				t.Errorf("field %s does not show in String: give it a flag in NodeOptions.knobs", name)
			}
			fv.Set(old)
		}
	}
	walk("", reflect.ValueOf(&o).Elem())
	if o.String() != base {
		t.Fatal("the walk did not restore the options")
	}
}

func TestParseNodeOptionsErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"snapshot-count", "not name=value"},
		{"=3", "not name=value"},
		{"nope=1", `unknown knob "nope"`},
		{"snapshot-count=1 snapshot-count=2", "given twice"},
		{"snapshot-count=-1", "snapshot-count"},
		{`engine="bbolt`, "bad quoted value"},
		{`engine="bbolt"x`, "after the quoted value"},
		{"initial-election-tick-advance=maybe", "initial-election-tick-advance"},
	} {
		_, err := ParseNodeOptions(tt.in)
		if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseNodeOptions(%q) = %v, want an ErrBadOption naming %q", tt.in, err, tt.want)
		}
	}
	o, err := ParseNodeOptions("  snapshot-count=5   engine-opt=a=1 engine-opt=\"b c\"  ")
	if err != nil || o.SnapshotCount != 5 || !reflect.DeepEqual(o.EngineOptions, []string{"a=1", "b c"}) || o.QuotaBytes != DefaultQuotaBytes {
		t.Fatalf("got %+v, %v", o, err)
	}
}
