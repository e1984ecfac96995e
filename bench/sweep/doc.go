// Package sweep runs the cartesian product of run parameters, each point
// repeated, and writes a sweep directory: sweep.json (the manifest), one
// run directory per (point, repeat) under runs/, summary.csv, plots/ and
// report.md (package results/report).
//
// Contract:
//   - Parameter names are the run flags (package runflags): a sweep point
//     is exactly `etcdlab run` with those flags, so a parameter means what
//     its flag means. Engines are the parameter "engine", swept first.
//   - Points are the product less those an Exclude rule drops (a
//     combination that is not a run, e.g. "layer=mvcc nodes!=1").
//   - Every point's configuration is built and validated before the first
//     run: a bad value fails the sweep at once, naming every problem.
//   - Order: repeat k of every point runs before repeat k+1 of any, and the
//     points within a round are shuffled with a generator seeded by
//     Spec.Seed and k, so slow drift of the machine spreads over all points
//     alike and the order is reproducible. Repeat k uses workload seed
//     base+k (base: the fixed "seed" setting, default 1), the same for every
//     point of the round.
//   - Run k of point p goes to runs/<point id>-r<k>; the point id is built
//     from the parameter values alone, so it is stable across resumes.
//   - Resume: running the same spec into the same directory skips runs
//     whose result.json is complete (not interrupted) and redoes the rest.
//     A different spec in the same directory is refused.
//   - Cancelling the context stops the sweep: the run in progress writes
//     what it measured, marked interrupted (redone on resume), and Run
//     returns ErrInterrupted after rewriting the report of what finished.
//   - A run that fails is logged and the sweep goes on; Run returns the
//     failures joined after writing the report.
//
// Experiments (Experiment, Experiments) are preset Specs. Most sweep one
// or two knobs over both engines; "parity" sweeps the layer (mvcc vs
// cluster of 1 and 3 nodes) under puts and gets, and its report gets a
// Parity section checking that the cost the cluster adds per op is the
// same for every engine (results/report.ComputeParity). Spec.RunConfig gives
// a point's exact run configuration, so bench's BenchmarkParity runs the
// same points under go test -bench.
package sweep
