package workloads

import (
	"math/bits"
	"math/rand/v2"
)

// rng is a PCG source with the two draws the generators need, called
// directly (no interface dispatch) to keep Next cheap.
type rng struct{ pcg rand.PCG }

// seed derives an independent stream for stream from the master seed: both
// PCG words go through splitmix64 so neighbouring workers do not start at
// neighbouring states.
func (r *rng) seed(master int64, stream uint64) {
	m := splitmix64(uint64(master))
	r.pcg.Seed(splitmix64(m^stream), splitmix64(m+0x9E3779B97F4A7C15*(stream+1)))
}

// float returns a uniform float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.pcg.Uint64()>>11) * 0x1p-53 }

// uintn returns a uniform integer in [0, n), n > 0 (Lemire's method, with the
// rejection step so it is unbiased).
func (r *rng) uintn(n uint64) uint64 {
	hi, lo := bits.Mul64(r.pcg.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.pcg.Uint64(), n)
		}
	}
	return hi
}

// maxRedraws bounds zipfian's redraws of ids not inserted yet; past it the
// id folds into the existing ones (only reachable when expected_inserts
// dwarfs keys.count).
const maxRedraws = 64

// Generator produces one worker's ops. It is deterministic for a given
// (master seed, worker) as long as the shared KeySpace evolves the same way:
// with one worker, or without inserts and the sequential distribution (whose
// state is shared across workers), the op sequence is a pure function of the
// seed and worker. Not safe for concurrent use: one Generator per worker.
type Generator struct {
	ks     *KeySpace
	worker int
	r      rng
	zs     zipfState
	key    []byte
	end    []byte
}

// Generator returns worker's generator. Workers with different numbers get
// independent random streams.
func (ks *KeySpace) Generator(worker int) *Generator {
	g := &Generator{ks: ks, worker: worker}
	g.r.seed(ks.seed, uint64(worker))
	g.key = make([]byte, 0, ks.maxKey)
	g.end = make([]byte, 0, max(ks.maxKey, len(ks.rangeEnd)))
	switch ks.spec.Keys.Distribution {
	case Zipfian:
		g.zs = newZipfState(&ks.zp, ks.scrItems, ks.scrZetan)
	case Latest:
		g.zs = newZipfState(&ks.zp, uint64(ks.spec.Keys.Count), ks.baseZetan)
	}
	return g
}

// Worker returns the worker number the generator was made for.
func (g *Generator) Worker() int { return g.worker }

// Next overwrites op with the next operation. It does not allocate. The only
// error is ErrKeySpaceFull, from an insert whose id the key encoding cannot
// render; op is then left unusable.
func (g *Generator) Next(op *Op) error {
	ks := g.ks
	kind := ks.kinds[0]
	if ks.nkinds > 1 {
		u := g.r.float()
		i := 0
		for u >= ks.cum[i] {
			i++
		}
		kind = ks.kinds[i]
	}
	var id uint64
	if kind == OpInsert {
		var err error
		if id, err = ks.claimInsert(); err != nil {
			*op = Op{}
			return err
		}
	} else {
		id = g.chooseID()
	}
	*op = Op{Kind: kind, ID: id}
	if kind == OpRange {
		if ks.k8s {
			g.key, g.end = ks.appendK8sList(g.key[:0], g.end[:0], id)
		} else {
			g.key = ks.AppendKey(g.key[:0], id)
			g.end = append(g.end[:0], ks.rangeEnd...)
		}
		op.Key, op.End = g.key, g.end
		rl := ks.spec.RangeLimit
		op.Limit = int64(rl.Min)
		if rl.Max > rl.Min {
			op.Limit += int64(g.r.uintn(uint64(rl.Max - rl.Min + 1)))
		}
	} else {
		g.key = ks.AppendKey(g.key[:0], id)
		op.Key = g.key
	}
	if kind.IsWrite() && kind != OpDelete {
		op.Value = ks.value(&g.r, id)
	}
	if kind.IsRead() && ks.linFrac < 1 {
		op.Serializable = ks.linFrac == 0 || g.r.float() >= ks.linFrac
	}
	return nil
}

// chooseID picks an existing id with the spec's distribution.
func (g *Generator) chooseID() uint64 {
	ks := g.ks
	n := ks.count.Load()
	switch ks.spec.Keys.Distribution {
	case Sequential:
		return (ks.seq.Add(1) - 1) % n
	case Zipfian:
		// YCSB's CoreWorkload: draw among keys.count+expected_inserts ids
		// and draw again while the id is not inserted yet.
		var id uint64
		for range maxRedraws {
			rank := g.zs.next(&ks.zp, g.r.float(), g.zs.items)
			id = fnvhash64(rank) % ks.scrMod
			if id < n {
				return id
			}
		}
		return id % n
	case Latest:
		// YCSB's SkewedLatestGenerator: newest id minus a zipfian offset.
		// (YCSB draws the offset among lastValue ids, so it never picks id
		// 0; we draw among all n.)
		return n - 1 - g.zs.next(&ks.zp, g.r.float(), n)
	case Hotspot:
		hot := uint64(float64(n) * ks.hotKeys)
		if hot == 0 || hot >= n {
			return g.r.uintn(n)
		}
		if g.r.float() < ks.hotOps {
			return g.r.uintn(hot)
		}
		return hot + g.r.uintn(n-hot)
	default: // Uniform
		return g.r.uintn(n)
	}
}
