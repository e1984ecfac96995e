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

// Names lists the engines in sorted order.
func Names() []string {
	return []string{bbolt.Name, memory.Name, pebble.Name}
}

// Knobs documents the options of engine name.
func Knobs(name string) ([]Knob, error) {
	d, err := lookup(name)
	if err != nil {
		return nil, err
	}
	return d.knobs(), nil
}

// Open opens engine name in dir with opts ("key=value" strings).
func Open(name, dir string, opts []string) (Engine, error) {
	d, kv, err := parse(name, opts)
	if err != nil {
		return nil, err
	}
	return d.open(dir, kv)
}

// OpenImage opens engine name in dir from an image written by that engine's
// WriteImage.
func OpenImage(name string, r io.Reader, dir string, opts []string) (Engine, error) {
	d, kv, err := parse(name, opts)
	if err != nil {
		return nil, err
	}
	return d.openImage(r, dir, kv)
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

// driver is what the registry needs of one engine package, with the options
// type erased.
type driver struct {
	knobs     func() []Knob
	open      func(dir string, kv map[string]string) (Engine, error)
	openImage func(r io.Reader, dir string, kv map[string]string) (Engine, error)
	options   func(kv map[string]string) (string, error)
}

// lookup is the table of engines. A switch rather than init-time
// registration: nothing can change the table at run time.
func lookup(name string) (driver, error) {
	switch name {
	case bbolt.Name:
		return driverFor(bbolt.Name, bbolt.Knobs, bbolt.ParseOptions, bbolt.Open, bbolt.OpenImage), nil
	case memory.Name:
		return driverFor(memory.Name, memory.Knobs, memory.ParseOptions, memory.Open, memory.OpenImage), nil
	case pebble.Name:
		return driverFor(pebble.Name, pebble.Knobs, pebble.ParseOptions, pebble.Open, pebble.OpenImage), nil
	}
	return driver{}, fmt.Errorf("%w %q (accepted: %s)", ErrUnknownEngine, name, strings.Join(Names(), ", "))
}

// driverFor adapts one engine package's functions. E is the package's
// concrete engine type; a failed open returns a nil Engine, never a typed nil.
func driverFor[O fmt.Stringer, E Engine](
	name string,
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
		knobs: knobs,
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
