package engine

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// testOpts has one field of every kind the table helper supports.
type testOpts struct {
	Size  int64
	Small int
	N     int
	F     float64
	B     bool
	Sync  bool // the knob is no-sync
	D     time.Duration
	Mode  string
}

func (o *testOpts) EnsureDefaults() {
	if o.Size == 0 {
		o.Size = 1 << 20
	}
	if o.Mode == "" {
		o.Mode = "a"
	}
}

func (o *testOpts) Validate() error {
	t := testTable()
	errs := []error{t.Validate(o)}
	if o.N > 0 && o.Small > o.N {
		errs = append(errs, t.Problem("small", "%d must be <= n (%d)", o.Small, o.N))
	}
	return errors.Join(errs...)
}

func testTable() Table[testOpts] {
	return Table[testOpts]{Engine: "test", Fields: []Field[testOpts]{
		{Key: "size", Default: "1MiB", Doc: "bytes", Want: "a positive byte count",
			Value: Bytes(func(o *testOpts) *int64 { return &o.Size }, func(n int64) bool { return n > 0 })},
		{Key: "small", Default: "0", Doc: "bytes in an int", Value: Bytes(func(o *testOpts) *int { return &o.Small }, nil)},
		{Key: "n", Default: "0", Doc: "int", Want: "an integer in [0, 10]",
			Value: Int(func(o *testOpts) *int { return &o.N }, func(n int) bool { return n >= 0 && n <= 10 })},
		{Key: "f", Default: "0", Doc: "float", Value: Float(func(o *testOpts) *float64 { return &o.F }, nil)},
		{Key: "b", Default: "false", Doc: "bool", Value: Bool(func(o *testOpts) *bool { return &o.B })},
		{Key: "no-sync", Default: "true", Doc: "negated bool", Value: Negated(func(o *testOpts) *bool { return &o.Sync })},
		{Key: "d", Default: "0s", Doc: "duration", Value: Duration(func(o *testOpts) *time.Duration { return &o.D }, func(d time.Duration) bool { return d >= 0 })},
		{Key: "mode", Default: "a", Doc: "enum", Value: OneOf(func(o *testOpts) *string { return &o.Mode }, "a", "b")},
	}}
}

func TestTable(t *testing.T) {
	tbl := testTable()
	for _, tc := range []struct {
		name    string
		kv      map[string]string
		want    testOpts
		wantErr []string // each must appear in the error
	}{
		{name: "defaults", want: testOpts{Size: 1 << 20, Mode: "a"}},
		{name: "every kind", kv: map[string]string{"size": "2KiB", "small": "8", "n": "10", "f": "0.25",
			"b": "1", "no-sync": "false", "d": "1m30s", "mode": "b"},
			want: testOpts{Size: 2048, Small: 8, N: 10, F: 0.25, B: true, Sync: true, D: 90 * time.Second, Mode: "b"}},
		{name: "every problem at once", kv: map[string]string{"size": "lots", "small": "-1", "n": "11", "f": "NaN",
			"b": "yes please", "no-sync": "2", "d": "-1s", "mode": "c", "colour": "blue"},
			wantErr: []string{`test size="lots": want a positive byte count (not an integer byte count)`,
				`test small="-1": want a byte count such as 4096 or 64MiB (negative)`,
				`test n="11": want an integer in [0, 10]`, `test f="NaN": want a number`,
				`test b="yes please": want a bool (true or false)`, `test no-sync="2": want a bool`,
				`test d="-1s": want a Go duration`, `test mode="c": want one of a, b`,
				`test: unknown option "colour" (accepted: b (default false), d (default 0s)`}},
		{name: "zero refused when given", kv: map[string]string{"size": "0"}, wantErr: []string{`size="0"`}},
		{name: "rule across fields", kv: map[string]string{"n": "2", "small": "3"}, wantErr: []string{"test small: 3 must be <= n (2)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tbl, tc.kv)
			if tc.wantErr != nil {
				if !errors.Is(err, ErrBadOption) {
					t.Fatalf("err = %v, want ErrBadOption", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error\n%v\nlacks %q", err, w)
					}
				}
				if n, want := strings.Count(err.Error(), "\n")+1, len(tc.wantErr); n != want {
					t.Errorf("%d problems reported, want %d:\n%v", n, want, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse = %+v, %v; want %+v", got, err, tc.want)
			}
			// String names every knob, sorted, and reads back to the same options.
			s := tbl.String(&got)
			kv, err := ParseKV("test", strings.Fields(s), tbl.Knobs())
			if err != nil || len(kv) != len(tbl.Fields) {
				t.Fatalf("ParseKV(%q) = %v, %v", s, kv, err)
			}
			if back, err := Parse(tbl, kv); err != nil || back != got {
				t.Errorf("round trip of %q = %+v, %v; want %+v", s, back, err, got)
			}
		})
	}
	var zero testOpts
	if err := tbl.Validate(&zero); err == nil || !strings.Contains(err.Error(), `size="0"`) || !strings.Contains(err.Error(), `mode=""`) {
		t.Errorf("Validate(zero) = %v, want size and mode reported", err)
	}
	if ks := tbl.Knobs(); len(ks) != len(tbl.Fields) || ks[0].Key != "size" || ks[5].Default != "true" {
		t.Errorf("Knobs() = %+v", ks)
	}
}
