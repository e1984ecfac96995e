// Package workloads generates the operations etcdlab benchmarks run: seeded,
// deterministic, allocation-free streams of gets, puts, deletes, ranges,
// compare-and-swap txns, read-modify-writes and inserts over a described key
// space.
//
// A workload is a Spec (Go value or YAML file, see ParseSpec and LoadSpec) or
// a named Preset: YCSB A-F with their standard definitions, the shapes of
// etcd's benchmark tool (etcd-put, etcd-range) and a Kubernetes-like one
// (k8s). A Spec says how many key ids exist, how ids are chosen (sequential,
// uniform, YCSB's scrambled zipfian, latest, hotspot), how an id becomes key
// bytes (flat: prefix + fixed-width id + padding, exact sizes; k8s:
// /registry/<resource>/ns-NNNNN/<object>-NNNNNN), the value sizes, the op mix,
// the read consistency and how many ids to preload.
//
// Contract:
//
//  1. NewKeySpace(spec, seed) validates the spec and builds the state all
//     workers share: the count of existing ids (grown atomically by inserts
//     from any worker, so YCSB D's read-latest sees them all), the
//     sequential cursor, zipfian constants and a random block values are
//     cut from. Every random choice derives from seed; nothing reads the
//     clock or the global math/rand source. Record the seed with results.
//  2. KeySpace.Loader(part, parts) yields the preload as puts of ids
//     0..Preload-1, split into contiguous parts that load in key order.
//  3. KeySpace.Generator(worker) gives each worker its own stream;
//     Generator.Next(&op) overwrites op without allocating. The same (seed,
//     worker) yields the same ops as long as the shared key space evolves
//     the same way (always with one worker; with several, only inserts and
//     the sequential cursor couple them).
//  4. Op.Key and Op.End belong to the generator and change on the next call;
//     Op.Value is a read-only window into a block shared by all workers.
//     Clients copy what they keep.
//
// A k8s-shaped spec with a k8s section (Spec.K8s; the k8s preset, written
// out with the sources of its defaults in k8s.yaml) is kube-apiserver's
// traffic: the generator's kinds stand for the apiserver's requests
// (txn_cas an update by OptimisticPut, insert a create, delete an
// OptimisticDelete, get a Get at a recent or the current revision, range a
// paginated List of a namespace), which the runner's k8s driver issues with
// a cache of every object's mod_revision, beside event leases, leader
// election, the apiserver's periodic compaction and one watch per resource,
// every period divided by k8s.time_scale. Values are sized per resource
// (K8s.ValueSizes: uniform with a tail) and Spec.Compressible of each
// value's bytes compress. Spec.MeanObjectBytes is the expected key plus
// value bytes of one preloaded object, for sizing a preload in bytes.
//
// This package sits at the bottom of the dependency graph: it imports
// nothing of etcdlab, and the runner in bench/ maps Ops onto client calls
// (OpTxnCAS and OpRMW document the requests they stand for).
package workloads
