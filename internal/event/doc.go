// Package event names the events etcdlab records: the kinds a layer emits
// (cluster.EventKind's names, the runner's own), counted in result.json's
// "events" section and drawn from timeline.jsonl's "kind". Each name is
// spelled here once; the cluster, the runner, the report and the plots refer
// to these constants, so a plot look or a report table keyed by a kind
// cannot drift from the name emitted.
//
// It sits below every package that uses it (it imports nothing), so the
// cluster, which emits most kinds, and results/report and plots, which read
// them, depend on it without depending on each other.
//
// Contract:
//   - A kind is a short lower-case name with dashes ("snapshot-taken"). The
//     names are stable: result files and reports written by earlier builds
//     use them.
//   - All lists every kind (each constant says what it means); Known
//     reports whether a name is one of them.
package event
