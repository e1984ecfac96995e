package workloads

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
)

const (
	k8sNamespaceCap = 100_000   // ns-NNNNN
	k8sNameCap      = 1_000_000 // <object>-NNNNNN
	k8sNsDigits     = 5
	k8sNameDigits   = 6

	minValueBlock = 1 << 20
	keyPad        = 'x'
)

// idCapacity is how many distinct ids fit width bytes of the encoding.
func idCapacity(encoding string, width int) uint64 {
	if width <= 0 {
		return 0
	}
	switch encoding {
	case EncodingBinary:
		if width >= 8 {
			return math.MaxUint64
		}
		return 1 << (8 * width)
	default:
		if width >= 20 { // 10^20 > 2^64
			return math.MaxUint64
		}
		c := uint64(1)
		for range width {
			c *= 10
		}
		return c
	}
}

// KeySpace is the state a workload's workers share: the validated spec, the
// master seed, the number of key ids that exist (grown by inserts from any
// worker, so read-latest sees every worker's inserts), the sequential cursor,
// precomputed zipfian constants and the random block values are cut from.
// It is safe for concurrent use; Generators and Loaders are not (one each per
// worker).
type KeySpace struct {
	spec    Spec
	seed    int64
	linFrac float64

	count    atomic.Uint64 // ids 0..count-1 exist: Keys.Count plus inserts handed out
	seq      atomic.Uint64 // sequential distribution's shared cursor
	capacity uint64        // ids the key encoding can render

	kinds  [numOpKinds]OpKind // kinds with a positive fraction
	cum    [numOpKinds]float64
	nkinds int

	// Flat keys.
	prefix   []byte
	width    int
	binary   bool
	sizeMin  int
	sizeSpan uint64
	rangeEnd []byte
	maxKey   int
	// k8s keys.
	k8s        bool
	resources  [][]byte // "<prefix><resource>/ns-"
	objects    [][]byte // "/<object>-"
	namespaces uint64
	// dists is each resource's value size distribution (one entry, from
	// value_size, for flat keys).
	dists    []ValueDist
	fallback ValueDist // value_size, for objects of no listed resource

	zp        zipfParams
	scrItems  uint64 // zipfian: ranks are drawn among scrItems ...
	scrZetan  float64
	scrMod    uint64  // ... and hashed into [0, scrMod)
	baseZetan float64 // latest: zeta(Keys.Count)
	hotKeys   float64
	hotOps    float64

	block []byte // random bytes values are windows of
}

// NewKeySpace applies defaults to spec, validates it and precomputes what
// the generators share. seed is the run's master seed: every worker's random
// source and the value block derive from it. Zeta for a non-default theta
// costs O(keys.count + keys.expected_inserts) here, once.
func NewKeySpace(spec Spec, seed int64) (*KeySpace, error) {
	spec.EnsureDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec.Keys.Resources = append([]string(nil), spec.Keys.Resources...) // own it
	spec.K8s = spec.K8s.clone()
	ks := &KeySpace{spec: spec, seed: seed}
	ks.linFrac, _ = spec.linearizableFraction()
	k := &spec.Keys
	ks.count.Store(uint64(k.Count))

	fr := spec.Ops.fractions()
	total := 0.0
	for _, kind := range OpKinds() {
		if fr[kind] > 0 {
			total += fr[kind]
			ks.kinds[ks.nkinds] = kind
			ks.cum[ks.nkinds] = total
			ks.nkinds++
		}
	}
	ks.cum[ks.nkinds-1] = math.Inf(1) // no gap from float rounding at the top

	if k.Shape == ShapeK8s {
		ks.k8s = true
		ks.namespaces = uint64(k.Namespaces)
		longest := 0
		for _, r := range k.Resources {
			ks.resources = append(ks.resources, []byte(k.Prefix+r+"/ns-"))
			// pods -> pod, as object names often read
			ks.objects = append(ks.objects, []byte("/"+k8sObjectName(r)+"-"))
			ks.dists = append(ks.dists, spec.valueDist(r))
			longest = max(longest, len(k.Prefix)+2*len(r)+1)
		}
		ks.maxKey = longest + len("/ns-/-") + k8sNsDigits + k8sNameDigits
		ks.capacity = uint64(len(k.Resources)) * ks.namespaces * k8sNameCap
	} else {
		ks.prefix = []byte(k.Prefix)
		ks.width = k.Size.Min - len(k.Prefix)
		ks.binary = k.Encoding == EncodingBinary
		ks.sizeMin = k.Size.Min
		ks.sizeSpan = uint64(k.Size.Max - k.Size.Min)
		ks.capacity = idCapacity(k.Encoding, ks.width)
		ks.maxKey = k.Size.Max
		ks.rangeEnd = prefixEnd(ks.prefix)
	}

	ks.zp = newZipfParams(k.Theta)
	switch k.Distribution {
	case Zipfian:
		ks.scrMod = uint64(k.Count) + uint64(k.ExpectedInserts)
		if k.Theta == ycsbScrambledTheta {
			ks.scrItems, ks.scrZetan = ycsbScrambledItems, ycsbScrambledZetan
		} else {
			// YCSB would sum zeta over ten billion items here; we draw ranks
			// among the ids themselves, which is the same distribution
			// before hashing and costs O(ids) instead.
			ks.scrItems = ks.scrMod
			ks.scrZetan = zeta(0, ks.scrItems, k.Theta, 0)
		}
	case Latest:
		ks.baseZetan = zeta(0, uint64(k.Count), k.Theta, 0)
	case Hotspot:
		ks.hotKeys, ks.hotOps = k.HotKeys, k.HotOps
	}

	ks.fallback = ValueDist{Min: spec.ValueSize.Min, Max: spec.ValueSize.Max}
	if !ks.k8s {
		ks.dists = []ValueDist{ks.fallback}
	}
	ks.block = newValueBlock(max(minValueBlock, 2*spec.largestValue()), spec.Compressible, seed)
	return ks, nil
}

// compressChunk is the period of the value block's pattern: each chunk
// starts with its compressible run.
const compressChunk = 256

// compressText fills the compressible runs: object-like text, the same in
// every chunk, so a compressor finds each run again 256 bytes back.
const compressText = `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"app-7d4b9c","namespace":"default","labels":{"app":"web","tier":"frontend"},` +
	`"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-01-01T00:00:00Z"}},"spec":{"containers":[{"name":"web","image":"registry.k8s.io/app:1.0"}]}}`

// newValueBlock builds the block values are cut from: random bytes from
// seed, except that each 256-byte chunk starts with round(compressible*256)
// bytes of compressText.
func newValueBlock(size int, compressible float64, seed int64) []byte {
	block := make([]byte, size)
	src := rand.NewPCG(splitmix64(uint64(seed)^0x76616c756573), splitmix64(uint64(seed)+1))
	for i := 0; i < len(block); i += 8 {
		v := src.Uint64()
		for j := 0; j < 8 && i+j < len(block); j++ {
			block[i+j] = byte(v >> (8 * j))
		}
	}
	run := int(math.Round(compressible * compressChunk))
	if run == 0 {
		return block
	}
	for c := 0; c < len(block); c += compressChunk {
		n := min(run, len(block)-c)
		for i := 0; i < n; i++ {
			block[c+i] = compressText[i%len(compressText)]
		}
	}
	return block
}

// prefixEnd is etcd's GetPrefixRangeEnd: the smallest key greater than every
// key with the prefix, or "\x00" (every key from the start on) when there is
// none.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[: i+1 : i+1]
		}
	}
	return []byte{0}
}

// Spec returns the spec with defaults applied.
func (ks *KeySpace) Spec() Spec { return ks.spec }

// Seed returns the master seed.
func (ks *KeySpace) Seed() int64 { return ks.seed }

// Count returns how many key ids exist now: keys.count plus every insert
// handed out so far by any worker. An insert counts from the moment Next
// returns it, before the client has written it, so a read-latest op may
// target a key whose insert is still in flight (and miss).
func (ks *KeySpace) Count() uint64 { return ks.count.Load() }

// Preload returns the number of ids (0..Preload-1) to load first.
func (ks *KeySpace) Preload() int64 { return ks.spec.PreloadCount() }

// MaxKeySize returns the longest key this key space renders.
func (ks *KeySpace) MaxKeySize() int { return ks.maxKey }

// claimInsert hands out the next new id, refusing ids the encoding cannot
// render rather than wrapping onto existing keys.
func (ks *KeySpace) claimInsert() (uint64, error) {
	for {
		c := ks.count.Load()
		if c >= ks.capacity {
			return 0, fmt.Errorf("%w: id %d does not fit the key encoding (%d ids)", ErrKeySpaceFull, c, ks.capacity)
		}
		if ks.count.CompareAndSwap(c, c+1) {
			return c, nil
		}
	}
}

// AppendKey appends the key of id to dst. Every worker and the loader render
// an id to the same bytes.
func (ks *KeySpace) AppendKey(dst []byte, id uint64) []byte {
	if ks.k8s {
		return ks.appendK8sKey(dst, id)
	}
	dst = append(dst, ks.prefix...)
	n := len(dst)
	dst = slices.Grow(dst, ks.width)[:n+ks.width]
	field := dst[n:]
	v := id
	if ks.binary {
		for i := len(field) - 1; i >= 0; i-- {
			field[i] = byte(v)
			v >>= 8
		}
	} else {
		i := len(field) - 1
		for ; i >= 0 && v != 0; i-- {
			field[i] = '0' + byte(v%10)
			v /= 10
		}
		for ; i >= 0; i-- {
			field[i] = '0'
		}
	}
	if ks.sizeSpan > 0 {
		// The id hashes to its size, so the same id always has the same key.
		pad := int(splitmix64(id) % (ks.sizeSpan + 1))
		n = len(dst)
		dst = slices.Grow(dst, pad)[:n+pad]
		for i := n; i < len(dst); i++ {
			dst[i] = keyPad
		}
	}
	return dst
}

func (ks *KeySpace) k8sCoords(id uint64) (res, ns, name uint64) {
	r := uint64(len(ks.resources))
	return id % r, (id / r) % ks.namespaces, id / (r * ks.namespaces)
}

func (ks *KeySpace) appendK8sKey(dst []byte, id uint64) []byte {
	res, ns, name := ks.k8sCoords(id)
	dst = append(dst, ks.resources[res]...)
	dst = appendDigits(dst, ns, k8sNsDigits)
	dst = append(dst, ks.objects[res]...)
	return appendDigits(dst, name, k8sNameDigits)
}

// WatchRange returns the range watcher part i of parts watches
// (Spec.Watch.Prefixes): for flat keys the i-th of parts contiguous ranges
// of the ids that exist at the start (the last one open-ended, so inserts
// fall in it), for Kubernetes-shaped keys resource i's prefix
// (<prefix><resource>/). end is an
// exclusive bound, "\x00" for "every key from key on".
func (ks *KeySpace) WatchRange(i, parts int) (key, end []byte) {
	if parts < 1 || i < 0 {
		parts, i = 1, 0
	}
	i %= parts
	if ks.k8s {
		// The whole resource, as the apiserver watches it: objects
		// outside ns-NNNNN (the k8s driver's leader-election objects)
		// included.
		res := ks.ResourcePrefix(i % len(ks.resources))
		return res, prefixEnd(res)
	}
	n := uint64(ks.spec.Keys.Count)
	lo := n * uint64(i) / uint64(parts)
	key = ks.AppendKey(nil, lo)
	if i == parts-1 {
		return key, prefixEnd(ks.prefix)
	}
	return key, ks.AppendKey(nil, n*uint64(i+1)/uint64(parts))
}

// appendK8sList appends the start and end of the list of id's namespace of
// id's resource: [<prefix><res>/ns-NNNNN/, <prefix><res>/ns-NNNNN0).
func (ks *KeySpace) appendK8sList(start, end []byte, id uint64) ([]byte, []byte) {
	res, ns, _ := ks.k8sCoords(id)
	start = append(start, ks.resources[res]...)
	start = appendDigits(start, ns, k8sNsDigits)
	start = append(start, '/')
	end = append(end, start...)
	end[len(end)-1] = '/' + 1
	return start, end
}

func appendDigits(dst []byte, v uint64, width int) []byte {
	n := len(dst)
	dst = slices.Grow(dst, width)[:n+width]
	for i := n + width - 1; i >= n; i-- {
		dst[i] = '0' + byte(v%10)
		v /= 10
	}
	return dst
}

// value returns a read-only window of the random block of a size drawn from
// value_size. Its capacity is clipped so an append by a client copies instead
// of writing into the shared block.
func (ks *KeySpace) value(r *rng, id uint64) []byte {
	d := &ks.dists[0]
	if ks.k8s {
		d = &ks.dists[id%uint64(len(ks.resources))]
	}
	return ks.valueOf(r, d)
}

func (ks *KeySpace) valueOf(r *rng, d *ValueDist) []byte {
	lo, hi := d.Min, d.Max
	if d.Tail > 0 && r.float() < d.Tail {
		lo, hi = d.Max, d.TailMax
	}
	size := lo
	if hi > lo {
		size += int(r.uintn(uint64(hi - lo + 1)))
	}
	off := int(r.uintn(uint64(len(ks.block) - size + 1)))
	return ks.block[off : off+size : off+size]
}

// Values is a source of values outside the generators (the k8s driver's
// own writes: leader election, events). Not safe for concurrent use.
type Values struct {
	ks *KeySpace
	r  rng
}

// Values returns the value source of stream (streams apart from the
// workers' and the loaders': give a number >= 1<<40).
func (ks *KeySpace) Values(stream uint64) *Values {
	v := &Values{ks: ks}
	v.r.seed(ks.seed, stream)
	return v
}

// Of returns a value of resource index res (a window of the shared block,
// read-only, as Op.Value); a negative res, or flat keys, draws from
// value_size.
func (v *Values) Of(res int) []byte {
	d := &v.ks.dists[0]
	if v.ks.k8s {
		d = &v.ks.fallback
		if res >= 0 {
			d = &v.ks.dists[res%len(v.ks.dists)]
		}
	}
	return v.ks.valueOf(&v.r, d)
}

// K8sID parses a key of the k8s shape back into its id; ok is false for
// any other key (a leader-election object, compact_rev_key).
func (ks *KeySpace) K8sID(key []byte) (id uint64, ok bool) {
	if !ks.k8s {
		return 0, false
	}
	for res, p := range ks.resources {
		if len(key) != len(p)+k8sNsDigits+len(ks.objects[res])+k8sNameDigits || string(key[:len(p)]) != string(p) {
			continue
		}
		rest := key[len(p):]
		ns, ok1 := parseDigits(rest[:k8sNsDigits])
		rest = rest[k8sNsDigits:]
		if string(rest[:len(ks.objects[res])]) != string(ks.objects[res]) {
			continue
		}
		name, ok2 := parseDigits(rest[len(ks.objects[res]):])
		if !ok1 || !ok2 || ns >= ks.namespaces {
			continue
		}
		r := uint64(len(ks.resources))
		return name*r*ks.namespaces + ns*r + uint64(res), true
	}
	return 0, false
}

func parseDigits(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// Float returns a uniform float64 in [0, 1) from the source.
func (v *Values) Float() float64 { return v.r.float() }

// Resources returns the k8s shape's resource names (nil for flat keys).
func (ks *KeySpace) Resources() []string {
	if !ks.k8s {
		return nil
	}
	return ks.spec.Keys.Resources
}

// Resource returns the index of id's resource (k8s shape; 0 for flat).
func (ks *KeySpace) Resource(id uint64) int {
	if !ks.k8s {
		return 0
	}
	return int(id % uint64(len(ks.resources)))
}

// ResourcePrefix returns "<prefix><resource>/" of resource index res.
func (ks *KeySpace) ResourcePrefix(res int) []byte {
	r := ks.resources[res]
	return append([]byte(nil), r[:len(r)-len("ns-")]...)
}

// Loader yields the preload: put ops for one contiguous share of the ids
// 0..Preload-1, in id order (so each part loads sequentially).
type Loader struct {
	ks       *KeySpace
	r        rng
	next     uint64
	end      uint64
	key      []byte
	expected uint64
}

// Loader returns the loader of part (0 <= part < parts) of the preload. The
// parts together load every preload id exactly once; values derive from the
// master seed and part.
func (ks *KeySpace) Loader(part, parts int) (*Loader, error) {
	if parts <= 0 || part < 0 || part >= parts {
		return nil, fmt.Errorf("workloads: loader part %d of %d out of range", part, parts)
	}
	n := uint64(ks.spec.PreloadCount())
	lo := n * uint64(part) / uint64(parts)
	hi := n * uint64(part+1) / uint64(parts)
	l := &Loader{ks: ks, next: lo, end: hi, expected: hi - lo, key: make([]byte, 0, ks.maxKey)}
	l.r.seed(ks.seed, 1<<32+uint64(part))
	return l, nil
}

// Len returns how many ops this loader yields in all.
func (l *Loader) Len() uint64 { return l.expected }

// Next fills op with the next put of the preload and reports false when the
// share is done. Key and Value follow Op's lifetime rules.
func (l *Loader) Next(op *Op) bool {
	if l.next >= l.end {
		return false
	}
	id := l.next
	l.next++
	l.key = l.ks.AppendKey(l.key[:0], id)
	*op = Op{Kind: OpPut, ID: id, Key: l.key, Value: l.ks.value(&l.r, id)}
	return true
}
