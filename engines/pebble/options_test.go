package pebble

import (
	"errors"
	"strings"
	"testing"

	"etcdlab/engines/engine"
)

func TestParseOptions(t *testing.T) {
	def := Options{}
	def.EnsureDefaults()
	for _, tc := range []struct {
		name    string
		kvs     []string
		want    func(o *Options)
		wantErr []string // every substring must appear in the error
	}{
		{name: "defaults", kvs: nil, want: func(*Options) {}},
		{name: "all set", kvs: []string{"cache-size=64MiB", "memtable-size=67108864", "l0-compaction-threshold=2",
			"l0-stop-writes-threshold=20", "bytes-per-sync=1MiB", "wal=disabled", "max-concurrent-compactions=2",
			"lbase-max-bytes=1GiB"},
			want: func(o *Options) {
				o.CacheSize, o.MemTableSize = 64<<20, 64<<20
				o.L0CompactionThreshold, o.L0StopWritesThreshold = 2, 20
				o.BytesPerSync, o.WAL, o.MaxConcurrentCompactions, o.LBaseMaxBytes = 1<<20, WALDisabled, 2, 1<<30
			}},
		{name: "suffix case and bytes", kvs: []string{"cache-size=512kib", "bytes-per-sync=4096B", "wal=unsynced"},
			want: func(o *Options) { o.CacheSize, o.BytesPerSync, o.WAL = 512<<10, 4096, WALUnsynced }},
		{name: "every bad value at once",
			kvs: []string{"cache-size=lots", "memtable-size=-1", "l0-compaction-threshold=x", "l0-stop-writes-threshold=0",
				"bytes-per-sync=1.5MiB", "wal=sometimes", "max-concurrent-compactions=two", "lbase-max-bytes=9999999TiB"},
			wantErr: []string{"cache-size=\"lots\"", "memtable-size=\"-1\"", "l0-compaction-threshold=\"x\"",
				"l0-stop-writes-threshold=\"0\"", "bytes-per-sync=\"1.5MiB\"", "wal=\"sometimes\"",
				"synced, unsynced, disabled", "max-concurrent-compactions=\"two\"", "lbase-max-bytes", "KiB, MiB"}},
		{name: "cross-field", kvs: []string{"l0-compaction-threshold=8", "l0-stop-writes-threshold=4"},
			wantErr: []string{"l0-stop-writes-threshold", "must be >= l0-compaction-threshold (8)"}},
		{name: "memtable too large", kvs: []string{"memtable-size=4GiB"}, wantErr: []string{"memtable-size"}},
		{name: "too many compactions", kvs: []string{"max-concurrent-compactions=65"}, wantErr: []string{"[1, 64]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv, err := engine.ParseKV(Name, tc.kvs, Knobs())
			if err != nil {
				t.Fatalf("ParseKV: %v", err)
			}
			o, err := ParseOptions(kv)
			if tc.wantErr != nil {
				if err == nil || !errors.Is(err, engine.ErrBadOption) {
					t.Fatalf("err = %v, want ErrBadOption", err)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := def
			tc.want(&want)
			if o.String() != want.String() || o.FS != want.FS {
				t.Fatalf("got %s, want %s", o, want)
			}
			// String round-trips through ParseKV and ParseOptions.
			kv2, err := engine.ParseKV(Name, strings.Fields(o.String()), Knobs())
			if err != nil {
				t.Fatal(err)
			}
			o2, err := ParseOptions(kv2)
			if err != nil {
				t.Fatal(err)
			}
			if o2 != o {
				t.Fatalf("round trip: %+v != %+v", o2, o)
			}
		})
	}
}

func TestParseOptionsUnknownKey(t *testing.T) {
	_, err := ParseOptions(map[string]string{"cache": "1"})
	if !errors.Is(err, engine.ErrBadOption) || !strings.Contains(err.Error(), "cache-size (default 8MiB)") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidateReportsAll(t *testing.T) {
	o := Options{CacheSize: -1, MemTableSize: -1, L0CompactionThreshold: -1, L0StopWritesThreshold: -1,
		BytesPerSync: -1, WAL: "x", MaxConcurrentCompactions: -1, LBaseMaxBytes: -1}
	o.EnsureDefaults()
	err := o.Validate()
	for _, k := range []string{"cache-size", "memtable-size", "l0-compaction-threshold", "l0-stop-writes-threshold",
		"bytes-per-sync", "wal", "max-concurrent-compactions", "lbase-max-bytes"} {
		if err == nil || !strings.Contains(err.Error(), "pebble "+k+"=") {
			t.Errorf("Validate error %v does not name %s", err, k)
		}
	}
	var d Options
	d.EnsureDefaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if len(Knobs()) != 8 {
		t.Fatalf("Knobs() = %d knobs", len(Knobs()))
	}
	for _, k := range Knobs() {
		if k.Doc == "" || k.Default == "" {
			t.Errorf("knob %s lacks doc or default", k.Key)
		}
	}
}
