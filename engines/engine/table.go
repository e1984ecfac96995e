package engine

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Table is an engine's options as data: one Field per knob, in the order
// `etcdlab engines` lists them. Every engine parses, prints, documents and
// checks its options through its Table, so all engines accept the same
// spellings (byte counts with units, Go durations, strconv bools) and report
// problems the same way: every problem at once, each wrapping ErrBadOption
// and naming the engine, the key, the value and what the key accepts.
type Table[O any] struct {
	// Engine is the engine's name, for error messages.
	Engine string
	// Fields are the knobs, in display order; keys are unique.
	Fields []Field[O]
}

// Field is one knob of an options type O: where its value lives in O (Value,
// built with Bytes, Int, Float, Bool, Negated, Duration or OneOf) and how it
// is documented.
type Field[O any] struct {
	Key     string // option key, e.g. "initial-mmap-size"
	Default string // the default as text, as `etcdlab engines` shows it
	Doc     string // one-line description with units and accepted values
	// Want says what a valid value looks like, for errors ("a positive byte
	// count such as 64MiB"). Default: the Value's own description (bools and
	// OneOf have one).
	Want  string
	Value Value[O]
}

// Value binds a field to O: it reads a value from text, checks and stores
// it, prints it back, and checks the value stored.
type Value[O any] struct {
	// set parses text into o; a failure returns ok false and, when the
	// parser has something useful to say, a detail.
	set    func(o *O, text string) (detail string, ok bool)
	format func(o *O) string
	valid  func(o *O) bool
	want   string
}

// Knobs documents every field, in table order.
func (t Table[O]) Knobs() []Knob {
	ks := make([]Knob, len(t.Fields))
	for i, f := range t.Fields {
		ks[i] = Knob{Key: f.Key, Default: f.Default, Doc: f.Doc}
	}
	return ks
}

// Set stores the value of every key of kv in o. Unknown keys and bad values
// are all reported, in key order; o holds every value that was good.
func (t Table[O]) Set(o *O, kv map[string]string) error {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error order
	var errs []error
	for _, k := range keys {
		f, ok := t.field(k)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: %s: unknown option %q (accepted: %s)", ErrBadOption, t.Engine, k, KnobList(t.Knobs())))
			continue
		}
		if detail, ok := f.Value.set(o, kv[k]); !ok {
			if detail != "" {
				detail = " (" + detail + ")"
			}
			errs = append(errs, t.bad(f, kv[k], detail))
		}
	}
	return errors.Join(errs...)
}

// Validate reports every field whose value in o is out of range.
func (t Table[O]) Validate(o *O) error {
	var errs []error
	for _, f := range t.Fields {
		if !f.Value.valid(o) {
			errs = append(errs, t.bad(f, f.Value.format(o), ""))
		}
	}
	return errors.Join(errs...)
}

// Problem is the error for a rule that spans fields, in the form of the
// table's other errors: key names the field reported, the text says why.
func (t Table[O]) Problem(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s: %s", ErrBadOption, t.Engine, key, fmt.Sprintf(format, args...))
}

func (t Table[O]) bad(f Field[O], val, detail string) error {
	want := f.Want
	if want == "" {
		want = f.Value.want
	}
	return fmt.Errorf("%w: %s %s=%q: want %s%s", ErrBadOption, t.Engine, f.Key, val, want, detail)
}

// String renders o as space-separated key=value pairs sorted by key, every
// field included: split with strings.Fields and fed to ParseKV and Set (or
// the engine's ParseOptions), it gives o back.
func (t Table[O]) String(o *O) string {
	parts := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		parts[i] = f.Key + "=" + f.Value.format(o)
	}
	sort.Strings(parts) // keys are unique, so this sorts by key
	return strings.Join(parts, " ")
}

func (t Table[O]) field(key string) (Field[O], bool) {
	for _, f := range t.Fields {
		if f.Key == key {
			return f, true
		}
	}
	return Field[O]{}, false
}

// Options is what Parse needs of an engine's options type: a pointer to it
// fills the defaults and validates.
type Options[O any] interface {
	*O
	EnsureDefaults()
	Validate() error
}

// Parse turns key=value pairs (from ParseKV) into options with defaults
// applied: an engine's ParseOptions. Unknown keys and malformed or
// out-of-range values are all reported at once; the options' own Validate
// (rules spanning fields) runs only on well-formed values, so that no
// problem is reported twice.
func Parse[O any, P Options[O]](t Table[O], kv map[string]string) (O, error) {
	var o O
	if err := t.Set(&o, kv); err != nil {
		var zero O
		return zero, err
	}
	P(&o).EnsureDefaults()
	if err := P(&o).Validate(); err != nil {
		var zero O
		return zero, err
	}
	return o, nil
}

// Bytes is a byte count (ParseBytes, printed with FormatBytes) stored in an
// integer field; valid says which counts are accepted (nil: any).
func Bytes[O any, T ~int | ~int64](ptr func(*O) *T, valid func(T) bool) Value[O] {
	ok := func(n T) bool { return valid == nil || valid(n) }
	return Value[O]{
		set: func(o *O, s string) (string, bool) {
			n, err := ParseBytes(s)
			if err != nil {
				return err.Error(), false
			}
			if int64(T(n)) != n || !ok(T(n)) {
				return "", false
			}
			*ptr(o) = T(n)
			return "", true
		},
		format: func(o *O) string { return FormatBytes(int64(*ptr(o))) },
		valid:  func(o *O) bool { return ok(*ptr(o)) },
		want:   "a byte count such as 4096 or 64MiB",
	}
}

// Int is a decimal integer; valid says which are accepted (nil: any).
func Int[O any](ptr func(*O) *int, valid func(int) bool) Value[O] {
	ok := func(n int) bool { return valid == nil || valid(n) }
	return Value[O]{
		set: func(o *O, s string) (string, bool) {
			n, err := strconv.Atoi(s)
			if err != nil || !ok(n) {
				return "", false
			}
			*ptr(o) = n
			return "", true
		},
		format: func(o *O) string { return strconv.Itoa(*ptr(o)) },
		valid:  func(o *O) bool { return ok(*ptr(o)) },
		want:   "an integer",
	}
}

// Float is a decimal number (printed in the shortest form that reads back
// exactly); valid says which are accepted (nil: any finite number).
func Float[O any](ptr func(*O) *float64, valid func(float64) bool) Value[O] {
	ok := func(f float64) bool {
		return !math.IsNaN(f) && !math.IsInf(f, 0) && (valid == nil || valid(f))
	}
	return Value[O]{
		set: func(o *O, s string) (string, bool) {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || !ok(f) {
				return "", false
			}
			*ptr(o) = f
			return "", true
		},
		format: func(o *O) string { return strconv.FormatFloat(*ptr(o), 'g', -1, 64) },
		valid:  func(o *O) bool { return ok(*ptr(o)) },
		want:   "a number",
	}
}

// Bool is a bool as strconv.ParseBool reads it (true, false, 1, 0, t, f…).
func Bool[O any](ptr func(*O) *bool) Value[O] {
	return boolValue(func(o *O, b bool) { *ptr(o) = b }, func(o *O) bool { return *ptr(o) })
}

// Negated is a bool knob stored as its negation: the knob no-x=true sets the
// field X to false (bbolt's no-freelist-sync and Options.SyncFreelist).
func Negated[O any](ptr func(*O) *bool) Value[O] {
	return boolValue(func(o *O, b bool) { *ptr(o) = !b }, func(o *O) bool { return !*ptr(o) })
}

func boolValue[O any](set func(*O, bool), get func(*O) bool) Value[O] {
	return Value[O]{
		set: func(o *O, s string) (string, bool) {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return "", false
			}
			set(o, b)
			return "", true
		},
		format: func(o *O) string { return strconv.FormatBool(get(o)) },
		valid:  func(*O) bool { return true },
		want:   "a bool (true or false)",
	}
}

// Duration is a Go duration (time.ParseDuration, printed by
// Duration.String); valid says which are accepted (nil: any).
func Duration[O any](ptr func(*O) *time.Duration, valid func(time.Duration) bool) Value[O] {
	ok := func(d time.Duration) bool { return valid == nil || valid(d) }
	return Value[O]{
		set: func(o *O, s string) (string, bool) {
			d, err := time.ParseDuration(s)
			if err != nil || !ok(d) {
				return "", false
			}
			*ptr(o) = d
			return "", true
		},
		format: func(o *O) string { return (*ptr(o)).String() },
		valid:  func(o *O) bool { return ok(*ptr(o)) },
		want:   "a Go duration such as 1s or 500ms",
	}
}

// OneOf is one of a fixed set of words, matched exactly; the default error
// text lists them in the order given.
func OneOf[O any, T ~string](ptr func(*O) *T, values ...T) Value[O] {
	ok := func(v T) bool {
		for _, w := range values {
			if v == w {
				return true
			}
		}
		return false
	}
	words := make([]string, len(values))
	for i, v := range values {
		words[i] = string(v)
	}
	return Value[O]{
		set: func(o *O, s string) (string, bool) {
			if !ok(T(s)) {
				return "", false
			}
			*ptr(o) = T(s)
			return "", true
		},
		format: func(o *O) string { return string(*ptr(o)) },
		valid:  func(o *O) bool { return ok(*ptr(o)) },
		want:   "one of " + strings.Join(words, ", "),
	}
}
