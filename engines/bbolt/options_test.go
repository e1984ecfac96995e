package bbolt

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"etcdlab/engines/engine"
)

func TestParseOptions(t *testing.T) {
	def := Options{}
	def.EnsureDefaults()
	if def.InitialMmapSize != 10<<30 || def.FreelistType != "map" || def.NoSync || def.SyncFreelist ||
		def.SeqFillPercent != 0.9 || def.PageSize != os.Getpagesize() || def.Mlock || def.Timeout != time.Second {
		t.Fatalf("defaults: %+v", def)
	}
	with := func(f func(*Options)) Options { o := def; f(&o); return o }
	good := []struct {
		kvs  []string
		want Options
	}{
		{nil, def},
		{[]string{"initial-mmap-size=64MiB"}, with(func(o *Options) { o.InitialMmapSize = 64 << 20 })},
		{[]string{"initial-mmap-size=1048576"}, with(func(o *Options) { o.InitialMmapSize = 1 << 20 })},
		{[]string{"initial-mmap-size=1gib"}, with(func(o *Options) { o.InitialMmapSize = 1 << 30 })},
		{[]string{"initial-mmap-size=2GB"}, with(func(o *Options) { o.InitialMmapSize = 2e9 })},
		{[]string{"freelist-type=array"}, with(func(o *Options) { o.FreelistType = "array" })},
		{[]string{"no-sync=true", "mlock=1"}, with(func(o *Options) { o.NoSync = true; o.Mlock = true })},
		{[]string{"no-freelist-sync=false"}, with(func(o *Options) { o.SyncFreelist = true })},
		{[]string{"seq-fill-percent=1.0"}, with(func(o *Options) { o.SeqFillPercent = 1 })},
		{[]string{"seq-fill-percent=0.5"}, with(func(o *Options) { o.SeqFillPercent = 0.5 })},
		{[]string{"page-size=16KiB"}, with(func(o *Options) { o.PageSize = 16384 })},
		{[]string{"page-size=1024"}, with(func(o *Options) { o.PageSize = 1024 })},
		{[]string{"timeout=250ms"}, with(func(o *Options) { o.Timeout = 250 * time.Millisecond })},
	}
	for _, tc := range good {
		kv, err := engine.ParseKV(Name, tc.kvs, Knobs())
		if err != nil {
			t.Fatalf("%v: ParseKV: %v", tc.kvs, err)
		}
		got, err := ParseOptions(kv)
		if err != nil {
			t.Fatalf("%v: %v", tc.kvs, err)
		}
		if got != tc.want {
			t.Errorf("%v: got %+v, want %+v", tc.kvs, got, tc.want)
		}
		// String round trip.
		kv2, err := engine.ParseKV(Name, strings.Fields(got.String()), Knobs())
		if err != nil {
			t.Fatalf("%q: ParseKV: %v", got.String(), err)
		}
		back, err := ParseOptions(kv2)
		if err != nil || back != got {
			t.Errorf("round trip of %q: got %+v, %v; want %+v", got.String(), back, err, got)
		}
	}

	// Every bad value is reported at once, each naming its key.
	bad := map[string]string{
		"initial-mmap-size": "lots",
		"freelist-type":     "list",
		"no-sync":           "maybe",
		"no-freelist-sync":  "yes please",
		"seq-fill-percent":  "0.1",
		"page-size":         "3000",
		"mlock":             "2",
		"timeout":           "0s",
	}
	_, err := ParseOptions(bad)
	if !errors.Is(err, engine.ErrBadOption) {
		t.Fatalf("want ErrBadOption, got %v", err)
	}
	for k, v := range bad {
		if !strings.Contains(err.Error(), k+"=") || !strings.Contains(err.Error(), v) {
			t.Errorf("error does not name %s=%s: %v", k, v, err)
		}
	}
	for k, v := range map[string]string{
		"initial-mmap-size": "0", "page-size": "512", "seq-fill-percent": "1.01",
		"timeout": "-1s", "page-size ": "4096",
	} {
		if _, err := ParseOptions(map[string]string{k: v}); !errors.Is(err, engine.ErrBadOption) {
			t.Errorf("%s=%s: want ErrBadOption, got %v", k, v, err)
		}
	}
	if _, err := engine.ParseKV(Name, []string{"pagesize=4096"}, Knobs()); !errors.Is(err, engine.ErrBadOption) {
		t.Errorf("unknown key accepted: %v", err)
	}
}

func TestValidateReportsAll(t *testing.T) {
	o := Options{InitialMmapSize: -1, FreelistType: "x", SeqFillPercent: 2, PageSize: 1000, Timeout: -time.Second}
	err := o.Validate()
	for _, k := range []string{"initial-mmap-size", "freelist-type", "seq-fill-percent", "page-size", "timeout"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("Validate does not report %s: %v", k, err)
		}
	}
	var zero Options
	if err := zero.Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
}

func TestKnobsDocumented(t *testing.T) {
	want := []string{"initial-mmap-size", "freelist-type", "no-sync", "no-freelist-sync",
		"seq-fill-percent", "page-size", "mlock", "timeout"}
	ks := Knobs()
	if len(ks) != len(want) {
		t.Fatalf("knobs: %v", ks)
	}
	kv := map[string]string{}
	for i, k := range ks {
		if k.Key != want[i] || k.Default == "" || k.Doc == "" {
			t.Errorf("knob %d: %+v", i, k)
		}
		kv[k.Key] = k.Default
	}
	// The documented defaults parse to the defaults.
	got, err := ParseOptions(kv)
	def := Options{}
	def.EnsureDefaults()
	if err != nil || got != def {
		t.Errorf("defaults from knobs: %+v, %v; want %+v", got, err, def)
	}
}
