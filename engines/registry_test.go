package engines_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"etcdlab/engines"
	"etcdlab/engines/engine"
)

func TestNames(t *testing.T) {
	got := engines.Names()
	if want := []string{"bbolt", "memory", "pebble"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	got[0] = "changed" // the caller's copy, not the registry's table
	if engines.Names()[0] != "bbolt" {
		t.Fatalf("Names() returned shared state")
	}
}

func TestSentinelsAreTheContracts(t *testing.T) {
	pairs := []struct{ a, b error }{
		{engines.ErrNotFound, engine.ErrNotFound},
		{engines.ErrClosed, engine.ErrClosed},
		{engines.ErrCorrupt, engine.ErrCorrupt},
		{engines.ErrWrongEngine, engine.ErrWrongEngine},
		{engines.ErrUnknownEngine, engine.ErrUnknownEngine},
		{engines.ErrBadOption, engine.ErrBadOption},
	}
	for _, p := range pairs {
		if p.a != p.b {
			t.Errorf("%v is not the contract's sentinel", p.a)
		}
	}
}

func TestKnobs(t *testing.T) {
	for _, name := range engines.Names() {
		knobs, err := engines.Knobs(name)
		if err != nil {
			t.Errorf("Knobs(%s): %v", name, err)
			continue
		}
		if len(knobs) == 0 {
			t.Errorf("Knobs(%s) is empty", name)
		}
		for _, k := range knobs {
			if k.Key == "" || k.Default == "" || k.Doc == "" {
				t.Errorf("Knobs(%s): incomplete knob %+v", name, k)
			}
		}
	}
	if _, err := engines.Knobs("rocksdb"); !errors.Is(err, engines.ErrUnknownEngine) ||
		!strings.Contains(err.Error(), "bbolt, memory, pebble") {
		t.Errorf("Knobs(rocksdb): %v, want ErrUnknownEngine listing the engines", err)
	}
}

// TestDefaultsRoundTrip: every engine's normalized option string consists of
// valid options that normalize to the same string, and names every knob.
func TestDefaultsRoundTrip(t *testing.T) {
	for _, name := range engines.Names() {
		s, err := engines.OptionsString(name, nil)
		if err != nil {
			t.Errorf("OptionsString(%s, nil): %v", name, err)
			continue
		}
		s2, err := engines.OptionsString(name, strings.Fields(s))
		if err != nil || s2 != s {
			t.Errorf("OptionsString(%s, %q) = %q, %v; want it unchanged", name, s, s2, err)
		}
		knobs, _ := engines.Knobs(name)
		for _, k := range knobs {
			if !strings.Contains(" "+s, " "+k.Key+"=") {
				t.Errorf("OptionsString(%s) = %q does not record knob %s", name, s, k.Key)
			}
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	cases := []struct {
		name     string
		engine   string
		opts     []string
		want     error
		contains []string
	}{
		{"unknown-engine", "rocksdb", nil, engines.ErrUnknownEngine, []string{`"rocksdb"`, "bbolt, memory, pebble"}},
		{"empty-engine-name", "", nil, engines.ErrUnknownEngine, []string{"accepted"}},
		{"unknown-key", "memory", []string{"cache=1"}, engines.ErrBadOption, []string{`"cache"`, "degree (default 32)"}},
		{"no-equals", "memory", []string{"degree"}, engines.ErrBadOption, []string{"key=value"}},
		{"empty-key", "memory", []string{"=3"}, engines.ErrBadOption, []string{"key=value"}},
		{"twice", "memory", []string{"degree=4", "degree=8"}, engines.ErrBadOption, []string{"twice"}},
		{"bad-value", "memory", []string{"degree=many"}, engines.ErrBadOption, []string{"degree"}},
		{"out-of-range", "memory", []string{"degree=1"}, engines.ErrBadOption, []string{`degree="1"`, "[2, 1024]"}},
		{"all-problems-at-once", "memory", []string{"a=1", "b"}, engines.ErrBadOption, []string{`"a"`, `"b"`}},
		{"pebble-unknown-key", "pebble", []string{"degree=8"}, engines.ErrBadOption, []string{`"degree"`, "cache-size"}},
		{"bbolt-unknown-key", "bbolt", []string{"degree=8"}, engines.ErrBadOption, []string{`"degree"`, "freelist-type"}},
		{"pebble-bad-value", "pebble", []string{"wal=sometimes"}, engines.ErrBadOption, []string{"wal"}},
		{"bbolt-bad-value", "bbolt", []string{"freelist-type=linked"}, engines.ErrBadOption, []string{"freelist-type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, c.want) {
					t.Fatalf("%s: %v, want an error wrapping %v", op, err, c.want)
				}
				for _, s := range c.contains {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("%s: %q does not mention %s", op, err, s)
					}
				}
			}
			_, err := engines.OptionsString(c.engine, c.opts)
			check("OptionsString", err)
			dir := t.TempDir()
			e, err := engines.Open(c.engine, dir, c.opts)
			if err == nil {
				e.Close()
			}
			check("Open", err)
			e, err = engines.OpenImage(c.engine, strings.NewReader(""), t.TempDir(), c.opts)
			if err == nil {
				e.Close()
			}
			check("OpenImage", err)
		})
	}
}

func TestOptionsApplied(t *testing.T) {
	cases := []struct {
		engine string
		opts   []string
		want   string // must appear in the normalized string
	}{
		{"memory", []string{"degree=8"}, "degree=8"},
		{"memory", []string{" degree = 16 "}, "degree=16"},
		{"pebble", []string{"wal=unsynced"}, "wal=unsynced"},
		{"bbolt", []string{"no-sync=true"}, "no-sync=true"},
	}
	for _, c := range cases {
		s, err := engines.OptionsString(c.engine, c.opts)
		if err != nil || !strings.Contains(s, c.want) {
			t.Errorf("OptionsString(%s, %q) = %q, %v; want it to contain %s", c.engine, c.opts, s, err, c.want)
		}
	}
}

// TestOpenEachEngine opens every engine through the registry, writes,
// reopens, and checks that the engine reports its own name and that a data
// dir is refused by the other engines.
func TestOpenEachEngine(t *testing.T) {
	b := engines.Bucket{ID: 1, Name: "b"}
	for _, name := range engines.Names() {
		t.Run("engine="+name, func(t *testing.T) {
			dir := t.TempDir()
			e, err := engines.Open(name, dir, nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if e.Name() != name {
				t.Errorf("Name() = %q", e.Name())
			}
			bt := e.NewBatch()
			bt.Put(b, []byte("k"), []byte("v"))
			if err := bt.Commit(true); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			for _, other := range engines.Names() {
				if other == name {
					continue
				}
				if e2, err := engines.Open(other, dir, nil); !errors.Is(err, engines.ErrWrongEngine) {
					if err == nil {
						e2.Close()
					}
					t.Errorf("Open(%s) of a %s dir: %v, want ErrWrongEngine", other, name, err)
				}
			}
			e, err = engines.Open(name, dir, nil)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer e.Close()
			v, err := e.NewView()
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			if got, err := v.Get(b, []byte("k")); err != nil || string(got) != "v" {
				t.Errorf("after reopen Get = %q, %v", got, err)
			}
		})
	}
}

func TestOnDisk(t *testing.T) {
	if got, want := engines.OnDisk(), []string{"bbolt", "pebble"}; !slices.Equal(got, want) {
		t.Fatalf("OnDisk() = %v, want %v", got, want)
	}
}

// TestForeignDir: the registry refuses to open a dir holding another
// engine's files, by Open and by OpenImage, names the file that gave it
// away, and leaves the dir as it was. The engines themselves do not look:
// the registry is the one place that knows every engine's marker.
func TestForeignDir(t *testing.T) {
	markers := []struct{ file, owner string }{
		{"db", "bbolt"},
		{"CURRENT", "pebble"},
		{"MANIFEST-000001", "pebble"},
		{"memory.img", "memory"},
	}
	for _, m := range markers {
		for _, name := range engines.Names() {
			if name == m.owner {
				continue
			}
			t.Run(fmt.Sprintf("marker=%s/engine=%s", m.file, name), func(t *testing.T) {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, m.file), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				if got, err := engines.DetectDir(dir); err != nil || got != m.owner {
					t.Errorf("DetectDir = %q, %v; want %s", got, err, m.owner)
				}
				check := func(op string, e engines.Engine, err error) {
					t.Helper()
					if err == nil {
						e.Close()
					}
					if !errors.Is(err, engines.ErrWrongEngine) || !strings.Contains(err.Error(), filepath.Join(dir, m.file)) {
						t.Errorf("%s: %v, want ErrWrongEngine naming %s", op, err, m.file)
					}
				}
				e, err := engines.Open(name, dir, nil)
				check("Open", e, err)
				e, err = engines.OpenImage(name, strings.NewReader(""), dir, nil)
				check("OpenImage", e, err)
				if entries, _ := os.ReadDir(dir); len(entries) != 1 {
					t.Errorf("dir holds %d entries after the refusals, want only %s", len(entries), m.file)
				}
			})
		}
	}
	t.Run("absent dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "absent")
		if got, err := engines.DetectDir(dir); err != nil || got != "" {
			t.Errorf("DetectDir(absent) = %q, %v", got, err)
		}
		if err := engines.CheckDir(dir, "bbolt"); err != nil {
			t.Errorf("CheckDir(absent) = %v", err)
		}
	})
}

// TestCodePackages: every engine's row names its adapter package among its
// code packages, and an unknown engine is refused.
func TestCodePackages(t *testing.T) {
	for _, name := range engines.Names() {
		pkgs, err := engines.CodePackages(name)
		if err != nil || !slices.Contains(pkgs, "etcdlab/engines/"+name+".") {
			t.Errorf("CodePackages(%s) = %v, %v; want its adapter etcdlab/engines/%s.", name, pkgs, err, name)
		}
		pkgs[0] = "changed" // the caller's copy, not the table's
		if again, _ := engines.CodePackages(name); again[0] == "changed" {
			t.Errorf("CodePackages(%s) returned shared state", name)
		}
	}
	if _, err := engines.CodePackages("rocksdb"); !errors.Is(err, engines.ErrUnknownEngine) {
		t.Errorf("CodePackages(rocksdb): %v, want ErrUnknownEngine", err)
	}
}
