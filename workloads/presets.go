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
)

// Presets returns the accepted preset names, sorted.
func Presets() []string {
	return []string{"etcd-put", "etcd-range", "k8s", "ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-e", "ycsb-f"}
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
//	k8s     /registry/<resource>/<ns>/<name> keys, 1-10 KiB values: 60% txn-cas
//	        updates, 25% get, 5% list of a namespace (limit 500), 5% create, 5% delete
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
			Name:       name,
			Keys:       Keys{Count: k8sKeyCount, Distribution: Uniform, Shape: ShapeK8s},
			ValueSize:  Between(1<<10, 10<<10),
			Ops:        OpMix{TxnCAS: 0.6, Get: 0.25, Range: 0.05, Insert: 0.05, Delete: 0.05},
			RangeLimit: Fixed(k8sPageSize),
		}
	default:
		return Spec{}, fmt.Errorf("%w %q (accepted: %s)", ErrUnknownPreset, name, strings.Join(Presets(), ", "))
	}
	s.EnsureDefaults()
	return s, nil
}
