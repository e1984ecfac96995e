package engines_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"etcdlab/engines"
	"etcdlab/engines/enginetest"
)

var (
	seedFlag    = flag.Int64("seed", 0, "seed for the randomized tests of package engines (0: pick one and log it)")
	oracleFlag  = flag.String("oracle.engines", "", "comma-separated engines TestCrossEngineOracle replays on (default: all)")
	oracleNFlag = flag.Int("oracle.ops", 0, "length of TestCrossEngineOracle's op log (default: 3000 with -short, 30000 without)")
)

func oracleEngines() []string {
	if *oracleFlag == "" {
		return engines.Names()
	}
	return strings.Split(*oracleFlag, ",")
}

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

// mismatch is the first disagreement of an engine with the model.
type mismatch struct {
	op     int // index in the log; -1: in the final checks
	engine string
	msg    string
}

func (m *mismatch) Error() string {
	return fmt.Sprintf("op %d, engine %s: %s", m.op, m.engine, m.msg)
}

// replay applies ops in lockstep to the named engines (each in a new
// directory under base) and to the model, and returns the first mismatch, or
// nil. At the end it compares every bucket with the model, the content hashes
// across engines, and each engine's hash after an image round trip.
func replay(t *testing.T, base string, names []string, ops []oracleOp) (err error) {
	buckets := oracleBuckets()
	m := &model{committed: make([]map[string][]byte, len(buckets))}
	for i := range m.committed {
		m.committed[i] = map[string][]byte{}
	}
	var subjects []*subject
	defer func() {
		for _, s := range subjects {
			if s.held != nil {
				s.held.Close()
			}
			if s.e != nil {
				s.e.Close()
			}
			os.RemoveAll(s.dir)
		}
	}()
	for _, name := range names {
		dir, err := os.MkdirTemp(base, name+"-")
		if err != nil {
			return err
		}
		s := &subject{name: name, dir: dir}
		subjects = append(subjects, s)
		if s.e, err = engines.Open(name, dir, nil); err != nil {
			return &mismatch{0, name, fmt.Sprintf("Open: %v", err)}
		}
		s.batch = s.e.NewBatch()
	}

	for i, o := range ops {
		fail := func(s *subject, format string, args ...any) error {
			return &mismatch{i, s.name, fmt.Sprintf(format, args...)}
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
					return fail(s, "Commit: %v", err)
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
						return fail(s, "NewView: %v", err)
					}
				}
				var bad error
				if o.kind == oGet {
					want, ok := content[o.bucket][string(o.key)]
					got, err := v.Get(bk, o.key)
					switch {
					case ok && (err != nil || !bytes.Equal(got, want)):
						bad = fail(s, "Get = %x, %v; want %x", got, err, want)
					case !ok && !errors.Is(err, engines.ErrNotFound):
						bad = fail(s, "Get = %x, %v; want ErrNotFound", got, err)
					}
				} else {
					want := m.scan(content, o)
					got, err := scan(v, bk, o.key, o.end, o.limit)
					if err != nil || !sameKVs(got, want) {
						bad = fail(s, "Scan = %s, %v\n want %s", fmtKVs(got), err, fmtKVs(want))
					}
				}
				if !held {
					v.Close()
				}
				if bad != nil {
					return bad
				}
			}
		case oHoldView:
			m.held = copyContent(m.committed)
			for _, s := range subjects {
				s.releaseView(t)
				v, err := s.e.NewView()
				if err != nil {
					return fail(s, "NewView: %v", err)
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
				err := s.e.Close()
				s.e = nil
				if err != nil {
					return fail(s, "Close: %v", err)
				}
				if s.e, err = engines.Open(s.name, s.dir, nil); err != nil {
					return fail(s, "reopen: %v", err)
				}
				s.batch = s.e.NewBatch()
			}
		case oReclaim:
			m.held = nil // Reclaim waits for open views
			for _, s := range subjects {
				s.releaseView(t)
				if err := s.e.Reclaim(); err != nil {
					return fail(s, "Reclaim: %v", err)
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
			return &mismatch{-1, s.name, fmt.Sprintf("NewView: %v", err)}
		}
		for b := range buckets {
			want := m.scan(m.committed, oracleOp{bucket: b})
			if got, err := scan(v, buckets[b], nil, nil, 0); err != nil || !sameKVs(got, want) {
				v.Close()
				return &mismatch{-1, s.name, fmt.Sprintf("final content of %s: %s, %v\n want %s", buckets[b], fmtKVs(got), err, fmtKVs(want))}
			}
		}
		v.Close()
		h := enginetest.ContentHash(t, s.e, buckets)
		hashes = append(hashes, h)
		var img bytes.Buffer
		if _, err := s.e.WriteImage(&img); err != nil {
			return &mismatch{-1, s.name, fmt.Sprintf("WriteImage: %v", err)}
		}
		dir, err := os.MkdirTemp(base, s.name+"-image-")
		if err != nil {
			return err
		}
		r, err := engines.OpenImage(s.name, &img, dir, nil)
		if err != nil {
			return &mismatch{-1, s.name, fmt.Sprintf("OpenImage: %v", err)}
		}
		h2 := enginetest.ContentHash(t, r, buckets)
		r.Close()
		os.RemoveAll(dir)
		if h2 != h {
			return &mismatch{-1, s.name, fmt.Sprintf("content hash after image round trip %s, before %s", h2, h)}
		}
	}
	for i := range subjects {
		if hashes[i] != hashes[0] {
			return &mismatch{-1, subjects[i].name, fmt.Sprintf("content hash %s, %s has %s", hashes[i], subjects[0].name, hashes[0])}
		}
	}
	return nil
}

func scan(v engines.View, b engines.Bucket, start, end []byte, limit int) ([]enginetest.KV, error) {
	var out []enginetest.KV
	err := v.Scan(b, start, end, limit, func(k, val []byte) bool {
		out = append(out, enginetest.KV{Key: append([]byte(nil), k...), Value: append([]byte{}, val...)})
		return true
	})
	return out, err
}

// shrink looks for a short op log on which engine still disagrees with the
// model: it cuts the log after the failing op, then greedily drops chunks of
// ops (halving the chunk size) while the failure persists, within a budget
// of replays. The result is what a person debugging the engine reads first.
func shrink(t *testing.T, engine string, ops []oracleOp, first *mismatch) []oracleOp {
	base := t.TempDir()
	if first.op >= 0 {
		ops = ops[:first.op+1]
	}
	fails := func(cand []oracleOp) bool {
		var m *mismatch
		return errors.As(replay(t, base, []string{engine}, cand), &m)
	}
	if !fails(ops) {
		return ops // needs another engine's company or is not deterministic: keep all
	}
	budget := 400
	for chunk := len(ops) / 2; chunk >= 1 && budget > 0; chunk /= 2 {
		for i := 0; i+chunk <= len(ops) && budget > 0; {
			cand := append(append([]oracleOp(nil), ops[:i]...), ops[i+chunk:]...)
			budget--
			if fails(cand) {
				ops = cand
			} else {
				i += chunk
			}
		}
	}
	return ops
}

// TestCrossEngineOracle replays one seeded op log on every engine and a naive
// map. Every read must agree with the map, and so across engines; at the end
// the content hashes must be equal, also after an image round trip. On a
// mismatch it logs a shrunken op log that still fails.
func TestCrossEngineOracle(t *testing.T) {
	seed := testSeed(t)
	n := 3000
	if !testing.Short() {
		n = 30000
	}
	if *oracleNFlag > 0 {
		n = *oracleNFlag
	}
	ops := genOps(rand.New(rand.NewSource(seed)), n)
	names := oracleEngines()
	err := replay(t, t.TempDir(), names, ops)
	if err == nil {
		t.Logf("%d ops on %v agree with the model", len(ops), names)
		return
	}
	var m *mismatch
	if !errors.As(err, &m) {
		t.Fatalf("seed %d: %v", seed, err)
	}
	small := shrink(t, m.engine, ops, m)
	var lines []string
	for _, o := range small {
		lines = append(lines, "  "+o.String())
	}
	t.Fatalf("seed %d: %v\n%s still fails on %d ops:\n%s\n(shrunken replay: %v)",
		seed, err, m.engine, len(small), strings.Join(lines, "\n"), replay(t, t.TempDir(), []string{m.engine}, small))
}
