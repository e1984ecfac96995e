package workloads

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func validSpec() Spec {
	s := Spec{Ops: OpMix{Get: 0.5, Put: 0.5}}
	s.EnsureDefaults()
	return s
}

func TestValidateNamesField(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Spec)
		want []string
	}{
		{"negative op", func(s *Spec) { s.Ops.Get = -0.1; s.Ops.Put = 1.1 }, []string{"ops.get: negative fraction -0.1"}},
		{"txn_cas field name", func(s *Spec) { s.Ops.TxnCAS = -1; s.Ops.Put = 1.5 }, []string{"ops.txn_cas: negative fraction -1"}},
		{"sum low", func(s *Spec) { s.Ops.Get = 0.4 }, []string{"ops: fractions add up to 0.9, want 1"}},
		{"sum high", func(s *Spec) { s.Ops.Insert = 0.5 }, []string{"ops: fractions add up to 1.5, want 1"}},
		{"value min negative", func(s *Spec) { s.ValueSize.Min = -1 }, []string{"value_size.min: negative size -1"}},
		{"value max negative", func(s *Spec) { s.ValueSize = Size{Min: -2, Max: -1} }, []string{"value_size.min: negative size -2", "value_size.max: negative size -1"}},
		{"value min>max", func(s *Spec) { s.ValueSize = Between(10, 5) }, []string{"value_size: min 10 > max 5"}},
		{"value too big", func(s *Spec) { s.ValueSize = Fixed(MaxValueSize + 1) }, []string{"value_size.max: "}},
		{"key size negative", func(s *Spec) { s.Keys.Size.Min = -3 }, []string{"keys.size.min: negative size -3"}},
		{"key too small", func(s *Spec) { s.Keys.Size = Fixed(3); s.Keys.Prefix = "k" }, []string{"keys.size: 3-byte keys with prefix \"k\" hold 100 decimal ids, fewer than keys.count 100000"}},
		{"count negative", func(s *Spec) { s.Keys.Count = -5 }, []string{"keys.count: negative count -5"}},
		{"distribution", func(s *Spec) { s.Keys.Distribution = "pareto" }, []string{`keys.distribution: unknown distribution "pareto"`}},
		{"theta range", func(s *Spec) { s.Keys.Distribution = Zipfian; s.Keys.Theta = 1.2 }, []string{"keys.theta: 1.2 not in (0, 1)"}},
		{"theta unused", func(s *Spec) { s.Keys.Theta = 0.5 }, []string{"keys.theta: only used by the zipfian and latest"}},
		{"hot keys", func(s *Spec) { s.Keys.Distribution = Hotspot; s.Keys.HotKeys = 1; s.Keys.HotOps = 2 }, []string{"keys.hot_keys: 1 not in (0, 1)", "keys.hot_ops: 2 not in [0, 1]"}},
		{"hot unused", func(s *Spec) { s.Keys.HotOps = 0.5 }, []string{"keys.hot_ops: only used by the hotspot"}},
		{"expected inserts", func(s *Spec) { s.Keys.ExpectedInserts = -1 }, []string{"keys.expected_inserts: negative count -1"}},
		{"expected inserts unused", func(s *Spec) { s.Keys.ExpectedInserts = 10 }, []string{"keys.expected_inserts: only used by the zipfian"}},
		{"encoding", func(s *Spec) { s.Keys.Encoding = "hex" }, []string{`keys.encoding: unknown encoding "hex"`}},
		{"shape", func(s *Spec) { s.Keys.Shape = "tree" }, []string{`keys.shape: unknown shape "tree"`}},
		{"k8s with size", func(s *Spec) {
			s.Keys.Shape = ShapeK8s
			s.Keys.Encoding = ""
			s.Keys.Resources = []string{"pods", "a/b"}
			s.Keys.Namespaces = 2
		},
			[]string{"keys.size: not used with keys.shape k8s", `keys.resources[1]: "a/b" is not a resource name`}},
		{"k8s fields on flat", func(s *Spec) { s.Keys.Namespaces = 3 }, []string{"keys.namespaces: only used by keys.shape k8s"}},
		{"range limit", func(s *Spec) { s.RangeLimit = Size{Min: -1, Max: 4} }, []string{"range_limit.min: negative size -1"}},
		{"consistency", func(s *Spec) { s.ReadConsistency = "1.5" }, []string{`read_consistency: "1.5" is not linearizable, serializable or a fraction in [0, 1]`}},
		{"consistency word", func(s *Spec) { s.ReadConsistency = "strong" }, []string{`read_consistency: "strong"`}},
		{"preload negative", func(s *Spec) { s.Preload = int64p(-1) }, []string{"preload: negative count -1"}},
		{"preload too big", func(s *Spec) { s.Preload = int64p(200_000) }, []string{"preload: 200000 is more than keys.count 100000"}},
		{"watchers", func(s *Spec) { s.Watch = Watch{Watchers: 2, Prefixes: 0, Streams: 3, StartBehind: -1} },
			[]string{"watch.prefixes: 0 must be at least 1", "watch.streams: 3 not in [1, watch.watchers 2]", "watch.start_behind: negative revision count -1"}},
		{"watch fields without watchers", func(s *Spec) { s.Watch = Watch{Prefixes: 2} }, []string{"watch: prefixes, streams and start_behind need watch.watchers"}},
		{"leases", func(s *Spec) { s.Leases = Leases{Rate: -1, KeysPerLease: -1, TTL: -2, RevokeAfter: -1, KeepAlives: -1} },
			[]string{"leases.rate: -1 is not a rate >= 0", "leases.keepalives: negative count -1", "leases.keys_per_lease: negative count -1",
				"leases.ttl: negative TTL -2", "leases.revoke_after: -1 is not a time >= 0"}},
		{"lease fields without traffic", func(s *Spec) { s.Leases = Leases{TTL: 5} }, []string{"leases: keys_per_lease, ttl and revoke_after need leases.rate or leases.keepalives"}},
		{"churn fields on keepalives", func(s *Spec) { s.Leases = Leases{KeepAlives: 2, TTL: 5, KeysPerLease: 3} }, []string{"leases: keys_per_lease and revoke_after are for churn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.mut(&s)
			err := s.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %+v", s)
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("error %v does not wrap ErrInvalidSpec", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	s := validSpec()
	s.Ops.Get = -1
	s.ValueSize.Min = -1
	s.Keys.Count = -1
	s.ReadConsistency = "x"
	err := s.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{"ops.get", "value_size.min", "keys.count", "read_consistency"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in\n%v", w, err)
		}
	}
	if ok := validSpec(); ok.Validate() != nil {
		t.Fatalf("valid spec rejected: %v", ok.Validate())
	}
}

func TestParseSpecUnknownField(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"name: x\nops: {get: 1}\ncolour: red\n", "line 3: field colour not found"},
		{"keys:\n  count: 10\n  distrib: uniform\nops: {get: 1}\n", "line 3: field distrib not found"},
		{"ops: {get: 0.5, reads: 0.5}\n", "field reads not found"},
		{"ops: {get: 1}\nvalue_size: {min: 1, maximum: 4}\n", "line 2: field maximum not found in size"},
		{"ops: {get: 1}\nvalue_size: big\n", `size "big" is not an integer`},
		{"ops: {get: 1}\nvalue_size: -4\n", "value_size.min: negative size -4"},
		{"ops: {get: 0.5, put: 0.4}\n", "ops: fractions add up to 0.9, want 1"},
		{"base: ycsb-z\n", `unknown preset "ycsb-z" (accepted: etcd-put, etcd-range, k8s, k8s-storage, ycsb-a`},
		{"", "empty document"},
		{"ops: {get: 1}\n---\nops: {put: 1}\n", "more than one YAML document"},
	} {
		_, err := ParseSpec([]byte(tc.doc))
		if err == nil {
			t.Errorf("%q: accepted", tc.doc)
			continue
		}
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q, want ErrInvalidSpec containing %q", tc.doc, err, tc.want)
		}
	}
}

func TestParseSpec(t *testing.T) {
	doc := `
name: mine
keys:
  count: 5000
  distribution: hotspot
  hot_keys: 0.1
  size: {min: 12, max: 20}
  prefix: "/k/"
value_size: {min: 100, max: 200}
ops: {get: 0.7, put: 0.2, range: 0.1}
range_limit: 10
read_consistency: 0.25
preload: 0
`
	s, err := ParseSpec([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{
		Name: "mine",
		Keys: Keys{Count: 5000, Distribution: Hotspot, HotKeys: 0.1, HotOps: DefaultHotOps,
			Size: Between(12, 20), Prefix: "/k/", Encoding: EncodingDecimal, Shape: ShapeFlat},
		ValueSize:       Between(100, 200),
		Ops:             OpMix{Get: 0.7, Put: 0.2, Range: 0.1},
		RangeLimit:      Fixed(10),
		ReadConsistency: "0.25",
		Preload:         int64p(0),
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	if f, _ := s.linearizableFraction(); f != 0.25 {
		t.Fatalf("linearizable fraction %v", f)
	}
}

func TestParseSpecBase(t *testing.T) {
	// ops replaces the preset's mix as a whole; other fields merge.
	s, err := ParseSpec([]byte("base: ycsb-a\nname: a-read-only\nkeys: {count: 1000}\nops: {get: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Preset("ycsb-a")
	if s.Ops != (OpMix{Get: 1}) || s.Keys.Count != 1000 || s.Keys.Distribution != Zipfian ||
		s.ValueSize != a.ValueSize || s.Keys.Prefix != "user" || s.Name != "a-read-only" {
		t.Fatalf("merged spec %+v", s)
	}
	// Without ops the preset's mix stays.
	s, err = ParseSpec([]byte("base: ycsb-b\nvalue_size: 64\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops != (OpMix{Get: 0.95, Put: 0.05}) || s.ValueSize != Fixed(64) {
		t.Fatalf("merged spec %+v", s)
	}
}

func TestLoadSpec(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.yaml")
	if err := os.WriteFile(path, []byte("base: k8s\nkeys: {namespaces: 3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Keys.Namespaces != 3 || s.Keys.Shape != ShapeK8s {
		t.Fatalf("%+v", s.Keys)
	}
	if _, err := LoadSpec(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("ops: {get: 1}\nwat: 1\n"), 0o644)
	if _, err := LoadSpec(bad); err == nil || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "wat") {
		t.Fatalf("error %v should name the file and the field", err)
	}
}

func TestPresetsValidateAndRoundTrip(t *testing.T) {
	names := Presets()
	if len(names) != 10 {
		t.Fatalf("presets %v", names)
	}
	for _, name := range names {
		s, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if s.Name != name {
			t.Errorf("%s: name %q", name, s.Name)
		}
		data, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseSpec(data)
		if err != nil {
			t.Fatalf("%s: parse of encoded spec:\n%s\n%v", name, data, err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("%s: round trip\n%s\ngot  %+v\nwant %+v", name, data, back, s)
		}
		// A preset is a fresh value: changing it cannot change the next one.
		s.Keys.Resources = append(s.Keys.Resources, "mutated")
		again, _ := Preset(name)
		for _, r := range again.Keys.Resources {
			if r == "mutated" {
				t.Fatalf("%s: presets share state", name)
			}
		}
	}
	_, err := Preset("ycsb-g")
	if !errors.Is(err, ErrUnknownPreset) || !strings.Contains(err.Error(), strings.Join(names, ", ")) {
		t.Fatalf("unknown preset error %v", err)
	}
}

func TestPresetShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  OpMix
		dist Distribution
	}{
		{"ycsb-a", OpMix{Get: 0.5, Put: 0.5}, Zipfian},
		{"ycsb-b", OpMix{Get: 0.95, Put: 0.05}, Zipfian},
		{"ycsb-c", OpMix{Get: 1}, Zipfian},
		{"ycsb-d", OpMix{Get: 0.95, Insert: 0.05}, Latest},
		{"ycsb-e", OpMix{Range: 0.95, Insert: 0.05}, Zipfian},
		{"ycsb-f", OpMix{Get: 0.5, RMW: 0.5}, Zipfian},
		{"etcd-put", OpMix{Put: 1}, Uniform},
		{"etcd-range", OpMix{Get: 1}, Uniform},
	} {
		s, _ := Preset(tc.name)
		if s.Ops != tc.ops || s.Keys.Distribution != tc.dist {
			t.Errorf("%s: ops %+v dist %s", tc.name, s.Ops, s.Keys.Distribution)
		}
		if strings.HasPrefix(tc.name, "ycsb") && (s.ValueSize != Fixed(1000) || s.Keys.Theta != 0.99 && tc.dist != Uniform) {
			t.Errorf("%s: value %v theta %v", tc.name, s.ValueSize, s.Keys.Theta)
		}
		if strings.HasPrefix(tc.name, "etcd") && (s.ValueSize != Fixed(256) || s.Keys.Size != Fixed(8) || s.Keys.Count != 100_000) {
			t.Errorf("%s: %+v", tc.name, s)
		}
	}
	if e, _ := Preset("ycsb-e"); e.RangeLimit != Between(1, 100) {
		t.Errorf("ycsb-e scan length %v", e.RangeLimit)
	}
	if p, _ := Preset("etcd-put"); p.PreloadCount() != 0 {
		t.Errorf("etcd-put preloads %d", p.PreloadCount())
	}
	if k, _ := Preset("k8s"); k.ValueSize != Between(1024, 10240) || k.RangeLimit != Fixed(500) {
		t.Errorf("k8s %+v", k)
	}
}

// TestWatchLeasesDefaultsAndRoundTrip: a spec with watchers and lease
// traffic takes its defaults and reads back from its encoding.
func TestWatchLeasesDefaultsAndRoundTrip(t *testing.T) {
	s, err := ParseSpec([]byte("base: ycsb-a\nwatch: {watchers: 4, start_behind: 1000}\nleases: {rate: 10, keepalives: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Watch != (Watch{Watchers: 4, Prefixes: 1, Streams: 4, StartBehind: 1000}) {
		t.Errorf("watch defaults: %+v", s.Watch)
	}
	if s.Leases != (Leases{Rate: 10, KeysPerLease: 1, TTL: DefaultLeaseTTL, KeepAlives: 2}) {
		t.Errorf("lease defaults: %+v", s.Leases)
	}
	data, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSpec(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip:\n%+v\n%+v", back, s)
	}
	// Without them, the encoding does not mention them.
	plain := validSpec()
	data, err = plain.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "watch") || strings.Contains(string(data), "leases") {
		t.Errorf("encoding of a spec without watchers or leases:\n%s", data)
	}
}

// TestWatchRange: the parts cover the key space in order, the last one
// open-ended; a k8s part is one resource.
func TestWatchRange(t *testing.T) {
	s := validSpec()
	s.Keys.Count = 100
	s.Keys.Prefix = "k/"
	ks, err := NewKeySpace(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 3; i++ {
		k, e := ks.WatchRange(i, 3)
		got = append(got, string(k)+".."+string(e))
	}
	want := "k/00000000000000..k/00000000000033 k/00000000000033..k/00000000000066 k/00000000000066..k0"
	if strings.Join(got, " ") != want {
		t.Errorf("parts:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	k8s := Spec{Ops: OpMix{Get: 1}, Keys: Keys{Shape: ShapeK8s}}
	k8s.EnsureDefaults()
	ks, err = NewKeySpace(k8s, 1)
	if err != nil {
		t.Fatal(err)
	}
	if k, e := ks.WatchRange(1, 2); string(k) != "/registry/configmaps/" || string(e) != "/registry/configmaps0" {
		t.Errorf("k8s part 1: %q %q", k, e)
	}
}
