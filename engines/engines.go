package engines

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"etcdlab/engines/bbolt"
	"etcdlab/engines/engine"
	"etcdlab/engines/memory"
	"etcdlab/engines/pebble"
)

// The contract, re-exported; see package etcdlab/engines/engine.
type (
	Engine = engine.Engine
	Batch  = engine.Batch
	View   = engine.View
	Bucket = engine.Bucket
	Stats  = engine.Stats
	Knob   = engine.Knob
)

// The contract's sentinel errors: the same values, so errors.Is works with
// either name.
var (
	ErrNotFound      = engine.ErrNotFound
	ErrClosed        = engine.ErrClosed
	ErrCorrupt       = engine.ErrCorrupt
	ErrWrongEngine   = engine.ErrWrongEngine
	ErrUnknownEngine = engine.ErrUnknownEngine
	ErrBadOption     = engine.ErrBadOption
)

// table is the registry: one row per engine, sorted by name. Adding an
// engine is adding its row here; nothing else in the tree lists engines
// (plots, experiments and flags take the names from Names and OnDisk). A
// function rather than init-time registration or a package variable: nothing
// can change the table at run time.
func table() []driver {
	return []driver{
		driverFor(bbolt.Name, bbolt.Detect, bbolt.Knobs, bbolt.ParseOptions, bbolt.Open, bbolt.OpenImage).
			code("go.etcd.io/bbolt.", "etcdlab/engines/bbolt."),
		// The tests' oracle and the no-disk ceiling of benchmarks, not one of
		// the engines compared on disk.
		driverFor(memory.Name, memory.Detect, memory.Knobs, memory.ParseOptions, memory.Open, memory.OpenImage).
			code("etcdlab/engines/memory.").memoryOnly(),
		driverFor(pebble.Name, pebble.Detect, pebble.Knobs, pebble.ParseOptions, pebble.Open, pebble.OpenImage).
			code("github.com/cockroachdb/", "etcdlab/engines/pebble."),
	}
}

// code sets the row's code packages (see CodePackages).
func (d driver) code(prefixes ...string) driver { d.codePackages = prefixes; return d }

// memoryOnly marks the row's engine as keeping its data in memory (see
// OnDisk).
func (d driver) memoryOnly() driver { d.inMemory = true; return d }

// Names lists the engines in sorted order.
func Names() []string {
	var names []string
	for _, d := range table() {
		names = append(names, d.name)
	}
	return names
}

// OnDisk lists, in sorted order, the engines that write their commits to
// disk: every engine but memory (the oracle and no-disk ceiling, which keeps
// its data in memory and writes an image only at Sync and Close). They are
// the engines experiments compare by default.
func OnDisk() []string {
	var names []string
	for _, d := range table() {
		if !d.inMemory {
			names = append(names, d.name)
		}
	}
	return names
}

// Knobs documents the options of engine name.
func Knobs(name string) ([]Knob, error) {
	d, err := lookup(name)
	if err != nil {
		return nil, err
	}
	return d.knobs(), nil
}

// Open opens engine name in dir with opts ("key=value" strings). A dir
// holding another engine's data is refused with an error wrapping
// ErrWrongEngine (see CheckDir) before the engine touches it.
func Open(name, dir string, opts []string) (Engine, error) {
	d, kv, err := parse(name, opts)
	if err != nil {
		return nil, err
	}
	if err := CheckDir(dir, name); err != nil {
		return nil, err
	}
	return d.open(dir, kv)
}

// OpenImage opens engine name in dir from an image written by that engine's
// WriteImage. A dir holding another engine's data is refused as by Open.
func OpenImage(name string, r io.Reader, dir string, opts []string) (Engine, error) {
	d, kv, err := parse(name, opts)
	if err != nil {
		return nil, err
	}
	if dir != "" {
		if err := CheckDir(dir, name); err != nil {
			return nil, err
		}
	}
	return d.openImage(r, dir, kv)
}

// CodePackages returns the Go package path prefixes whose functions are
// engine name's own work: the engine's library and etcdlab's adapter for it.
// A CPU profile sample with any of them on its stack is the engine's work;
// the bench uses this to split a run's CPU into the engine's share and the
// rest of the pipeline's (the batching layer, engines/backend, is shared
// code and not in any engine's list).
func CodePackages(name string) ([]string, error) {
	d, err := lookup(name)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), d.codePackages...), nil
}

// OptionsString validates opts for engine name and returns the engine's
// normalized form of them, defaults included.
func OptionsString(name string, opts []string) (string, error) {
	d, kv, err := parse(name, opts)
	if err != nil {
		return "", err
	}
	return d.options(kv)
}

// DetectDir reports which engine's data dir holds (the first engine, in
// Names order, whose files are there), or "" when dir is absent or holds no
// engine's data.
func DetectDir(dir string) (string, error) {
	names, err := engine.ListDir(dir)
	if err != nil {
		return "", err
	}
	for _, d := range table() {
		if d.detect(names) != "" {
			return d.name, nil
		}
	}
	return "", nil
}

// CheckDir returns an error wrapping ErrWrongEngine, naming the file that
// gave it away, when dir holds another engine's data and none of want's.
func CheckDir(dir, want string) error {
	names, err := engine.ListDir(dir)
	if err != nil {
		return err
	}
	for _, d := range table() {
		if d.name == want && d.detect(names) != "" {
			return nil
		}
	}
	for _, d := range table() {
		if m := d.detect(names); m != "" && d.name != want {
			return engine.WrongEngine(dir, d.name, m, want)
		}
	}
	return nil
}

// driver is what the registry needs of one engine package, with the options
// type erased.
type driver struct {
	name         string
	inMemory     bool     // see OnDisk
	codePackages []string // see CodePackages
	detect       engine.Detect
	knobs        func() []Knob
	open         func(dir string, kv map[string]string) (Engine, error)
	openImage    func(r io.Reader, dir string, kv map[string]string) (Engine, error)
	options      func(kv map[string]string) (string, error)
}

func lookup(name string) (driver, error) {
	for _, d := range table() {
		if d.name == name {
			return d, nil
		}
	}
	return driver{}, fmt.Errorf("%w %q (accepted: %s)", ErrUnknownEngine, name, strings.Join(Names(), ", "))
}

// driverFor adapts one engine package's functions. E is the package's
// concrete engine type; a failed open returns a nil Engine, never a typed nil.
func driverFor[O fmt.Stringer, E Engine](
	name string,
	detect engine.Detect,
	knobs func() []Knob,
	parseOpts func(map[string]string) (O, error),
	open func(string, O) (E, error),
	openImage func(io.Reader, string, O) (E, error),
) driver {
	parse := func(kv map[string]string) (O, error) {
		o, err := parseOpts(kv)
		if err != nil && !errors.Is(err, ErrBadOption) {
			// A value the engine refused is a bad option whatever the engine called it.
			err = fmt.Errorf("%w for engine %s: %w (accepted: %s)", ErrBadOption, name, err, engine.KnobList(knobs()))
		}
		return o, err
	}
	return driver{
		name:   name,
		detect: detect,
		knobs:  knobs,
		open: func(dir string, kv map[string]string) (Engine, error) {
			o, err := parse(kv)
			if err != nil {
				return nil, err
			}
			e, err := open(dir, o)
			if err != nil {
				return nil, err
			}
			return e, nil
		},
		openImage: func(r io.Reader, dir string, kv map[string]string) (Engine, error) {
			o, err := parse(kv)
			if err != nil {
				return nil, err
			}
			e, err := openImage(r, dir, o)
			if err != nil {
				return nil, err
			}
			return e, nil
		},
		options: func(kv map[string]string) (string, error) {
			o, err := parse(kv)
			if err != nil {
				return "", err
			}
			return o.String(), nil
		},
	}
}

func parse(name string, opts []string) (driver, map[string]string, error) {
	d, err := lookup(name)
	if err != nil {
		return driver{}, nil, err
	}
	kv, err := engine.ParseKV(name, opts, d.knobs())
	if err != nil {
		return driver{}, nil, err
	}
	return d, kv, nil
}
