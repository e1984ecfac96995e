package engines_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"etcdlab/engines"
	"etcdlab/engines/enginetest"
)

var seedFlag = flag.Int64("seed", 0, "seed for the randomized tests of package engines (0: pick one and log it)")

func testSeed(t *testing.T) int64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	return seed
}

// An oracle op log: one seeded sequence of operations, applied in lockstep to
// every engine and to a naive map.
type opKind int

const (
	oPut opKind = iota
	oDelete
	oDeleteRange
	oCommit
	oDiscard
	oGet
	oScan
	oHoldView
	oReleaseView
	oReopen
	oReclaim
)

type oracleOp struct {
	kind       opKind
	bucket     int
	key, end   []byte // key is also a scan or delete-range start; nil end: end of bucket
	value      []byte
	limit      int
	sync, held bool // held: read through the held view instead of a fresh one
}

func (o oracleOp) String() string {
	b := oracleBuckets()[o.bucket]
	switch o.kind {
	case oPut:
		return fmt.Sprintf("put %s %q (%d bytes)", b, o.key, len(o.value))
	case oDelete:
		return fmt.Sprintf("delete %s %q", b, o.key)
	case oDeleteRange:
		return fmt.Sprintf("delete-range %s [%q, %q)", b, o.key, o.end)
	case oCommit:
		return fmt.Sprintf("commit sync=%v", o.sync)
	case oDiscard:
		return "discard batch"
	case oGet:
		return fmt.Sprintf("get %s %q held=%v", b, o.key, o.held)
	case oScan:
		return fmt.Sprintf("scan %s [%q, %q) limit %d held=%v", b, o.key, o.end, o.limit, o.held)
	case oHoldView:
		return "hold view"
	case oReleaseView:
		return "release view"
	case oReopen:
		return "close and reopen"
	case oReclaim:
		return "reclaim"
	}
	return "?"
}

func oracleBuckets() []engines.Bucket {
	return []engines.Bucket{enginetest.Bkt(0x00), enginetest.Bkt(0x01), enginetest.Bkt(0xff)}
}

// genKey draws from a small key space with 0x00 and 0xff bytes so that
// writes collide and ranges have boundary keys.
func genKey(rng *rand.Rand) []byte {
	alphabet := []byte{0x00, 'a', 'b', 0xff}
	k := make([]byte, 1+rng.Intn(3))
	for i := range k {
		k[i] = alphabet[rng.Intn(len(alphabet))]
	}
	return k
}

func genOps(rng *rand.Rand, n int) []oracleOp {
	type weighted struct {
		kind opKind
		w    int
	}
	mix := []weighted{
		{oPut, 300}, {oDelete, 80}, {oDeleteRange, 25}, {oCommit, 100}, {oDiscard, 8},
		{oGet, 150}, {oScan, 150}, {oHoldView, 25}, {oReleaseView, 15}, {oReopen, 8}, {oReclaim, 3},
	}
	total := 0
	for _, m := range mix {
		total += m.w
	}
	ops := make([]oracleOp, 0, n)
	for len(ops) < n {
		x := rng.Intn(total)
		var kind opKind
		for _, m := range mix {
			if x < m.w {
				kind = m.kind
				break
			}
			x -= m.w
		}
		o := oracleOp{kind: kind, bucket: rng.Intn(len(oracleBuckets())), key: genKey(rng), held: rng.Intn(2) == 0}
		switch kind {
		case oPut:
			switch rng.Intn(10) {
			case 0:
				o.value = []byte{}
			case 1:
				o.value = make([]byte, 2048+rng.Intn(4096))
			default:
				o.value = make([]byte, rng.Intn(40))
			}
			rng.Read(o.value)
		case oDeleteRange, oScan:
			switch rng.Intn(5) {
			case 0:
				o.end = nil
			case 1:
				o.key = nil
				o.end = genKey(rng)
			default:
				o.end = genKey(rng) // may be before key: an empty range
			}
			if kind == oScan {
				o.limit = []int{0, 1, 2, 5, -1}[rng.Intn(5)]
			}
		case oCommit:
			o.sync = rng.Intn(4) == 0
		}
		ops = append(ops, o)
	}
	return ops
}

// model is the naive oracle: committed content per bucket, the pending
// batch, and the content the held view saw.
type model struct {
	committed []map[string][]byte
	pending   []oracleOp
	held      []map[string][]byte // nil: no view held
}

func copyContent(c []map[string][]byte) []map[string][]byte {
	out := make([]map[string][]byte, len(c))
	for i, m := range c {
		out[i] = make(map[string][]byte, len(m))
		for k, v := range m {
			out[i][k] = v
		}
	}
	return out
}

func inRange(k string, start, end []byte) bool {
	return k >= string(start) && (end == nil || k < string(end))
}

func (m *model) commit() {
	for _, o := range m.pending {
		c := m.committed[o.bucket]
		switch o.kind {
		case oPut:
			c[string(o.key)] = o.value
		case oDelete:
			delete(c, string(o.key))
		case oDeleteRange:
			for k := range c {
				if inRange(k, o.key, o.end) {
					delete(c, k)
				}
			}
		}
	}
	m.pending = nil
}

func (m *model) scan(content []map[string][]byte, o oracleOp) []enginetest.KV {
	var keys []string
	for k := range content[o.bucket] {
		if inRange(k, o.key, o.end) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if o.limit > 0 && len(keys) > o.limit {
		keys = keys[:o.limit]
	}
	out := make([]enginetest.KV, len(keys))
	for i, k := range keys {
		out[i] = enginetest.KV{Key: []byte(k), Value: content[o.bucket][k]}
	}
	return out
}

// subject is one engine under test.
type subject struct {
	name  string
	dir   string
	e     engines.Engine
	batch engines.Batch
	held  engines.View
}

func (s *subject) releaseView(t *testing.T) {
	if s.held != nil {
		if err := s.held.Close(); err != nil {
			t.Fatalf("%s: view Close: %v", s.name, err)
		}
		s.held = nil
	}
}

func fmtKVs(kvs []enginetest.KV) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		v := kv.Value
		if len(v) > 8 {
			v = v[:8]
		}
		parts[i] = fmt.Sprintf("%q=%x(%d)", kv.Key, v, len(kv.Value))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func sameKVs(a, b []enginetest.KV) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Key, b[i].Key) || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// TestCrossEngineOracle replays one seeded op log on every engine and a naive
// map. Every read must agree with the map, and so across engines; at the end
// the content hashes must be equal, also after an image round trip.
func TestCrossEngineOracle(t *testing.T) {
	seed := testSeed(t)
	n := 3000
	if !testing.Short() {
		n = 30000
	}
	ops := genOps(rand.New(rand.NewSource(seed)), n)
	buckets := oracleBuckets()
	m := &model{committed: make([]map[string][]byte, len(buckets))}
	for i := range m.committed {
		m.committed[i] = map[string][]byte{}
	}
	var subjects []*subject
	for _, name := range engines.Names() {
		s := &subject{name: name, dir: t.TempDir()}
		e, err := engines.Open(name, s.dir, nil)
		if err != nil {
			t.Fatalf("Open(%s): %v", name, err)
		}
		s.e, s.batch = e, e.NewBatch()
		subjects = append(subjects, s)
	}
	t.Cleanup(func() {
		for _, s := range subjects {
			if s.held != nil {
				s.held.Close()
			}
			if s.e != nil {
				s.e.Close()
			}
		}
	})

	for i, o := range ops {
		fail := func(s *subject, format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d, op %d (%v), engine %s: %s", seed, i, o, s.name, fmt.Sprintf(format, args...))
		}
		bk := buckets[o.bucket]
		switch o.kind {
		case oPut, oDelete, oDeleteRange:
			m.pending = append(m.pending, o)
			for _, s := range subjects {
				switch o.kind {
				case oPut:
					s.batch.Put(bk, o.key, o.value)
				case oDelete:
					s.batch.Delete(bk, o.key)
				default:
					s.batch.DeleteRange(bk, o.key, o.end)
				}
			}
		case oCommit:
			m.commit()
			for _, s := range subjects {
				if err := s.batch.Commit(o.sync); err != nil {
					fail(s, "Commit: %v", err)
				}
			}
		case oDiscard:
			m.pending = nil
			for _, s := range subjects {
				s.batch.Close()
				s.batch = s.e.NewBatch()
			}
		case oGet, oScan:
			content := m.committed
			held := o.held && m.held != nil
			if held {
				content = m.held
			}
			for _, s := range subjects {
				v := s.held
				if !held {
					var err error
					if v, err = s.e.NewView(); err != nil {
						fail(s, "NewView: %v", err)
					}
				}
				if o.kind == oGet {
					want, ok := content[o.bucket][string(o.key)]
					got, err := v.Get(bk, o.key)
					switch {
					case ok && (err != nil || !bytes.Equal(got, want)):
						fail(s, "Get = %x, %v; want %x", got, err, want)
					case !ok && !errorsIsNotFound(err):
						fail(s, "Get = %x, %v; want ErrNotFound", got, err)
					}
				} else {
					want := m.scan(content, o)
					got := enginetest.Scan(t, v, bk, o.key, o.end, o.limit)
					if !sameKVs(got, want) {
						fail(s, "Scan =\n %s\nwant\n %s", fmtKVs(got), fmtKVs(want))
					}
				}
				if !held {
					v.Close()
				}
			}
		case oHoldView:
			m.held = copyContent(m.committed)
			for _, s := range subjects {
				s.releaseView(t)
				v, err := s.e.NewView()
				if err != nil {
					fail(s, "NewView: %v", err)
				}
				s.held = v
			}
		case oReleaseView:
			m.held = nil
			for _, s := range subjects {
				s.releaseView(t)
			}
		case oReopen:
			m.held, m.pending = nil, nil // an uncommitted batch dies with the engine
			for _, s := range subjects {
				s.releaseView(t)
				if err := s.e.Close(); err != nil {
					fail(s, "Close: %v", err)
				}
				s.e = nil
				e, err := engines.Open(s.name, s.dir, nil)
				if err != nil {
					fail(s, "reopen: %v", err)
				}
				s.e, s.batch = e, e.NewBatch()
			}
		case oReclaim:
			m.held = nil // Reclaim waits for open views
			for _, s := range subjects {
				s.releaseView(t)
				if err := s.e.Reclaim(); err != nil {
					fail(s, "Reclaim: %v", err)
				}
			}
		}
	}

	// Final state: every bucket agrees with the model, and every engine has
	// the same content hash, also after an image round trip.
	var hashes []string
	for _, s := range subjects {
		s.releaseView(t)
		v, err := s.e.NewView()
		if err != nil {
			t.Fatal(err)
		}
		for b := range buckets {
			want := m.scan(m.committed, oracleOp{bucket: b})
			if got := enginetest.Scan(t, v, buckets[b], nil, nil, 0); !sameKVs(got, want) {
				t.Fatalf("seed %d, final content of %s in %s: %d entries, want %d", seed, buckets[b], s.name, len(got), len(want))
			}
		}
		v.Close()
		h := enginetest.ContentHash(t, s.e, buckets)
		hashes = append(hashes, h)
		var img bytes.Buffer
		if _, err := s.e.WriteImage(&img); err != nil {
			t.Fatalf("%s: WriteImage: %v", s.name, err)
		}
		r, err := engines.OpenImage(s.name, &img, t.TempDir(), nil)
		if err != nil {
			t.Fatalf("%s: OpenImage: %v", s.name, err)
		}
		if h2 := enginetest.ContentHash(t, r, buckets); h2 != h {
			t.Errorf("seed %d, %s: content hash after image round trip %s, before %s", seed, s.name, h2, h)
		}
		r.Close()
	}
	for i := range subjects {
		if hashes[i] != hashes[0] {
			t.Errorf("seed %d: content hash of %s %s, of %s %s", seed, subjects[i].name, hashes[i], subjects[0].name, hashes[0])
		}
	}
	t.Logf("%d ops, %d keys at the end, hash %s", len(ops), len(m.committed[0])+len(m.committed[1])+len(m.committed[2]), hashes[0])
}

func errorsIsNotFound(err error) bool { return errors.Is(err, engines.ErrNotFound) }
