package workloads

import "math"

// YCSB's scrambled zipfian draws a rank from a zipfian over ten billion items
// (ScrambledZipfianGenerator.ITEM_COUNT, with zeta precomputed for theta
// 0.99 as ZETAN) and hashes it into the key space; doing the same keeps our
// hot set identical in shape to YCSB's.
const (
	ycsbScrambledItems = 10_000_000_000 + 1 // ZipfianGenerator(0, ITEM_COUNT): max-min+1
	ycsbScrambledZetan = 26.46902820178302
	ycsbScrambledTheta = 0.99
)

// zipfParams are the immutable constants of one theta (Gray et al., "Quickly
// Generating Billion-Record Synthetic Databases", as in YCSB's
// ZipfianGenerator).
type zipfParams struct {
	theta float64
	alpha float64 // 1 / (1 - theta)
	zeta2 float64 // zeta(2, theta) = 1 + 0.5^theta
}

func newZipfParams(theta float64) zipfParams {
	return zipfParams{theta: theta, alpha: 1 / (1 - theta), zeta2: 1 + math.Pow(0.5, theta)}
}

// zeta adds 1/i^theta for i in (from, to] to initial: the incremental form
// lets a growing key space extend zeta instead of recomputing it.
func zeta(from, to uint64, theta, initial float64) float64 {
	sum := initial
	for i := from; i < to; i++ {
		sum += 1 / math.Pow(float64(i+1), theta)
	}
	return sum
}

// zipfState is the per-item-count part: zeta(items) and eta. A generator owns
// its copy, so growing it needs no lock.
type zipfState struct {
	items uint64
	zetan float64
	eta   float64
}

func newZipfState(p *zipfParams, items uint64, zetan float64) zipfState {
	st := zipfState{items: items, zetan: zetan}
	st.eta = p.etaFor(items, zetan)
	return st
}

func (p *zipfParams) etaFor(items uint64, zetan float64) float64 {
	return (1 - math.Pow(2/float64(items), 1-p.theta)) / (1 - p.zeta2/zetan)
}

// next returns a rank in [0, items) with P(rank r) ~ 1/(r+1)^theta, given a
// uniform u in [0, 1). If items grew since the last call, zeta is extended
// (YCSB's ZipfianGenerator.nextLong(itemcount) does the same).
func (st *zipfState) next(p *zipfParams, u float64, items uint64) uint64 {
	if items > st.items {
		st.zetan = zeta(st.items, items, p.theta, st.zetan)
		st.items = items
		st.eta = p.etaFor(items, st.zetan)
	}
	uz := u * st.zetan
	if uz < 1 {
		return 0
	}
	if uz < p.zeta2 {
		return 1
	}
	// pow(x, alpha) as exp(alpha*log(x)): x is in (0, 1], so math.Pow's
	// special cases are never needed (about 20% off Next for YCSB A-F).
	r := uint64(float64(items) * math.Exp(p.alpha*math.Log(st.eta*u-st.eta+1)))
	if r >= items { // float rounding at u close to 1
		r = items - 1
	}
	return r
}

// fnvhash64 is YCSB's Utils.fnvhash64: FNV-1a over the 8 little-endian bytes
// of v, then Java's Math.abs.
func fnvhash64(v uint64) uint64 {
	h := uint64(0xCBF29CE484222325)
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		v >>= 8
		h *= 1099511628211
	}
	if int64(h) < 0 {
		h = -h
		// Java's Math.abs(Long.MIN_VALUE) stays negative; clear the sign so
		// the modulo that follows stays in range.
		h &^= 1 << 63
	}
	return h
}

// splitmix64 is a strong 64-bit mixer (Steele et al.), used to derive
// independent per-worker seeds from one master seed and to hash key ids to
// key sizes.
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}
