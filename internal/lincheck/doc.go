// Package lincheck records a history of single-key operations on an etcd-like
// key-value store and checks it for linearizability with porcupine
// (github.com/anishathalye/porcupine).
//
// The model is a register per key (Model.Partition splits the history by
// key, so porcupine checks every key's sub-history on its own): a get reads
// the value, a put writes it, a delete removes the key and reports whether
// it existed, a compare-and-swap writes only if the value matched. "" stands
// for an absent key, so written values must not be empty; callers that write
// arbitrary bytes record a digest of the value instead.
//
// Time is a logical clock: History stamps each call and each return from one
// atomic counter, so if one operation returned before another was called
// (in real time) its return stamp is smaller than the other's call stamp,
// which is all porcupine needs.
//
// A write whose error does not prove it never took effect (a timeout, a
// crashed server) is recorded with an unknown outcome: an infinite return
// time, and the model accepts it either way. Reads that failed, and writes
// that surely never reached the log, are left out.
//
// Checking is exponential in the worst case. A History can be capped
// (NewHistory's maxOps): once full it refuses new calls, and Operations
// turns the operations still in flight at the cut into what they could
// have been (reads left out, writes of unknown outcome), so the checked
// history stays sound. Check takes a timeout and answers VerdictUnknown
// when porcupine runs out of it.
package lincheck
