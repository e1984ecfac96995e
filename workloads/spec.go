package workloads

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sentinel errors. Every error this package returns wraps one of them.
var (
	// ErrInvalidSpec marks a spec that fails validation or cannot be parsed.
	ErrInvalidSpec = errors.New("workloads: invalid spec")
	// ErrUnknownPreset marks a preset name that does not exist.
	ErrUnknownPreset = errors.New("workloads: unknown preset")
	// ErrKeySpaceFull marks an insert whose key id no longer fits the key
	// encoding (the key size is too small for that many keys).
	ErrKeySpaceFull = errors.New("workloads: key space full")
)

// Distribution names how keys are chosen among the existing key ids.
type Distribution string

// The key distributions.
const (
	// Sequential walks ids 0, 1, 2, ... and wraps at the current key count.
	// The cursor is shared by all workers of a KeySpace, as etcd's benchmark
	// tool shares one counter among its clients.
	Sequential Distribution = "sequential"
	// Uniform picks every existing id with the same probability.
	Uniform Distribution = "uniform"
	// Zipfian is YCSB's scrambled zipfian (ScrambledZipfianGenerator): a
	// zipfian rank with constant theta, hashed with FNV-1a 64 so the popular
	// ids are scattered over the key space instead of clustered at id 0.
	Zipfian Distribution = "zipfian"
	// Latest is YCSB's SkewedLatestGenerator: zipfian over recency, so the
	// most recently inserted id is the most popular (YCSB D).
	Latest Distribution = "latest"
	// Hotspot is YCSB's HotspotIntegerGenerator: hot_ops of the ops go to the
	// first hot_keys of the ids, the rest to the others, uniformly within each.
	Hotspot Distribution = "hotspot"
)

// Key shapes and encodings.
const (
	// ShapeFlat keys are prefix + the id in a fixed-width encoding + padding
	// up to the key's size: every key of a given id has the same bytes and
	// keys sort by id.
	ShapeFlat = "flat"
	// ShapeK8s keys look like Kubernetes objects in etcd:
	// <prefix><resource>/ns-NNNNN/<object>-NNNNNN. Ranges list one namespace
	// of one resource (a Kubernetes list) with range_limit as the page size.
	ShapeK8s = "k8s"

	// EncodingDecimal renders the id as zero-padded ASCII digits (readable,
	// like YCSB's "user123...").
	EncodingDecimal = "decimal"
	// EncodingBinary renders the id big-endian in the remaining bytes (dense:
	// 8 bytes hold any id, like etcd's benchmark tool's binary keys).
	EncodingBinary = "binary"
)

// Read consistencies.
const (
	Linearizable = "linearizable"
	Serializable = "serializable"
)

// Defaults applied by EnsureDefaults. Zero means "use the default" for every
// numeric field (so a zero key size or value size cannot be asked for).
const (
	DefaultKeyCount     = 100_000 // keeps runs small on a shared 2-core machine
	DefaultKeySize      = 16
	DefaultValueSize    = 256
	DefaultTheta        = 0.99 // YCSB's zipfian constant
	DefaultHotKeys      = 0.2  // YCSB hotspotdatafraction
	DefaultHotOps       = 0.8  // YCSB hotspotopnfraction
	DefaultNamespaces   = 10
	DefaultK8sPrefix    = "/registry/"
	DefaultRangeLimitLo = 1   // YCSB scan length: uniform 1..maxscanlength
	DefaultRangeLimitHi = 100 // YCSB maxscanlength

	// MaxValueSize bounds value sizes: values are windows into one random
	// block of at least twice this size per KeySpace, and etcd itself refuses
	// requests above 1.5 MiB by default.
	MaxValueSize = 64 << 20
	// MaxKeySize bounds key sizes (etcd's request limit makes bigger keys
	// pointless).
	MaxKeySize = 64 << 10
)

// DefaultK8sResources are the resources of the k8s shape when none are given.
func DefaultK8sResources() []string {
	return []string{"pods", "configmaps", "secrets", "leases", "events"}
}

// Size is a byte count (or a count of keys for range_limit) that is either
// fixed or drawn uniformly from [Min, Max]. In YAML it is a number (fixed) or
// a mapping {min: a, max: b}.
type Size struct {
	Min int `yaml:"min"`
	Max int `yaml:"max"`
}

// Fixed returns a Size of exactly n.
func Fixed(n int) Size { return Size{Min: n, Max: n} }

// Between returns a Size drawn uniformly from [lo, hi].
func Between(lo, hi int) Size { return Size{Min: lo, Max: hi} }

// IsZero reports whether s is unset (the default applies).
func (s Size) IsZero() bool { return s.Min == 0 && s.Max == 0 }

// UnmarshalYAML accepts a number or {min, max}; unknown fields are errors
// naming the field and its line, like the rest of the spec.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: size %q is not an integer", n.Line, n.Value)}}
		}
		*s = Size{Min: v, Max: v}
		return nil
	case yaml.MappingNode:
		var out Size
		var errs []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var dst *int
			switch k.Value {
			case "min":
				dst = &out.Min
			case "max":
				dst = &out.Max
			default:
				errs = append(errs, fmt.Sprintf("line %d: field %s not found in size (want min, max)", k.Line, k.Value))
				continue
			}
			x, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil {
				errs = append(errs, fmt.Sprintf("line %d: %s %q is not an integer", v.Line, k.Value, v.Value))
				continue
			}
			*dst = x
		}
		if errs != nil {
			return &yaml.TypeError{Errors: errs}
		}
		*s = out
		return nil
	}
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: size must be a number or {min, max}", n.Line)}}
}

// MarshalYAML writes a fixed size as a plain number.
func (s Size) MarshalYAML() (any, error) {
	if s.Min == s.Max {
		return s.Min, nil
	}
	return struct {
		Min int `yaml:"min"`
		Max int `yaml:"max"`
	}{s.Min, s.Max}, nil
}

func (s Size) validate(field string, errs *[]error) {
	bad := false
	if s.Min < 0 {
		*errs = append(*errs, specErr("%s.min: negative size %d", field, s.Min))
		bad = true
	}
	if s.Max < 0 {
		*errs = append(*errs, specErr("%s.max: negative size %d", field, s.Max))
		bad = true
	}
	if !bad && s.Min > s.Max {
		*errs = append(*errs, specErr("%s: min %d > max %d", field, s.Min, s.Max))
	}
}

// Keys describes the key space.
type Keys struct {
	// Count is the number of key ids that exist at the start (ids 0..Count-1);
	// inserts add ids after them. Default DefaultKeyCount.
	Count int64 `yaml:"count,omitempty"`
	// Distribution chooses ids for every op but insert. Default uniform.
	Distribution Distribution `yaml:"distribution,omitempty"`
	// Theta is the zipfian constant of zipfian and latest, in (0, 1).
	// Default 0.99 (YCSB's).
	Theta float64 `yaml:"theta,omitempty"`
	// HotKeys is hotspot's fraction of ids that are hot, in (0, 1). Default 0.2.
	HotKeys float64 `yaml:"hot_keys,omitempty"`
	// HotOps is hotspot's fraction of ops that go to hot ids, in [0, 1].
	// Default 0.8.
	HotOps float64 `yaml:"hot_ops,omitempty"`
	// ExpectedInserts widens zipfian's id space to Count+ExpectedInserts, and
	// ids not inserted yet are drawn again, as YCSB's CoreWorkload does: the
	// popular ids stay the same while the key space grows. Ids inserted past
	// it are never chosen by zipfian. Default: Count when ops.insert > 0.
	ExpectedInserts int64 `yaml:"expected_inserts,omitempty"`
	// Size is the key size in bytes, fixed or a range (a given id always has
	// the same size). Flat shape only. Default DefaultKeySize.
	Size Size `yaml:"size,omitempty"`
	// Prefix starts every key. Default "" for flat, "/registry/" for k8s.
	Prefix string `yaml:"prefix,omitempty"`
	// Encoding renders the id in flat keys: decimal (default) or binary.
	Encoding string `yaml:"encoding,omitempty"`
	// Shape is flat (default) or k8s.
	Shape string `yaml:"shape,omitempty"`
	// Resources are the k8s shape's resource names (default
	// DefaultK8sResources); ids are spread round-robin over them.
	Resources []string `yaml:"resources,omitempty"`
	// Namespaces is the k8s shape's namespace count per resource. Default 10.
	Namespaces int `yaml:"namespaces,omitempty"`
}

// OpMix gives the fraction of each op kind; the fractions add up to 1.
type OpMix struct {
	Get    float64 `yaml:"get,omitempty"`
	Put    float64 `yaml:"put,omitempty"`
	Delete float64 `yaml:"delete,omitempty"`
	Range  float64 `yaml:"range,omitempty"`
	TxnCAS float64 `yaml:"txn_cas,omitempty"`
	RMW    float64 `yaml:"rmw,omitempty"`
	Insert float64 `yaml:"insert,omitempty"`
}

// fractions returns the mix indexed by OpKind with YAML field names.
func (m OpMix) fractions() [numOpKinds]float64 {
	var f [numOpKinds]float64
	f[OpGet], f[OpPut], f[OpDelete], f[OpRange] = m.Get, m.Put, m.Delete, m.Range
	f[OpTxnCAS], f[OpRMW], f[OpInsert] = m.TxnCAS, m.RMW, m.Insert
	return f
}

func opField(k OpKind) string {
	if k == OpTxnCAS {
		return "txn_cas"
	}
	return k.String()
}

// Watch adds watchers to a run (etcd's watch, served by the layers that
// have it): they start with the measured phase, and the runner measures
// their events' latency (from the ack of the write that made the event),
// how far behind the store they are, and the catch-up reads they cause.
type Watch struct {
	// Watchers is the number of watchers; 0 (default) adds none.
	Watchers int `yaml:"watchers,omitempty"`
	// Prefixes splits the key space into this many parts and watcher i
	// watches part i mod Prefixes: contiguous id ranges of flat keys, one
	// resource per part of Kubernetes-shaped keys (a ListAndWatch of that
	// resource). Default 1: every watcher watches the whole key space.
	Prefixes int `yaml:"prefixes,omitempty"`
	// Streams is the number of watch streams the watchers share, round
	// robin (etcd's client puts the watches of one context on one stream).
	// Default: one stream per watcher.
	Streams int `yaml:"streams,omitempty"`
	// StartBehind starts the watchers this many revisions before the
	// store's revision at the start of the measured phase (revision 1 at
	// the earliest): they catch up from the backend, unsynced, while the
	// run goes on. 0 (default) starts them at the current revision.
	StartBehind int64 `yaml:"start_behind,omitempty"`
}

// Leases adds lease traffic to a run: churn (grant, attach keys, revoke or
// let expire) and long-lived leases kept alive.
type Leases struct {
	// Rate is how many leases are granted per second, each with
	// KeysPerLease keys put on it (under "lease/<id>/"). 0: no churn.
	Rate float64 `yaml:"rate,omitempty"`
	// KeysPerLease is the keys attached to each churned lease. Default 1.
	KeysPerLease int `yaml:"keys_per_lease,omitempty"`
	// TTL is the churned and kept-alive leases' TTL in seconds (the server
	// raises it to its minimum). Default 5.
	TTL int64 `yaml:"ttl,omitempty"`
	// RevokeAfter revokes each churned lease this many seconds after its
	// keys are put; 0 (default) lets it expire (the leader revokes it).
	RevokeAfter float64 `yaml:"revoke_after,omitempty"`
	// KeepAlives is the number of long-lived leases, each renewed every
	// TTL/3 seconds (etcd's client's pace) by a keepalive loop of its own.
	KeepAlives int `yaml:"keepalives,omitempty"`
}

// Active reports whether the spec asks for any lease traffic.
func (l Leases) Active() bool { return l.Rate > 0 || l.KeepAlives > 0 }

// DefaultLeaseTTL is Leases.TTL's default, in seconds.
const DefaultLeaseTTL = 5

// Spec describes a workload. The zero value plus EnsureDefaults is a valid
// spec only once Ops is set. Specs are plain values: copy freely.
type Spec struct {
	// Name labels results. Default "custom".
	Name string `yaml:"name,omitempty"`
	// Base names a preset a YAML file starts from: fields the file sets
	// replace the preset's, and an ops mapping replaces the whole mix.
	// ParseSpec applies it and clears it; other code ignores it.
	Base string `yaml:"base,omitempty"`
	Keys Keys   `yaml:"keys"`
	// ValueSize is the size of written values, fixed or a range drawn per op.
	// Default DefaultValueSize.
	ValueSize Size  `yaml:"value_size,omitempty"`
	Ops       OpMix `yaml:"ops"`
	// RangeLimit is the Limit of range ops, fixed or drawn per op (YCSB's scan
	// length, a Kubernetes list's page size). 0 would mean unlimited, but the
	// default is YCSB's uniform 1..100.
	RangeLimit Size `yaml:"range_limit,omitempty"`
	// ReadConsistency is "linearizable" (default, etcd's default),
	// "serializable", or a number in [0, 1]: the fraction of reads that are
	// linearizable.
	ReadConsistency string `yaml:"read_consistency,omitempty"`
	// Preload is how many ids (0..Preload-1) to write before the measured
	// phase. nil means all of Keys.Count; 0 means none (etcd's put benchmark
	// starts empty).
	Preload *int64 `yaml:"preload,omitempty"`
	// Watch adds watchers; Leases adds lease churn and keepalives. Both run
	// beside the clients' ops, from the start of the measured phase.
	Watch  Watch  `yaml:"watch,omitempty"`
	Leases Leases `yaml:"leases,omitempty"`
	// Compressible is the fraction of each value's bytes a compressor can
	// remove, in [0, 1]: 0 (default) writes random bytes, which no engine
	// compresses; real objects compress (JSON and protobuf repeat field
	// names, labels and managed fields), and pebble compresses its blocks
	// with snappy where bbolt stores values as they are. Values stay
	// windows of one shared block (see KeySpace): the block is built of
	// 256-byte chunks whose first Compressible*256 bytes repeat one text
	// and whose rest is random, so snappy's ratio is about 1-Compressible.
	Compressible float64 `yaml:"compressible,omitempty"`
	// K8s makes a keys.shape k8s workload kube-apiserver's traffic
	// (optimistic txns, paginated lists at a revision, event leases,
	// leader election, periodic compaction, ListAndWatch); see K8s.
	// Absent: the generator's ops run as plain requests (DoKV).
	K8s *K8s `yaml:"k8s,omitempty"`
}

// PreloadCount returns the number of ids to load (after EnsureDefaults).
func (s *Spec) PreloadCount() int64 {
	if s.Preload == nil {
		return s.Keys.Count
	}
	return *s.Preload
}

// EnsureDefaults fills every unset field with its documented default. It does
// not validate.
func (s *Spec) EnsureDefaults() {
	if s.Name == "" {
		s.Name = "custom"
	}
	k := &s.Keys
	if k.Count == 0 {
		k.Count = DefaultKeyCount
	}
	if k.Distribution == "" {
		k.Distribution = Uniform
	}
	if k.Theta == 0 && (k.Distribution == Zipfian || k.Distribution == Latest) {
		k.Theta = DefaultTheta
	}
	if k.Distribution == Hotspot {
		if k.HotKeys == 0 {
			k.HotKeys = DefaultHotKeys
		}
		if k.HotOps == 0 {
			k.HotOps = DefaultHotOps
		}
	}
	if k.ExpectedInserts == 0 && k.Distribution == Zipfian && s.Ops.Insert > 0 {
		k.ExpectedInserts = k.Count
	}
	if k.Shape == "" {
		k.Shape = ShapeFlat
	}
	switch k.Shape {
	case ShapeFlat:
		if k.Size.IsZero() {
			k.Size = Fixed(DefaultKeySize)
		}
		if k.Encoding == "" {
			k.Encoding = EncodingDecimal
		}
	case ShapeK8s:
		if k.Prefix == "" {
			k.Prefix = DefaultK8sPrefix
		}
		if len(k.Resources) == 0 {
			k.Resources = DefaultK8sResources()
		}
		if k.Namespaces == 0 {
			k.Namespaces = DefaultNamespaces
		}
	}
	if s.ValueSize.IsZero() {
		s.ValueSize = Fixed(DefaultValueSize)
	}
	if s.RangeLimit.IsZero() && s.Ops.Range > 0 {
		s.RangeLimit = Between(DefaultRangeLimitLo, DefaultRangeLimitHi)
	}
	if s.ReadConsistency == "" {
		s.ReadConsistency = Linearizable
	}
	if w := &s.Watch; w.Watchers > 0 {
		if w.Prefixes == 0 {
			w.Prefixes = 1
		}
		if w.Streams == 0 {
			w.Streams = w.Watchers
		}
	}
	if s.K8s != nil {
		s.K8s.ensureDefaults()
	}
	if l := &s.Leases; l.Active() {
		if l.KeysPerLease == 0 && l.Rate > 0 {
			l.KeysPerLease = 1
		}
		if l.TTL == 0 {
			l.TTL = DefaultLeaseTTL
		}
	}
}

func specErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSpec}, args...)...)
}

// linearizableFraction parses ReadConsistency.
func (s *Spec) linearizableFraction() (float64, error) {
	switch s.ReadConsistency {
	case Linearizable, "":
		return 1, nil
	case Serializable:
		return 0, nil
	}
	f, err := strconv.ParseFloat(s.ReadConsistency, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
		return 0, specErr("read_consistency: %q is not linearizable, serializable or a fraction in [0, 1]", s.ReadConsistency)
	}
	return f, nil
}

// Validate checks a spec after EnsureDefaults (it does not apply them, so an
// empty shape or distribution is reported) and reports every problem at
// once (errors.Join), each naming its field by YAML path.
func (s *Spec) Validate() error {
	var errs []error
	k := &s.Keys
	if k.Count < 0 {
		errs = append(errs, specErr("keys.count: negative count %d", k.Count))
	} else if k.Count == 0 {
		errs = append(errs, specErr("keys.count: must be positive"))
	}
	switch k.Distribution {
	case Sequential, Uniform, Zipfian, Latest, Hotspot:
	default:
		errs = append(errs, specErr("keys.distribution: unknown distribution %q (want sequential, uniform, zipfian, latest or hotspot)", k.Distribution))
	}
	usesTheta := k.Distribution == Zipfian || k.Distribution == Latest
	switch {
	case usesTheta && !(k.Theta > 0 && k.Theta < 1):
		errs = append(errs, specErr("keys.theta: %v not in (0, 1)", k.Theta))
	case !usesTheta && k.Theta != 0:
		errs = append(errs, specErr("keys.theta: only used by the zipfian and latest distributions, not %s", k.Distribution))
	}
	if k.Distribution == Hotspot {
		if !(k.HotKeys > 0 && k.HotKeys < 1) {
			errs = append(errs, specErr("keys.hot_keys: %v not in (0, 1)", k.HotKeys))
		}
		if !(k.HotOps >= 0 && k.HotOps <= 1) {
			errs = append(errs, specErr("keys.hot_ops: %v not in [0, 1]", k.HotOps))
		}
	} else {
		if k.HotKeys != 0 {
			errs = append(errs, specErr("keys.hot_keys: only used by the hotspot distribution"))
		}
		if k.HotOps != 0 {
			errs = append(errs, specErr("keys.hot_ops: only used by the hotspot distribution"))
		}
	}
	if k.ExpectedInserts < 0 {
		errs = append(errs, specErr("keys.expected_inserts: negative count %d", k.ExpectedInserts))
	} else if k.ExpectedInserts > 0 && k.Distribution != Zipfian {
		errs = append(errs, specErr("keys.expected_inserts: only used by the zipfian distribution"))
	}
	switch k.Shape {
	case ShapeFlat:
		k.Size.validate("keys.size", &errs)
		if k.Size.Max > MaxKeySize {
			errs = append(errs, specErr("keys.size.max: %d bytes is above the limit of %d", k.Size.Max, MaxKeySize))
		}
		switch k.Encoding {
		case EncodingDecimal, EncodingBinary:
			if k.Size.Min >= 0 && k.Count > 0 {
				width := k.Size.Min - len(k.Prefix)
				if c := idCapacity(k.Encoding, width); width <= 0 || c < uint64(k.Count) {
					errs = append(errs, specErr("keys.size: %d-byte keys with prefix %q hold %d %s ids, fewer than keys.count %d",
						k.Size.Min, k.Prefix, c, k.Encoding, k.Count))
				}
			}
		default:
			errs = append(errs, specErr("keys.encoding: unknown encoding %q (want decimal or binary)", k.Encoding))
		}
		if len(k.Resources) != 0 {
			errs = append(errs, specErr("keys.resources: only used by keys.shape k8s"))
		}
		if k.Namespaces != 0 {
			errs = append(errs, specErr("keys.namespaces: only used by keys.shape k8s"))
		}
	case ShapeK8s:
		if !k.Size.IsZero() {
			errs = append(errs, specErr("keys.size: not used with keys.shape k8s (key sizes follow the shape)"))
		}
		if k.Encoding != "" {
			errs = append(errs, specErr("keys.encoding: not used with keys.shape k8s"))
		}
		if k.Namespaces < 0 {
			errs = append(errs, specErr("keys.namespaces: negative count %d", k.Namespaces))
		} else if k.Namespaces >= k8sNamespaceCap {
			errs = append(errs, specErr("keys.namespaces: %d is above the limit of %d", k.Namespaces, k8sNamespaceCap-1))
		}
		for i, r := range k.Resources {
			if r == "" || strings.ContainsAny(r, "/\x00") || len(r) > 253 {
				errs = append(errs, specErr("keys.resources[%d]: %q is not a resource name (non-empty, no '/', at most 253 bytes)", i, r))
			}
		}
		if n := uint64(len(k.Resources)) * uint64(max(k.Namespaces, 0)); n > 0 && k.Count > 0 && uint64(k.Count) > n*k8sNameCap {
			errs = append(errs, specErr("keys.count: %d objects do not fit %d resources x %d namespaces x %d names", k.Count, len(k.Resources), k.Namespaces, k8sNameCap))
		}
	default:
		errs = append(errs, specErr("keys.shape: unknown shape %q (want flat or k8s)", k.Shape))
	}

	s.ValueSize.validate("value_size", &errs)
	if s.ValueSize.Max > MaxValueSize {
		errs = append(errs, specErr("value_size.max: %d bytes is above the limit of %d", s.ValueSize.Max, MaxValueSize))
	}
	s.RangeLimit.validate("range_limit", &errs)

	fr := s.Ops.fractions()
	sum, bad := 0.0, false
	for _, kind := range OpKinds() {
		f := fr[kind]
		if math.IsNaN(f) || math.IsInf(f, 0) {
			errs = append(errs, specErr("ops.%s: fraction %v is not a number", opField(kind), f))
			bad = true
			continue
		}
		if f < 0 {
			errs = append(errs, specErr("ops.%s: negative fraction %v", opField(kind), f))
			bad = true
		}
		sum += f
	}
	if !bad && math.Abs(sum-1) > 1e-9 {
		errs = append(errs, specErr("ops: fractions add up to %v, want 1", roundSum(sum)))
	}
	if _, err := s.linearizableFraction(); err != nil {
		errs = append(errs, err)
	}
	s.validateWatchLeases(&errs)
	if math.IsNaN(s.Compressible) || s.Compressible < 0 || s.Compressible > 1 {
		errs = append(errs, specErr("compressible: %v not in [0, 1]", s.Compressible))
	}
	s.validateK8s(&errs)
	if s.Preload != nil {
		if *s.Preload < 0 {
			errs = append(errs, specErr("preload: negative count %d", *s.Preload))
		} else if *s.Preload > k.Count && k.Count > 0 {
			errs = append(errs, specErr("preload: %d is more than keys.count %d", *s.Preload, k.Count))
		}
	}
	return errors.Join(errs...)
}

func (s *Spec) validateWatchLeases(errs *[]error) {
	w := &s.Watch
	switch {
	case w.Watchers < 0:
		*errs = append(*errs, specErr("watch.watchers: negative count %d", w.Watchers))
	case w.Watchers == 0:
		if w.Prefixes != 0 || w.Streams != 0 || w.StartBehind != 0 {
			*errs = append(*errs, specErr("watch: prefixes, streams and start_behind need watch.watchers"))
		}
	default:
		if w.Prefixes < 1 {
			*errs = append(*errs, specErr("watch.prefixes: %d must be at least 1", w.Prefixes))
		}
		if w.Streams < 1 || w.Streams > w.Watchers {
			*errs = append(*errs, specErr("watch.streams: %d not in [1, watch.watchers %d]", w.Streams, w.Watchers))
		}
		if w.StartBehind < 0 {
			*errs = append(*errs, specErr("watch.start_behind: negative revision count %d", w.StartBehind))
		}
		if s.Keys.Shape == ShapeK8s && len(s.Keys.Resources) > 0 && w.Prefixes > len(s.Keys.Resources) {
			*errs = append(*errs, specErr("watch.prefixes: %d is more than the %d resources of keys.shape k8s", w.Prefixes, len(s.Keys.Resources)))
		}
	}
	l := &s.Leases
	if math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate < 0 {
		*errs = append(*errs, specErr("leases.rate: %v is not a rate >= 0", l.Rate))
	}
	if l.KeepAlives < 0 {
		*errs = append(*errs, specErr("leases.keepalives: negative count %d", l.KeepAlives))
	}
	if l.KeysPerLease < 0 {
		*errs = append(*errs, specErr("leases.keys_per_lease: negative count %d", l.KeysPerLease))
	}
	if l.TTL < 0 {
		*errs = append(*errs, specErr("leases.ttl: negative TTL %d", l.TTL))
	}
	if math.IsNaN(l.RevokeAfter) || math.IsInf(l.RevokeAfter, 0) || l.RevokeAfter < 0 {
		*errs = append(*errs, specErr("leases.revoke_after: %v is not a time >= 0", l.RevokeAfter))
	}
	if !l.Active() && (l.KeysPerLease != 0 || l.TTL != 0 || l.RevokeAfter != 0) {
		*errs = append(*errs, specErr("leases: keys_per_lease, ttl and revoke_after need leases.rate or leases.keepalives"))
	}
	if l.Rate == 0 && (l.KeysPerLease != 0 || l.RevokeAfter != 0) && l.KeepAlives > 0 {
		*errs = append(*errs, specErr("leases: keys_per_lease and revoke_after are for churn (leases.rate)"))
	}
}

// roundSum hides float noise such as 0.8999999999999999 in messages.
func roundSum(x float64) float64 { return math.Round(x*1e9) / 1e9 }

// ParseSpec parses a YAML workload, applies defaults and validates it. An
// unknown field is an error naming the field and its line. With `base:
// <preset>` the file starts from that preset.
func ParseSpec(data []byte) (Spec, error) {
	// A first, lenient pass finds the base preset and whether the file sets
	// ops (an ops mapping replaces the preset's mix instead of merging into
	// it, so a file saying {get: 1} does not inherit put: 0.5).
	var head struct {
		Base string    `yaml:"base"`
		Ops  yaml.Node `yaml:"ops"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return Spec{}, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	var s Spec
	if head.Base != "" {
		p, err := Preset(head.Base)
		if err != nil {
			return Spec{}, fmt.Errorf("%w: base: %w", ErrInvalidSpec, err)
		}
		s = p
		if head.Ops.Kind != 0 {
			s.Ops = OpMix{}
		}
		// Defaults derived from the preset's mix must be derived again.
		if head.Ops.Kind != 0 {
			s.Keys.ExpectedInserts = 0
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return Spec{}, fmt.Errorf("%w: empty document", ErrInvalidSpec)
		}
		return Spec{}, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Spec{}, fmt.Errorf("%w: more than one YAML document", ErrInvalidSpec)
	}
	s.Base = "" // applied; the parsed spec is complete on its own
	s.EnsureDefaults()
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// LoadSpec reads and parses a YAML workload file.
func LoadSpec(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("workloads: %w", err)
	}
	s, err := ParseSpec(data)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Encode renders the spec as YAML that ParseSpec reads back to the same spec,
// so a result can record the exact workload.
func (s Spec) Encode() ([]byte, error) {
	s.Base = "" // the spec is complete; the base is already applied
	return yaml.Marshal(s)
}
