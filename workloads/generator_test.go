package workloads

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"regexp"
	"slices"
	"testing"
)

// The statistical tests use a fixed default seed so they cannot flake; pass
// -seed to explore others (their tolerances are many standard deviations).
var seedFlag = flag.Int64("seed", 20261124, "master seed for randomized tests")

func testSeed(t testing.TB) int64 {
	t.Helper()
	t.Logf("seed %d (rerun with -seed=%d)", *seedFlag, *seedFlag)
	return *seedFlag
}

func mustKeySpace(t testing.TB, s Spec, seed int64) *KeySpace {
	t.Helper()
	ks, err := NewKeySpace(s, seed)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mustPreset(t testing.TB, name string) Spec {
	t.Helper()
	s, err := Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func next(t testing.TB, g *Generator, op *Op) {
	t.Helper()
	if err := g.Next(op); err != nil {
		t.Fatal(err)
	}
}

// opRecord is a deep copy of an Op (Key, End and Value are reused).
type opRecord struct {
	Kind         OpKind
	ID           uint64
	Key, End     string
	Value        string
	Limit        int64
	Serializable bool
}

func record(op *Op) opRecord {
	return opRecord{op.Kind, op.ID, string(op.Key), string(op.End), string(op.Value), op.Limit, op.Serializable}
}

func sequence(t testing.TB, name string, seed int64, worker, n int) []opRecord {
	s := mustPreset(t, name)
	s.ReadConsistency = "0.5" // exercise the consistency draw too
	g := mustKeySpace(t, s, seed).Generator(worker)
	out := make([]opRecord, n)
	var op Op
	for i := range out {
		next(t, g, &op)
		out[i] = record(&op)
	}
	return out
}

func TestDeterminism(t *testing.T) {
	seed := testSeed(t)
	for _, name := range Presets() {
		t.Run("workload="+name, func(t *testing.T) {
			a := sequence(t, name, seed, 0, 3000)
			b := sequence(t, name, seed, 0, 3000)
			if !slices.Equal(a, b) {
				t.Fatal("same seed and worker gave different ops")
			}
			other := sequence(t, name, seed, 1, 3000)
			if slices.Equal(a, other) {
				t.Fatal("workers 0 and 1 gave the same ops")
			}
			reseeded := sequence(t, name, seed+1, 0, 3000)
			if slices.Equal(a, reseeded) {
				t.Fatal("seeds s and s+1 gave the same ops")
			}
		})
	}
}

func TestMixFractions(t *testing.T) {
	seed := testSeed(t)
	const n = 100_000
	for _, name := range Presets() {
		t.Run("workload="+name, func(t *testing.T) {
			s := mustPreset(t, name)
			ks := mustKeySpace(t, s, seed)
			g := ks.Generator(0)
			var counts [numOpKinds]int
			var op Op
			for range n {
				next(t, g, &op)
				counts[op.Kind]++
				checkOp(t, ks, &op)
			}
			want := s.Ops.fractions()
			for _, k := range OpKinds() {
				got := float64(counts[k]) / n
				// binomial sd at n=1e5 is at most 0.0016; 0.01 is > 6 sd.
				if math.Abs(got-want[k]) > 0.01 {
					t.Errorf("%s: fraction %.4f, want %.4f", k, got, want[k])
				}
			}
		})
	}
}

// checkOp checks the invariants every generated op keeps.
func checkOp(t testing.TB, ks *KeySpace, op *Op) {
	t.Helper()
	s := ks.spec
	if op.Kind.IsWrite() && op.Kind != OpDelete {
		d := ks.dists[ks.Resource(op.ID)]
		if len(op.Value) < d.Min || len(op.Value) > d.largest() || cap(op.Value) != len(op.Value) {
			t.Fatalf("%s: value len %d cap %d, want in %v with cap=len", op.Kind, len(op.Value), cap(op.Value), d)
		}
	} else if op.Value != nil {
		t.Fatalf("%s carries a value", op.Kind)
	}
	if op.Kind == OpRange {
		if op.End == nil || bytes.Compare(op.Key, op.End) >= 0 && !bytes.Equal(op.End, []byte{0}) {
			t.Fatalf("range [%q, %q) is empty", op.Key, op.End)
		}
		if op.Limit < int64(s.RangeLimit.Min) || op.Limit > int64(s.RangeLimit.Max) {
			t.Fatalf("limit %d not in %v", op.Limit, s.RangeLimit)
		}
	} else {
		if op.End != nil || op.Limit != 0 {
			t.Fatalf("%s has End %q Limit %d", op.Kind, op.End, op.Limit)
		}
		if want := ks.AppendKey(nil, op.ID); !bytes.Equal(op.Key, want) {
			t.Fatalf("%s: key %q for id %d, want %q", op.Kind, op.Key, op.ID, want)
		}
	}
	if op.ID >= ks.Count() {
		t.Fatalf("%s of id %d but only %d ids exist", op.Kind, op.ID, ks.Count())
	}
	if !op.Kind.IsRead() && op.Serializable {
		t.Fatalf("%s marked serializable", op.Kind)
	}
}

func idCounts(t testing.TB, s Spec, seed int64, n int) map[uint64]int {
	g := mustKeySpace(t, s, seed).Generator(0)
	counts := map[uint64]int{}
	var op Op
	for range n {
		next(t, g, &op)
		counts[op.ID]++
	}
	return counts
}

func TestZipfianSkew(t *testing.T) {
	seed := testSeed(t)
	s := mustPreset(t, "ycsb-c")
	s.Keys.Count = 1000
	counts := idCounts(t, s, seed, 100_000)
	freq := make([]int, s.Keys.Count)
	for id, c := range counts {
		freq[id] = c
	}
	slices.Sort(freq)
	top, median := freq[len(freq)-1], freq[len(freq)/2]
	t.Logf("top %d median %d distinct %d", top, median, len(counts))
	// YCSB folds ten billion ranks into the ids, which flattens the tail:
	// about 49x here, against 1 for uniform.
	if top < 20*max(median, 1) {
		t.Fatalf("most popular id drawn %d times, median %d: not zipfian", top, median)
	}
	// Scrambled: the hottest ids are not simply the smallest.
	hottest := uint64(0)
	for id, c := range counts {
		if c == top {
			hottest = id
		}
	}
	if want := fnvhash64(0) % 1000; hottest != want {
		t.Errorf("hottest id %d, want fnvhash64(rank 0)%%1000 = %d", hottest, want)
	}
}

// TestZipfianMatchesPMF checks Gray's generator against the exact zipfian
// probabilities (the naive oracle): ranks 0 and 1 are exact by construction,
// the rest approximate, so the total variation bound is loose.
func TestZipfianMatchesPMF(t *testing.T) {
	seed := testSeed(t)
	for _, theta := range []float64{0.5, 0.99} {
		const items, n = 50, 400_000
		p := newZipfParams(theta)
		st := newZipfState(&p, items, zeta(0, items, theta, 0))
		var r rng
		r.seed(seed, 0)
		var counts [items]int
		for range n {
			counts[st.next(&p, r.float(), items)]++
		}
		zn := zeta(0, items, theta, 0)
		tv := 0.0
		for i := range items {
			exact := 1 / math.Pow(float64(i+1), theta) / zn
			got := float64(counts[i]) / n
			tv += math.Abs(got-exact) / 2
			if i < 2 && math.Abs(got-exact) > 0.005 {
				t.Errorf("theta %v rank %d: %.4f, exact %.4f", theta, i, got, exact)
			}
		}
		t.Logf("theta %v: total variation %.4f", theta, tv)
		if tv > 0.05 {
			t.Errorf("theta %v: total variation %.4f from the exact pmf", theta, tv)
		}
	}
}

func TestZipfianGrowsZeta(t *testing.T) {
	// Extending zeta incrementally equals computing it afresh.
	p := newZipfParams(0.99)
	st := newZipfState(&p, 100, zeta(0, 100, 0.99, 0))
	st.next(&p, 0.5, 250)
	if want := zeta(0, 250, 0.99, 0); math.Abs(st.zetan-want) > 1e-12 || st.items != 250 {
		t.Fatalf("zeta %v items %d, want %v 250", st.zetan, st.items, want)
	}
}

func TestFNVMatchesYCSB(t *testing.T) {
	// YCSB's fnvhash64 is FNV-1a over the 8 little-endian bytes, then abs.
	for _, v := range []uint64{0, 1, 2, 12345, 1 << 40, math.MaxUint64} {
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
		want := h.Sum64()
		if int64(want) < 0 {
			want = -want
		}
		if got := fnvhash64(v); got != want&^(1<<63) {
			t.Errorf("fnvhash64(%d) = %d, want %d", v, got, want)
		}
	}
}

func TestLatestSeesOtherWorkersInserts(t *testing.T) {
	seed := testSeed(t)
	s := mustPreset(t, "ycsb-d")
	s.Keys.Count = 1000
	ks := mustKeySpace(t, s, seed)
	inserter, reader := ks.Generator(1), ks.Generator(0)
	var op Op
	inserts := 0
	for inserts < 200 {
		next(t, inserter, &op)
		if op.Kind == OpInsert {
			if op.ID != 1000+uint64(inserts) {
				t.Fatalf("insert of id %d, want %d", op.ID, 1000+inserts)
			}
			inserts++
		}
	}
	if ks.Count() != 1200 {
		t.Fatalf("count %d", ks.Count())
	}
	newest := 0
	gets := 0
	for range 20_000 {
		next(t, reader, &op)
		if op.Kind == OpGet {
			gets++
			if op.ID >= 1000 {
				newest++
			}
			if op.ID >= ks.Count() {
				t.Fatalf("read of id %d beyond count %d", op.ID, ks.Count())
			}
		}
	}
	// 200 of 1200 ids are the newest; zipfian over recency puts well over
	// half of the reads on them (about 0.8 for theta 0.99).
	if frac := float64(newest) / float64(gets); frac < 0.6 {
		t.Fatalf("only %.3f of reads hit the 200 newest ids", frac)
	}
}

func TestHotspot(t *testing.T) {
	seed := testSeed(t)
	s := Spec{Keys: Keys{Count: 1000, Distribution: Hotspot, HotKeys: 0.1, HotOps: 0.9}, Ops: OpMix{Get: 1}}
	counts := idCounts(t, s, seed, 100_000)
	hot := 0
	for id, c := range counts {
		if id < 100 {
			hot += c
		}
	}
	if frac := float64(hot) / 100_000; math.Abs(frac-0.9) > 0.01 {
		t.Fatalf("hot fraction %.4f, want 0.9", frac)
	}
	if len(counts) != 1000 {
		t.Fatalf("%d distinct ids, want all 1000", len(counts))
	}
}

func TestUniform(t *testing.T) {
	seed := testSeed(t)
	s := Spec{Keys: Keys{Count: 100}, Ops: OpMix{Get: 1}}
	counts := idCounts(t, s, seed, 100_000)
	for id := range uint64(100) {
		// expect 1000, sd ~31; 200 is > 6 sd.
		if c := counts[id]; c < 800 || c > 1200 {
			t.Fatalf("id %d drawn %d times, want about 1000", id, c)
		}
	}
}

func TestSequentialWraps(t *testing.T) {
	s := Spec{Keys: Keys{Count: 7, Distribution: Sequential}, Ops: OpMix{Put: 1}}
	ks := mustKeySpace(t, s, 1)
	g0, g1 := ks.Generator(0), ks.Generator(1)
	var op Op
	for i := range 30 {
		g := g0
		if i%2 == 1 {
			g = g1 // the cursor is shared, as in etcd's benchmark tool
		}
		next(t, g, &op)
		if op.ID != uint64(i%7) {
			t.Fatalf("op %d: id %d, want %d", i, op.ID, i%7)
		}
	}
}

func TestReadConsistency(t *testing.T) {
	seed := testSeed(t)
	for _, tc := range []struct {
		rc   string
		want float64 // fraction serializable
	}{{Linearizable, 0}, {Serializable, 1}, {"0.8", 0.2}, {"0", 1}} {
		s := Spec{Keys: Keys{Count: 100}, Ops: OpMix{Get: 0.5, Put: 0.3, Range: 0.2}, ReadConsistency: tc.rc}
		g := mustKeySpace(t, s, seed).Generator(0)
		var op Op
		reads, ser := 0, 0
		for range 50_000 {
			next(t, g, &op)
			if op.Kind.IsRead() {
				reads++
				if op.Serializable {
					ser++
				}
			} else if op.Serializable {
				t.Fatalf("%s marked serializable", op.Kind)
			}
		}
		if got := float64(ser) / float64(reads); math.Abs(got-tc.want) > 0.015 {
			t.Errorf("read_consistency %s: %.4f serializable, want %.2f", tc.rc, got, tc.want)
		}
	}
}

func TestFlatKeys(t *testing.T) {
	for _, tc := range []struct {
		keys Keys
		id   uint64
		want string
	}{
		{Keys{Count: 1000, Size: Fixed(10), Prefix: "user"}, 42, "user000042"},
		{Keys{Count: 1000, Size: Fixed(8), Encoding: EncodingBinary}, 0x0102, "\x00\x00\x00\x00\x00\x00\x01\x02"},
		{Keys{Count: 1000, Size: Fixed(4), Prefix: "k", Encoding: EncodingBinary}, 999, "k\x00\x03\xe7"},
	} {
		ks := mustKeySpace(t, Spec{Keys: tc.keys, Ops: OpMix{Get: 1}}, 1)
		if got := string(ks.AppendKey(nil, tc.id)); got != tc.want {
			t.Errorf("%+v id %d: key %q, want %q", tc.keys, tc.id, got, tc.want)
		}
	}
	// Ranged sizes: every size in range is used, an id always has the same
	// key, and keys still sort by id.
	ks := mustKeySpace(t, Spec{Keys: Keys{Count: 5000, Size: Between(8, 12), Prefix: "p/"}, Ops: OpMix{Get: 1}}, 1)
	seen := map[int]bool{}
	var prev []byte
	for id := range uint64(5000) {
		k := ks.AppendKey(nil, id)
		if len(k) < 8 || len(k) > 12 {
			t.Fatalf("id %d: key %q of %d bytes", id, k, len(k))
		}
		seen[len(k)] = true
		if !bytes.Equal(k, ks.AppendKey(nil, id)) {
			t.Fatal("key of an id changed")
		}
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			t.Fatalf("keys out of order: %q >= %q", prev, k)
		}
		prev = k
	}
	if len(seen) != 5 {
		t.Fatalf("sizes used %v", seen)
	}
}

func TestRangeEnd(t *testing.T) {
	for _, tc := range []struct{ prefix, want string }{
		{"user", "uses"}, {"", "\x00"}, {"a\xff", "b"}, {"\xff\xff", "\x00"},
	} {
		if got := string(prefixEnd([]byte(tc.prefix))); got != tc.want {
			t.Errorf("prefixEnd(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
	// A YCSB E scan runs from the chosen key to the end of the prefix.
	ks := mustKeySpace(t, mustPreset(t, "ycsb-e"), 1)
	g := ks.Generator(0)
	var op Op
	for op.Kind != OpRange {
		next(t, g, &op)
	}
	if !bytes.HasPrefix(op.Key, []byte("user")) || string(op.End) != "uses" {
		t.Fatalf("scan [%q, %q)", op.Key, op.End)
	}
}

func TestK8sKeys(t *testing.T) {
	seed := testSeed(t)
	s := mustPreset(t, "k8s")
	ks := mustKeySpace(t, s, seed)
	re := regexp.MustCompile(`^/registry/(pods|configmaps|secrets|leases|events)/ns-\d{5}/(pod|configmap|secret|lease|event)-\d{6}$`)
	if got := string(ks.AppendKey(nil, 5*10*345+5*3+1)); got != "/registry/configmaps/ns-00003/configmap-000345" {
		t.Fatalf("key %q", got)
	}
	all := make([][]byte, s.Keys.Count)
	for id := range all {
		all[id] = ks.AppendKey(nil, uint64(id))
		if !re.Match(all[id]) {
			t.Fatalf("key %q has not the k8s shape", all[id])
		}
	}
	g := ks.Generator(0)
	var op Op
	lists := 0
	for lists < 20 {
		next(t, g, &op)
		if op.Kind == OpInsert || op.Kind == OpDelete {
			continue
		}
		if op.Kind != OpRange {
			if !re.Match(op.Key) {
				t.Fatalf("%s of %q", op.Kind, op.Key)
			}
			continue
		}
		lists++
		// The list holds exactly the objects of one resource in one
		// namespace: the chosen id's.
		inList := 0
		for id, k := range all {
			in := bytes.Compare(k, op.Key) >= 0 && bytes.Compare(k, op.End) < 0
			if uint64(id) == op.ID && !in {
				t.Fatalf("list [%q, %q) misses the chosen key %q", op.Key, op.End, k)
			}
			if in {
				inList++
				if !bytes.HasPrefix(k, op.Key) {
					t.Fatalf("list [%q, %q) holds %q", op.Key, op.End, k)
				}
			}
		}
		if want := int(s.Keys.Count) / (5 * 10); inList != want {
			t.Fatalf("list [%q, %q) holds %d objects, want %d", op.Key, op.End, inList, want)
		}
		if op.Limit != 500 {
			t.Fatalf("limit %d", op.Limit)
		}
	}
}

func TestInsertKeySpaceFull(t *testing.T) {
	s := Spec{Keys: Keys{Count: 98, Size: Fixed(2)}, Ops: OpMix{Insert: 1}}
	ks := mustKeySpace(t, s, 1)
	g := ks.Generator(0)
	var op Op
	for _, want := range []uint64{98, 99} {
		next(t, g, &op)
		if op.ID != want || string(op.Key) != fmt.Sprint(want) {
			t.Fatalf("insert id %d key %q, want %d", op.ID, op.Key, want)
		}
	}
	err := g.Next(&op)
	if !errors.Is(err, ErrKeySpaceFull) {
		t.Fatalf("third insert: %v, want ErrKeySpaceFull", err)
	}
	if ks.Count() != 100 {
		t.Fatalf("count %d after a refused insert, want 100", ks.Count())
	}
}

func TestZipfianWithInserts(t *testing.T) {
	// YCSB E: zipfian reads never target ids not inserted yet, and reach
	// inserted ones.
	seed := testSeed(t)
	s := mustPreset(t, "ycsb-e")
	s.Keys.Count = 1000
	ks := mustKeySpace(t, s, seed)
	g := ks.Generator(0)
	var op Op
	readNew := 0
	for range 100_000 {
		next(t, g, &op)
		if op.Kind == OpRange {
			if op.ID >= ks.Count() {
				t.Fatalf("scan from id %d, only %d exist", op.ID, ks.Count())
			}
			if op.ID >= 1000 {
				readNew++
			}
		}
	}
	if readNew == 0 {
		t.Fatal("no scan started at an inserted id")
	}
}

func TestLoader(t *testing.T) {
	seed := testSeed(t)
	s := Spec{Keys: Keys{Count: 1000}, Ops: OpMix{Get: 1}, Preload: int64p(777), ValueSize: Between(10, 20)}
	ks := mustKeySpace(t, s, seed)
	if _, err := ks.Loader(3, 3); err == nil {
		t.Fatal("part 3 of 3 accepted")
	}
	var next uint64
	total := uint64(0)
	for part := range 4 {
		l, err := ks.Loader(part, 4)
		if err != nil {
			t.Fatal(err)
		}
		total += l.Len()
		var op Op
		for l.Next(&op) {
			if op.Kind != OpPut || op.ID != next || !bytes.Equal(op.Key, ks.AppendKey(nil, op.ID)) ||
				len(op.Value) < 10 || len(op.Value) > 20 {
				t.Fatalf("load op %+v, want put of id %d", op, next)
			}
			next++
		}
	}
	if next != 777 || total != 777 {
		t.Fatalf("loaded %d ids (Len sum %d), want 777", next, total)
	}
	// The default preload is every id; etcd-put preloads none.
	if ks := mustKeySpace(t, mustPreset(t, "ycsb-a"), 1); ks.Preload() != 100_000 {
		t.Fatalf("ycsb-a preload %d", ks.Preload())
	}
	if ks := mustKeySpace(t, mustPreset(t, "etcd-put"), 1); ks.Preload() != 0 {
		t.Fatalf("etcd-put preload %d", ks.Preload())
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	seed := testSeed(t)
	for _, name := range Presets() {
		ks := mustKeySpace(t, mustPreset(t, name), seed)
		g := ks.Generator(0)
		var op Op
		for range 1000 { // warm up: buffers reach their size
			next(t, g, &op)
		}
		if a := testing.AllocsPerRun(5000, func() { _ = g.Next(&op) }); a != 0 {
			t.Errorf("%s: %v allocations per Next", name, a)
		}
	}
}

func TestNewKeySpaceRejectsInvalid(t *testing.T) {
	_, err := NewKeySpace(Spec{Ops: OpMix{Get: 0.3}}, 1)
	if !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("error %v", err)
	}
}
