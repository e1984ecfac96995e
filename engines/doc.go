// Package engines is the registry of etcdlab's storage engines: the one place
// that knows every engine by name, so that commands, benchmarks and tests
// choose an engine with a string ("bbolt", "memory", "pebble") and a list of
// "key=value" options.
//
// It re-exports the contract of package etcdlab/engines/engine (Engine, Batch,
// View, Bucket, Stats, Knob and the sentinel errors) under the same names, so
// that most callers import only this package. The contract itself lives in
// engines/engine because the engine packages implement it and this package
// imports them.
//
// Contract:
//   - Names lists the engines in sorted order; Knobs documents each engine's
//     options.
//   - Open, OpenImage and OptionsString take options as "key=value" strings.
//     Every malformed entry, unknown key or bad value is reported at once in an
//     error wrapping ErrBadOption that names the accepted keys; an unknown
//     engine name gives an error wrapping ErrUnknownEngine that names the
//     accepted engines.
//   - OptionsString returns the engine's normalized option string (every knob,
//     defaults included, sorted by key, separated by spaces), so a result can
//     record the exact configuration and feed it back: its fields are valid
//     options for Open.
//   - Open and OpenImage refuse a dir that holds another engine's data with an
//     error wrapping ErrWrongEngine that names the file that gave it away
//     (CheckDir; DetectDir says whose data a dir holds). Each engine package
//     recognises its own files (its Detect); only the registry runs them all.
//   - OnDisk lists the engines that write their commits to disk (all but
//     memory, the tests' oracle and the no-disk ceiling): the engines
//     experiments compare by default.
//   - There is no registration and no package-level mutable state: the table is
//     one function, table, with a row per engine; adding an engine is adding
//     its row (plots, experiments and flags take the names from here).
package engines
