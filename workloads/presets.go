package workloads

import (
	"fmt"
	"strings"
)

// YCSB's record is 10 fields of 100 bytes; we store it as one 1000-byte value
// (etcd has no fields) under a 24-byte "user..." key. So an update (put) and
// the write of a read-modify-write rewrite all 1000 bytes, where YCSB's
// defaults (writeallfields=false) write one 100-byte field. keys.count is 100,000
// rather than YCSB's usual millions to keep runs small on a shared machine;
// override it in a spec file with `base: ycsb-a` for bigger runs.
const (
	ycsbValueSize = 1000
	ycsbKeySize   = 24
	ycsbKeyCount  = 100_000

	// etcd's benchmark tool writes 8-byte binary keys and 256-byte values.
	// Its --key-space-size defaults to 1 (one key overwritten again and
	// again), which measures a single hot key rather than a store; we use
	// 100,000 distinct keys, as its documentation's examples do.
	etcdKeySize   = 8
	etcdValueSize = 256
	etcdKeyCount  = 100_000

	// Kubernetes objects in etcd are mostly 1-10 KiB; 10,000 of them (about
	// 55 MiB) keep preload short. A list pages with limit 500 like
	// kube-apiserver's paginated lists.
	k8sKeyCount = 10_000
	k8sPageSize = 500

	// k8sCompressible: half of each value compresses. Objects are stored
	// as protobuf (JSON for CRDs) with repeated label, annotation and
	// managed-field strings; we have not measured a corpus, so 0.5 is a
	// round guess between random bytes (0) and JSON text (snappy removes
	// well over half). Sweep compressible to see how much it matters.
	k8sCompressible = 0.5

	// k8s-storage spreads its objects over 1000 namespaces, so that a
	// namespace's list stays at tens to hundreds of objects per resource
	// from 100 MB to 30 GB (at 2 GB, ~75 per resource), as in a cluster of
	// many small namespaces, instead of growing with the preload.
	k8sStorageNamespaces = 1000
)

// K8sValueSizes are the k8s preset's value sizes per resource:
//
//	pods        10-20 KiB, 5% up to 70 KiB: etcd issue #22332 and
//	            Kubernetes' scalability tests put typical pods at 10-20
//	            KiB, large ones (many containers, managed fields) at 70+ KiB
//	configmaps  0.5-8 KiB, 2% up to 100 KiB (a few hundred bytes to whole
//	            config files; the limit is 1 MiB)
//	secrets     1-4 KiB (tokens, TLS certificates)
//	leases      300-600 B (node and leader-election leases: a holder
//	            identity and timestamps)
//	events      0.7-1.4 KiB (~1 KiB, watch-lease-k8s.md)
func K8sValueSizes() map[string]ValueDist {
	return map[string]ValueDist{
		"pods":       {Min: 10 << 10, Max: 20 << 10, Tail: 0.05, TailMax: 70 << 10},
		"configmaps": {Min: 512, Max: 8 << 10, Tail: 0.02, TailMax: 100 << 10},
		"secrets":    {Min: 1 << 10, Max: 4 << 10},
		"leases":     {Min: 300, Max: 600},
		"events":     {Min: 700, Max: 1400},
	}
}

// Presets returns the accepted preset names, sorted.
func Presets() []string {
	return []string{"etcd-put", "etcd-range", "k8s", "k8s-storage", "ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-e", "ycsb-f"}
}

func int64p(v int64) *int64 { return &v }

func ycsb(name string, dist Distribution, ops OpMix) Spec {
	return Spec{
		Name: name,
		Keys: Keys{
			Count:        ycsbKeyCount,
			Distribution: dist,
			Size:         Fixed(ycsbKeySize),
			Prefix:       "user",
		},
		ValueSize: Fixed(ycsbValueSize),
		Ops:       ops,
	}
}

// Preset returns a named workload with defaults applied:
//
//	ycsb-a  50% get, 50% put (update), zipfian                (YCSB A, update heavy)
//	ycsb-b  95% get, 5% put, zipfian                          (YCSB B, read mostly)
//	ycsb-c  100% get, zipfian                                 (YCSB C, read only)
//	ycsb-d  95% get, 5% insert, latest                        (YCSB D, read latest)
//	ycsb-e  95% range of 1..100 keys, 5% insert, zipfian      (YCSB E, short ranges)
//	ycsb-f  50% get, 50% read-modify-write, zipfian           (YCSB F)
//	etcd-put    100% put, uniform over 100,000 8-byte keys, 256-byte values, empty start
//	etcd-range  100% get of one key, uniform over 100,000 preloaded keys
//	k8s     kube-apiserver's traffic (see K8s) on /registry/<resource>/<ns>/<name>
//	        keys, value sizes per resource (K8sValueSizes), half compressible:
//	        60% updates (txn-cas), 25% gets, 5% paginated lists of a namespace
//	        (pages of 500), 5% creates (insert), 5% deletes; event leases,
//	        leader election, compaction every 5 min, ListAndWatch; time_scale 1
//	k8s-storage  the k8s preset as etcd sees it behind the apiserver's watch
//	        cache (which serves most reads): 70% updates, 10% creates, 5%
//	        deletes, 14% gets, 1% lists, over 1000 namespaces; the workload
//	        of `etcdlab experiment k8s-storage` (etcd issue #22332)
//
// An unknown name is an error listing the accepted ones.
func Preset(name string) (Spec, error) {
	var s Spec
	switch name {
	case "ycsb-a":
		s = ycsb(name, Zipfian, OpMix{Get: 0.5, Put: 0.5})
	case "ycsb-b":
		s = ycsb(name, Zipfian, OpMix{Get: 0.95, Put: 0.05})
	case "ycsb-c":
		s = ycsb(name, Zipfian, OpMix{Get: 1})
	case "ycsb-d":
		s = ycsb(name, Latest, OpMix{Get: 0.95, Insert: 0.05})
	case "ycsb-e":
		s = ycsb(name, Zipfian, OpMix{Range: 0.95, Insert: 0.05})
		s.RangeLimit = Between(1, 100) // YCSB: maxscanlength 100, uniform
	case "ycsb-f":
		s = ycsb(name, Zipfian, OpMix{Get: 0.5, RMW: 0.5})
	case "etcd-put":
		s = Spec{
			Name: name,
			Keys: Keys{Count: etcdKeyCount, Distribution: Uniform, Size: Fixed(etcdKeySize), Encoding: EncodingBinary},
			// etcd's put benchmark picks rand.Intn(key-space-size) per request.
			ValueSize: Fixed(etcdValueSize),
			Ops:       OpMix{Put: 1},
			Preload:   int64p(0),
		}
	case "etcd-range":
		s = Spec{
			Name: name,
			Keys: Keys{Count: etcdKeyCount, Distribution: Uniform, Size: Fixed(etcdKeySize), Encoding: EncodingBinary},
			// etcd's range benchmark reads one given key over and over;
			// spreading gets over the preloaded keys measures the index and
			// the engine instead of one cached key.
			ValueSize:       Fixed(etcdValueSize),
			Ops:             OpMix{Get: 1},
			ReadConsistency: Linearizable, // the tool's default --consistency=l
		}
	case "k8s":
		s = Spec{
			Name:         name,
			Keys:         Keys{Count: k8sKeyCount, Distribution: Uniform, Shape: ShapeK8s},
			ValueSize:    Between(1<<10, 10<<10),
			Ops:          OpMix{TxnCAS: 0.6, Get: 0.25, Range: 0.05, Insert: 0.05, Delete: 0.05},
			RangeLimit:   Fixed(k8sPageSize),
			Compressible: k8sCompressible,
			K8s:          &K8s{ValueSizes: K8sValueSizes()},
		}
	case "k8s-storage":
		s, _ = Preset("k8s")
		s.Name = name
		// Writes dominate what reaches etcd: the watch cache answers most
		// gets and lists (consistent reads from the cache since Kubernetes
		// 1.31), so etcd sees the updates, creates and deletes, the gets of
		// GuaranteedUpdate's conflicts and the lists that bypass the cache.
		// The write split keeps the robustness suite's Update 90, Create 5,
		// Delete 5 shape with more creates, as events are created (and
		// expire by lease) rather than updated.
		s.Ops = OpMix{TxnCAS: 0.70, Insert: 0.10, Delete: 0.05, Get: 0.14, Range: 0.01}
		s.Keys.Namespaces = k8sStorageNamespaces
	default:
		return Spec{}, fmt.Errorf("%w %q (accepted: %s)", ErrUnknownPreset, name, strings.Join(Presets(), ", "))
	}
	s.EnsureDefaults()
	return s, nil
}
