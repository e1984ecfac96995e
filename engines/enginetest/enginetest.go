package enginetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"

	"etcdlab/engines/engine"
)

// Harness describes how the suite reaches an engine.
type Harness struct {
	// Open opens the engine in dir, creating it when dir is empty and loading
	// what a previous Close left there otherwise. It fails t on error. Required.
	Open func(t *testing.T, dir string) engine.Engine
	// OpenImage opens an engine in dir from an image written by WriteImage and
	// returns the error as is (the suite checks which sentinel it wraps). Nil
	// skips the image subtests.
	OpenImage func(t *testing.T, r io.Reader, dir string) (engine.Engine, error)
	// NoDisk says Size does not measure files that Reclaim could shrink; the
	// reclamation subtest then checks only that Reclaim succeeds and keeps the
	// content.
	NoDisk bool
}

// Run runs the conformance suite on the engine that open opens, without the
// image subtests (use Harness.Run to include them).
func Run(t *testing.T, open func(t *testing.T, dir string) engine.Engine) {
	Harness{Open: open}.Run(t)
}

// Run runs every conformance subtest.
func (h Harness) Run(t *testing.T) {
	if h.Open == nil {
		t.Fatal("enginetest: Harness.Open is nil")
	}
	s := &suite{h: h}
	t.Run("order-and-limits", s.testOrderAndLimits)
	t.Run("batch-semantics", s.testBatchSemantics)
	t.Run("bucket-isolation", s.testBucketIsolation)
	t.Run("view-isolation", s.testViewIsolation)
	t.Run("reopen-keeps-committed", s.testReopen)
	t.Run("reopen-drops-uncommitted", s.testUncommitted)
	t.Run("sync", s.testSync)
	t.Run("delete-range", s.testDeleteRange)
	t.Run("image-round-trip", s.testImage)
	t.Run("reclaim", s.testReclaim)
	t.Run("concurrent-readers", s.testConcurrent)
	t.Run("use-after-close", s.testClosed)
	t.Run("stats", s.testStats)
}

type suite struct{ h Harness }

// handle closes its engine once, at the latest when the test ends, so a
// failing subtest does not leak an open engine and a test that closes the
// engine itself is not followed by a second Close.
type handle struct {
	engine.Engine
	once sync.Once
	err  error
}

func (h *handle) Close() error {
	h.once.Do(func() { h.err = h.Engine.Close() })
	return h.err
}

func (s *suite) open(t *testing.T, dir string) *handle {
	t.Helper()
	e := s.h.Open(t, dir)
	if e == nil {
		t.Fatalf("Harness.Open(%s) returned nil", dir)
	}
	h := &handle{Engine: e}
	t.Cleanup(func() { h.Close() })
	return h
}

func (s *suite) reopen(t *testing.T, h *handle, dir string) *handle {
	t.Helper()
	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return s.open(t, dir)
}

// Bkt is the bucket the suite uses for an ID: name "b" + two hex digits.
func Bkt(id byte) engine.Bucket {
	return engine.Bucket{ID: id, Name: fmt.Sprintf("b%02x", id)}
}

// KV is one entry.
type KV struct{ Key, Value []byte }

func (kv KV) String() string { return fmt.Sprintf("%q=%q", kv.Key, kv.Value) }

func fmtKVs(kvs []KV) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = kv.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Scan collects a scan of v, copying keys and values.
func Scan(t testing.TB, v engine.View, b engine.Bucket, start, end []byte, limit int) []KV {
	t.Helper()
	var out []KV
	err := v.Scan(b, start, end, limit, func(k, val []byte) bool {
		out = append(out, KV{append([]byte(nil), k...), append([]byte{}, val...)})
		return true
	})
	if err != nil {
		t.Fatalf("Scan(%s, %q, %q, %d): %v", b, start, end, limit, err)
	}
	return out
}

func equalKVs(a, b []KV) bool {
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

func expectScan(t *testing.T, v engine.View, b engine.Bucket, start, end []byte, limit int, want []KV) {
	t.Helper()
	got := Scan(t, v, b, start, end, limit)
	if !equalKVs(got, want) {
		t.Errorf("Scan(%s, %q, %q, limit %d):\n got %s\nwant %s", b, start, end, limit, fmtKVs(got), fmtKVs(want))
	}
}

func expectGet(t *testing.T, v engine.View, b engine.Bucket, key, want []byte) {
	t.Helper()
	got, err := v.Get(b, key)
	if err != nil {
		t.Errorf("Get(%s, %q): %v, want %q", b, key, err, want)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Get(%s, %q) = %q, want %q", b, key, got, want)
	}
}

func expectAbsent(t *testing.T, v engine.View, b engine.Bucket, key []byte) {
	t.Helper()
	got, err := v.Get(b, key)
	if !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Get(%s, %q) = %q, %v; want an error wrapping ErrNotFound", b, key, got, err)
	}
}

func newView(t testing.TB, e engine.Engine) engine.View {
	t.Helper()
	v, err := e.NewView()
	if err != nil {
		t.Fatalf("NewView: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func commit(t testing.TB, b engine.Batch, sync bool) {
	t.Helper()
	if err := b.Commit(sync); err != nil {
		t.Fatalf("Commit(sync=%v): %v", sync, err)
	}
}

func putAll(t testing.TB, e engine.Engine, b engine.Bucket, kvs []KV, sync bool) {
	t.Helper()
	bt := e.NewBatch()
	defer bt.Close()
	for _, kv := range kvs {
		bt.Put(b, kv.Key, kv.Value)
	}
	commit(t, bt, sync)
}

func sortKVs(kvs []KV) []KV {
	out := append([]KV(nil), kvs...)
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out
}

// ContentHash hashes every entry of buckets (in the order given) through a new
// view of e: bucket ID, entry count, and each key and value with its length.
// Equal hashes mean equal content, whatever the engine.
func ContentHash(t testing.TB, e engine.Engine, buckets []engine.Bucket) string {
	t.Helper()
	v, err := e.NewView()
	if err != nil {
		t.Fatalf("ContentHash: NewView: %v", err)
	}
	defer v.Close()
	h := sha256.New()
	var n [8]byte
	writeLen := func(x int) {
		binary.BigEndian.PutUint64(n[:], uint64(x))
		h.Write(n[:])
	}
	for _, b := range buckets {
		h.Write([]byte{b.ID})
		var entries [][2][]byte
		err := v.Scan(b, nil, nil, 0, func(k, val []byte) bool {
			entries = append(entries, [2][]byte{append([]byte(nil), k...), append([]byte(nil), val...)})
			return true
		})
		if err != nil {
			t.Fatalf("ContentHash: Scan(%s): %v", b, err)
		}
		writeLen(len(entries))
		for _, kv := range entries {
			writeLen(len(kv[0]))
			h.Write(kv[0])
			writeLen(len(kv[1]))
			h.Write(kv[1])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (s *suite) testOrderAndLimits(t *testing.T) {
	e := s.open(t, t.TempDir())
	b := Bkt(1)
	keys := [][]byte{
		{0x00}, {0x00, 0x00}, {0x00, 0xff}, []byte("a"), []byte("a\x00"), []byte("ab"),
		[]byte("b"), {0xff}, {0xff, 0x00}, {0xff, 0xff},
	}
	var kvs []KV
	for i, k := range keys {
		v := []byte(fmt.Sprintf("v%d-%x", i, k))
		switch i {
		case 2:
			v = []byte{} // empty values are values
		case 5:
			v = nil // a nil value is stored as empty
		}
		kvs = append(kvs, KV{k, v})
	}
	// Insert in a scrambled order: the engine, not the insertion, orders keys.
	shuffled := append([]KV(nil), kvs...)
	rand.New(rand.NewSource(7)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	putAll(t, e, b, shuffled, false)
	all := sortKVs(kvs)
	for i := range all {
		if all[i].Value == nil {
			all[i].Value = []byte{}
		}
	}
	v := newView(t, e)

	k := func(s string) []byte { return []byte(s) }
	cases := []struct {
		name       string
		start, end []byte
		limit      int
		want       []KV
	}{
		{"everything", nil, nil, 0, all},
		{"negative-limit", nil, nil, -1, all},
		{"limit-1", nil, nil, 1, all[:1]},
		{"limit-3", nil, nil, 3, all[:3]},
		{"limit-exact", nil, nil, len(all), all},
		{"limit-beyond", nil, nil, len(all) + 5, all},
		{"start-inclusive-end-exclusive", k("a"), k("b"), 0, all[3:6]},
		{"between-adjacent-keys", k("a\x00"), k("ab"), 0, all[4:5]},
		{"start-equals-end", k("a"), k("a"), 0, nil},
		{"start-after-end", k("b"), k("a"), 0, nil},
		{"start-between-keys", k("aa"), nil, 0, all[5:]},
		{"start-ff-end-nil", []byte{0xff}, nil, 0, all[7:]},
		{"start-after-last", []byte{0xff, 0xff, 0x00}, nil, 0, nil},
		{"start-nil-end-00-00", nil, []byte{0x00, 0x00}, 0, all[:1]},
		{"end-00-limit-1", []byte{0x00}, []byte{0xff}, 1, all[:1]},
		{"range-with-limit", k("a"), nil, 2, all[3:5]},
		{"end-ff-ff-excludes-it", []byte{0xff}, []byte{0xff, 0xff}, 0, all[7:9]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expectScan(t, v, b, c.start, c.end, c.limit, c.want) })
	}

	t.Run("get", func(t *testing.T) {
		for _, kv := range all {
			expectGet(t, v, b, kv.Key, kv.Value)
		}
		expectAbsent(t, v, b, k("aa"))
		expectAbsent(t, v, b, []byte{0xff, 0xff, 0xff})
		expectAbsent(t, v, Bkt(9), k("a")) // a bucket never written
	})
	t.Run("empty-bucket-scan", func(t *testing.T) { expectScan(t, v, Bkt(9), nil, nil, 0, nil) })
	t.Run("callback-stops", func(t *testing.T) {
		calls := 0
		err := v.Scan(b, nil, nil, 0, func(_, _ []byte) bool { calls++; return calls < 2 })
		if err != nil || calls != 2 {
			t.Errorf("scan stopped by callback after 2: calls=%d err=%v", calls, err)
		}
	})
}

func (s *suite) testBatchSemantics(t *testing.T) {
	e := s.open(t, t.TempDir())
	b := Bkt(1)
	k := func(s string) []byte { return []byte(s) }
	putAll(t, e, b, []KV{{k("old"), k("1")}, {k("p1"), k("x")}, {k("p2"), k("x")}}, false)

	bt := e.NewBatch()
	defer bt.Close()
	key, val := k("copied"), k("value")
	bt.Put(b, key, val)
	key[0], val[0] = 'X', 'X' // the batch must have copied both
	bt.Put(b, k("x"), k("1"))
	bt.Delete(b, k("x")) // put then delete: absent
	bt.Delete(b, k("y"))
	bt.Put(b, k("y"), k("2")) // delete then put: present
	bt.Put(b, k("old"), k("2"))
	bt.Delete(b, k("never-existed"))
	bt.DeleteRange(b, k("p"), k("q"))
	bt.Put(b, k("p3"), k("3")) // put after delete-range inside it: present
	bt.Put(b, k("z1"), k("4"))
	bt.DeleteRange(b, k("z"), nil) // delete-range after put: absent
	if bt.Len() != 11 {
		t.Errorf("Len() = %d before commit, want 11", bt.Len())
	}
	commit(t, bt, false)
	if bt.Len() != 0 {
		t.Errorf("Len() = %d after commit, want 0", bt.Len())
	}
	v := newView(t, e)
	expectScan(t, v, b, nil, nil, 0, []KV{
		{k("copied"), k("value")}, {k("old"), k("2")}, {k("p3"), k("3")}, {k("y"), k("2")},
	})

	// Deletes in buckets that do not exist yet are no-ops that must not stop
	// the rest of the batch.
	fresh1, fresh2 := Bkt(5), Bkt(6)
	bt.Delete(fresh1, k("x"))
	bt.Put(fresh1, k("y"), k("1"))
	bt.DeleteRange(fresh2, nil, nil)
	bt.Put(fresh2, k("z"), k("2"))
	commit(t, bt, false)
	vf := newView(t, e)
	expectScan(t, vf, fresh1, nil, nil, 0, []KV{{k("y"), k("1")}})
	expectScan(t, vf, fresh2, nil, nil, 0, []KV{{k("z"), k("2")}})

	// The committed batch is empty and reusable.
	bt.Put(b, k("again"), k("5"))
	commit(t, bt, true)
	v2 := newView(t, e)
	expectGet(t, v2, b, k("again"), k("5"))
	expectGet(t, v2, b, k("copied"), k("value"))
}

func (s *suite) testBucketIsolation(t *testing.T) {
	e := s.open(t, t.TempDir())
	ids := []byte{0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff} // adjacent IDs and both ends
	keys := [][]byte{{0x00}, []byte("k"), {0xff, 0xff}}
	want := map[byte][]KV{}
	bt := e.NewBatch()
	defer bt.Close()
	for _, id := range ids {
		for _, key := range keys {
			val := []byte(fmt.Sprintf("%s:%x", Bkt(id), key))
			bt.Put(Bkt(id), key, val)
			want[id] = append(want[id], KV{key, val})
		}
	}
	commit(t, bt, false)
	check := func(t *testing.T) {
		t.Helper()
		v := newView(t, e)
		for _, id := range ids {
			expectScan(t, v, Bkt(id), nil, nil, 0, want[id])
			var fromK []KV
			for _, kv := range want[id] {
				if bytes.Compare(kv.Key, []byte("k")) >= 0 {
					fromK = append(fromK, kv)
				}
			}
			expectScan(t, v, Bkt(id), []byte("k"), nil, 0, fromK)
			for _, kv := range want[id] {
				expectGet(t, v, Bkt(id), kv.Key, kv.Value)
			}
		}
		for _, id := range []byte{0x03, 0x7e, 0x81, 0xfd} {
			expectScan(t, v, Bkt(id), nil, nil, 0, nil)
			expectAbsent(t, v, Bkt(id), []byte("k"))
		}
	}
	t.Run("same-key-in-each", check)

	t.Run("deletes-stay-in-their-bucket", func(t *testing.T) {
		bt.DeleteRange(Bkt(0x01), nil, nil)
		bt.Delete(Bkt(0x02), []byte("k"))
		bt.DeleteRange(Bkt(0xfe), []byte("k"), nil)
		bt.DeleteRange(Bkt(0x7f), []byte{0x00}, []byte{0xff})
		commit(t, bt, false)
		want[0x01] = nil
		want[0x02] = []KV{want[0x02][0], want[0x02][2]}
		want[0xfe] = want[0xfe][:1]
		want[0x7f] = want[0x7f][2:]
		check(t)
	})
}

func (s *suite) testViewIsolation(t *testing.T) {
	e := s.open(t, t.TempDir())
	b, other := Bkt(1), Bkt(2)
	var base []KV
	for i := 0; i < 20; i++ {
		base = append(base, KV{[]byte(fmt.Sprintf("k%02d", i)), []byte(fmt.Sprintf("v%02d", i))})
	}
	putAll(t, e, b, base, false)
	putAll(t, e, other, base[:5], false)

	v1 := newView(t, e)
	held, err := v1.Get(b, []byte("k05"))
	if err != nil {
		t.Fatalf("Get k05: %v", err)
	}
	bt := e.NewBatch()
	defer bt.Close()
	bt.Put(b, []byte("k05"), []byte("new"))
	bt.Put(b, []byte("k50"), []byte("added"))
	bt.Delete(b, []byte("k06"))
	bt.DeleteRange(b, []byte("k10"), []byte("k15"))
	bt.DeleteRange(other, nil, nil)
	commit(t, bt, true)

	expectScan(t, v1, b, nil, nil, 0, base)
	expectScan(t, v1, other, nil, nil, 0, base[:5])
	expectGet(t, v1, b, []byte("k06"), []byte("v06"))
	expectAbsent(t, v1, b, []byte("k50"))
	if !bytes.Equal(held, []byte("v05")) {
		t.Errorf("value from Get changed to %q after a later commit while its view is open", held)
	}

	var after []KV
	for _, kv := range base {
		switch k := string(kv.Key); {
		case k == "k05":
			after = append(after, KV{kv.Key, []byte("new")})
		case k == "k06", k >= "k10" && k < "k15":
		default:
			after = append(after, kv)
		}
	}
	after = append(after, KV{[]byte("k50"), []byte("added")})
	v2 := newView(t, e)
	expectScan(t, v2, b, nil, nil, 0, after)
	expectScan(t, v2, other, nil, nil, 0, nil)

	putAll(t, e, b, []KV{{[]byte("k00"), []byte("third")}}, false)
	expectScan(t, v2, b, nil, nil, 0, after)
	if err := v2.Close(); err != nil {
		t.Fatalf("view Close: %v", err)
	}
	if err := v2.Close(); err != nil {
		t.Errorf("second view Close: %v, want nil (Close is idempotent)", err)
	}
	// Closing one view does not disturb another.
	expectScan(t, v1, b, nil, nil, 0, base)
	if _, err := v2.Get(b, []byte("k00")); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Get on a closed view: %v, want ErrClosed", err)
	}
	if err := v2.Scan(b, nil, nil, 0, func(_, _ []byte) bool { return true }); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Scan on a closed view: %v, want ErrClosed", err)
	}
}

// fill writes a mixed data set over several commits (synced and not), with
// overwrites, deletes and a delete-range, and returns the buckets it used.
func fill(t *testing.T, e engine.Engine, seed int64, n int) []engine.Bucket {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	buckets := []engine.Bucket{Bkt(0), Bkt(1), Bkt(0xff)}
	for round := 0; round < 4; round++ {
		bt := e.NewBatch()
		for i := 0; i < n; i++ {
			b := buckets[rng.Intn(len(buckets))]
			key := []byte(fmt.Sprintf("key-%05d", rng.Intn(n*2)))
			switch rng.Intn(10) {
			case 0:
				bt.Delete(b, key)
			default:
				val := make([]byte, rng.Intn(200))
				rng.Read(val)
				bt.Put(b, key, val)
			}
		}
		if round == 2 {
			bt.DeleteRange(Bkt(1), []byte("key-00100"), []byte("key-00200"))
		}
		commit(t, bt, round%2 == 0)
		bt.Close()
	}
	return buckets
}

func (s *suite) testReopen(t *testing.T) {
	dir := t.TempDir()
	e := s.open(t, dir)
	buckets := fill(t, e, 1, 500)
	h1 := ContentHash(t, e, buckets)
	e = s.reopen(t, e, dir)
	if h := ContentHash(t, e, buckets); h != h1 {
		t.Fatalf("content after reopen differs: hash %s, before close %s", h, h1)
	}
	// A second round: data written after a reopen survives the next one too.
	putAll(t, e, Bkt(1), []KV{{[]byte("second"), []byte("round")}}, false)
	h2 := ContentHash(t, e, buckets)
	e = s.reopen(t, e, dir)
	if h := ContentHash(t, e, buckets); h != h2 {
		t.Fatalf("content after second reopen differs")
	}
	expectGet(t, newView(t, e), Bkt(1), []byte("second"), []byte("round"))
}

func (s *suite) testUncommitted(t *testing.T) {
	dir := t.TempDir()
	e := s.open(t, dir)
	b := Bkt(1)
	putAll(t, e, b, []KV{{[]byte("kept"), []byte("1")}}, true)

	pending := e.NewBatch() // never committed nor closed: Close of the engine drops it
	pending.Put(b, []byte("ghost"), []byte("boo"))
	pending.Delete(b, []byte("kept"))
	pending.DeleteRange(b, nil, nil)
	discarded := e.NewBatch()
	discarded.Put(b, []byte("discarded"), []byte("x"))
	discarded.Close()

	v := newView(t, e)
	expectScan(t, v, b, nil, nil, 0, []KV{{[]byte("kept"), []byte("1")}})
	v.Close()

	e = s.reopen(t, e, dir)
	expectScan(t, newView(t, e), b, nil, nil, 0, []KV{{[]byte("kept"), []byte("1")}})
}

func (s *suite) testDeleteRange(t *testing.T) {
	e := s.open(t, t.TempDir())
	k := func(s string) []byte { return []byte(s) }
	keys := []string{"a", "b", "b\x00", "c", "d", "e"}
	cases := []struct {
		name       string
		start, end []byte
		remain     []string
	}{
		{"start-inclusive-end-exclusive", k("b"), k("d"), []string{"a", "d", "e"}},
		{"empty-range", k("b"), k("b"), keys},
		{"reversed-range", k("d"), k("b"), keys},
		{"nil-end", k("c"), nil, []string{"a", "b", "b\x00"}},
		{"nil-start", nil, k("c"), []string{"c", "d", "e"}},
		{"nil-both", nil, nil, nil},
		{"between-keys", k("a\x00"), k("b\x00"), []string{"a", "b\x00", "c", "d", "e"}},
		{"no-keys-inside", k("x"), k("z"), keys},
		{"end-just-after-key", k("e"), k("e\x00"), []string{"a", "b", "b\x00", "c", "d"}},
	}
	// One bucket per case, adjacent IDs, all filled before any range is
	// deleted: a range that leaks past its bucket shows up in the next one.
	bt := e.NewBatch()
	defer bt.Close()
	for i := range cases {
		for _, key := range keys {
			bt.Put(Bkt(byte(10+i)), k(key), k("v"+key))
		}
	}
	commit(t, bt, false)
	for i, c := range cases {
		bt.DeleteRange(Bkt(byte(10+i)), c.start, c.end)
		commit(t, bt, false)
	}
	v := newView(t, e)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want []KV
			for _, key := range c.remain {
				want = append(want, KV{k(key), k("v" + key)})
			}
			expectScan(t, v, Bkt(byte(10+i)), nil, nil, 0, want)
		})
	}
}

func (s *suite) testImage(t *testing.T) {
	if s.h.OpenImage == nil {
		t.Skip("Harness.OpenImage is nil")
	}
	buckets := []engine.Bucket{Bkt(0), Bkt(1), Bkt(0xff)}
	image := func(t *testing.T, e engine.Engine) []byte {
		t.Helper()
		var buf bytes.Buffer
		n, err := e.WriteImage(&buf)
		if err != nil {
			t.Fatalf("WriteImage: %v", err)
		}
		if n != int64(buf.Len()) {
			t.Errorf("WriteImage returned %d, wrote %d bytes", n, buf.Len())
		}
		return buf.Bytes()
	}
	openImage := func(t *testing.T, img []byte) (*handle, string, error) {
		t.Helper()
		dir := t.TempDir()
		e, err := s.h.OpenImage(t, bytes.NewReader(img), dir)
		if err != nil {
			return nil, dir, err
		}
		h := &handle{Engine: e}
		t.Cleanup(func() { h.Close() })
		return h, dir, nil
	}

	t.Run("round-trip", func(t *testing.T) {
		src := s.open(t, t.TempDir())
		fill(t, src, 2, 300)
		putAll(t, src, Bkt(1), []KV{{[]byte("big"), bytes.Repeat([]byte("0123456789abcdef"), 8<<10)}}, false)
		want := ContentHash(t, src, buckets)
		img := image(t, src)
		// Commits after the image are not in it.
		putAll(t, src, Bkt(1), []KV{{[]byte("after"), []byte("image")}}, false)

		dst, dir, err := openImage(t, img)
		if err != nil {
			t.Fatalf("OpenImage: %v", err)
		}
		if got := ContentHash(t, dst, buckets); got != want {
			t.Fatalf("content hash after OpenImage %s, want %s", got, want)
		}
		// The restored engine is an ordinary one: writable, and it persists.
		putAll(t, dst, Bkt(1), []KV{{[]byte("restored"), []byte("yes")}}, true)
		want2 := ContentHash(t, dst, buckets)
		dst2 := s.reopen(t, dst, dir)
		if got := ContentHash(t, dst2, buckets); got != want2 {
			t.Fatalf("content after reopening the restored engine differs")
		}
		expectAbsent(t, newView(t, dst2), Bkt(1), []byte("after"))
	})

	t.Run("empty-store", func(t *testing.T) {
		src := s.open(t, t.TempDir())
		dst, _, err := openImage(t, image(t, src))
		if err != nil {
			t.Fatalf("OpenImage of an empty store's image: %v", err)
		}
		if got, want := ContentHash(t, dst, buckets), ContentHash(t, src, buckets); got != want {
			t.Fatalf("content hash %s, want %s", got, want)
		}
	})

	t.Run("rejects-bad-images", func(t *testing.T) {
		src := s.open(t, t.TempDir())
		fill(t, src, 3, 200)
		img := image(t, src)
		bad := []struct {
			name string
			data []byte
		}{
			{"empty", nil},
			{"foreign", []byte(strings.Repeat("this is not an engine image\n", 200))},
			{"truncated-half", img[:len(img)/2]},
			{"truncated-tail", img[:len(img)-1]},
		}
		for _, c := range bad {
			t.Run(c.name, func(t *testing.T) {
				e, _, err := openImage(t, c.data)
				if err == nil {
					t.Fatalf("OpenImage accepted a %s image (%d of %d bytes); content hash %s",
						c.name, len(c.data), len(img), ContentHash(t, e, buckets))
				}
				if !errors.Is(err, engine.ErrCorrupt) && !errors.Is(err, engine.ErrWrongEngine) {
					t.Errorf("OpenImage(%s): %v; want an error wrapping ErrCorrupt or ErrWrongEngine", c.name, err)
				}
			})
		}
	})
}

func (s *suite) testReclaim(t *testing.T) {
	// 20k keys of 1 KiB even under -short: with less, fixed per-store overhead
	// (preallocated WAL, manifest) is the same order as the data and hides
	// whether anything was reclaimed.
	const n = 20000
	dir := t.TempDir()
	e := s.open(t, dir)
	b := Bkt(1)
	// Incompressible values, so that an engine that compresses blocks still
	// takes about n KiB.
	val := func(i int) []byte {
		v := make([]byte, 1024)
		rand.New(rand.NewSource(int64(i))).Read(v)
		return v
	}
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%06d", i)) }
	bt := e.NewBatch()
	defer bt.Close()
	for i := 0; i < n; i++ {
		bt.Put(b, key(i), val(i))
		if bt.Len() == 1000 {
			commit(t, bt, false)
		}
	}
	commit(t, bt, true)
	full := e.Size()
	if full < int64(n)*1024 && !s.h.NoDisk {
		t.Errorf("Size() = %d after writing %d KiB of incompressible values", full, n)
	}
	for i := 0; i < n; i++ {
		if i%10 != 0 {
			bt.Delete(b, key(i))
		}
		if bt.Len() == 1000 {
			commit(t, bt, false)
		}
	}
	commit(t, bt, true)
	before := e.Stats().Reclaims
	if err := e.Reclaim(); err != nil {
		t.Fatalf("Reclaim: %v", err)
	}
	if d := e.Stats().Reclaims - before; d != 1 {
		t.Errorf("Stats().Reclaims moved by %d over one Reclaim", d)
	}
	size, inUse := e.Size(), e.SizeInUse()
	retained := int64(e.Stats().Native[engine.RetainedBytesMetric])
	t.Logf("%s: Size %d before deleting 90%%, %d after Reclaim (in use %d, retained for reuse %d)",
		e.Name(), full, size, inUse, retained)
	if inUse > size {
		t.Errorf("SizeInUse() = %d > Size() = %d", inUse, size)
	}
	if !s.h.NoDisk && size-retained > full/2 {
		t.Errorf("Size() = %d (%d retained for reuse) after deleting 90%% and Reclaim, was %d: space not reclaimed",
			size, retained, full)
	}
	check := func(e engine.Engine) {
		t.Helper()
		v := newView(t, e)
		var want []KV
		for i := 0; i < n; i += 10 {
			want = append(want, KV{key(i), val(i)})
		}
		got := Scan(t, v, b, nil, nil, 0)
		if !equalKVs(got, want) {
			t.Fatalf("after Reclaim: %d entries, want %d (or different content)", len(got), len(want))
		}
		v.Close()
	}
	check(e)
	// Writes after Reclaim land in the reclaimed store and survive reopen.
	putAll(t, e, b, []KV{{[]byte("post-reclaim"), []byte("ok")}}, true)
	e = s.reopen(t, e, dir)
	expectGet(t, newView(t, e), b, []byte("post-reclaim"), []byte("ok"))
	bt2 := e.NewBatch()
	bt2.Delete(b, []byte("post-reclaim"))
	commit(t, bt2, false)
	check(e)
}

// testConcurrent runs readers against one writer. Every batch the writer
// commits replaces the whole bucket with generation g: the keys present are
// exactly those of members(g), each holding g. A reader that sees a mix of
// generations or the wrong key set saw a torn commit.
func (s *suite) testConcurrent(t *testing.T) {
	const keys = 60
	gens := 300
	if testing.Short() {
		gens = 100
	}
	e := s.open(t, t.TempDir())
	b, side := Bkt(1), Bkt(2)
	members := func(g int) []int {
		var m []int
		for i := 0; i < keys; i++ {
			if (i+g)%3 != 0 {
				m = append(m, i)
			}
		}
		return m
	}
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%03d", i)) }
	gval := func(g int) []byte { return []byte(fmt.Sprintf("gen-%06d", g)) }
	writeGen := func(bt engine.Batch, g int) {
		bt.DeleteRange(b, nil, nil)
		for _, i := range members(g) {
			bt.Put(b, key(i), gval(g))
		}
		bt.Put(side, []byte("gen"), gval(g))
	}
	bt := e.NewBatch()
	writeGen(bt, 0)
	commit(t, bt, false)

	var done sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, 16)
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	checkView := func(v engine.View, minGen int) (int, error) {
		sideVal, err := v.Get(side, []byte("gen"))
		if err != nil {
			return 0, fmt.Errorf("get of side gen: %w", err)
		}
		var g int
		if _, err := fmt.Sscanf(string(sideVal), "gen-%d", &g); err != nil {
			return 0, fmt.Errorf("side value %q: %v", sideVal, err)
		}
		if g < minGen {
			return 0, fmt.Errorf("generation went back from %d to %d in a newer view", minGen, g)
		}
		want := members(g)
		var got []int
		var bad error
		err = v.Scan(b, nil, nil, 0, func(k, val []byte) bool {
			var i int
			fmt.Sscanf(string(k), "k%d", &i)
			got = append(got, i)
			if !bytes.Equal(val, gval(g)) && bad == nil {
				bad = fmt.Errorf("view of generation %d: key %s holds %q", g, k, val)
			}
			return true
		})
		if err != nil {
			return 0, err
		}
		if bad != nil {
			return 0, bad
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return 0, fmt.Errorf("view of generation %d holds keys %v, want %v", g, got, want)
		}
		// A point read through the same view agrees with the scan.
		if v2, err := v.Get(b, key(want[len(want)/2])); err != nil || !bytes.Equal(v2, gval(g)) {
			return 0, fmt.Errorf("view of generation %d: Get = %q, %v", g, v2, err)
		}
		return g, nil
	}
	for r := 0; r < 4; r++ {
		done.Add(1)
		go func() {
			defer done.Done()
			last := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				v, err := e.NewView()
				if err != nil {
					report(err)
					return
				}
				g, err := checkView(v, last)
				if err == nil {
					// Read the same view again after the writer moved on.
					g, err = checkView(v, g)
				}
				v.Close()
				if err != nil {
					report(err)
					return
				}
				last = g
			}
		}()
	}
	// Maintenance runs beside readers and writer, as in a live store: at each
	// quarter of the run it writes an image (which must be a consistent
	// snapshot) and reclaims space (which waits for views and pauses commits
	// but must neither deadlock nor tear anything).
	milestones := make(chan int, 4)
	var images [][]byte
	done.Add(1)
	go func() {
		defer done.Done()
		for range milestones {
			var buf bytes.Buffer
			if _, err := e.WriteImage(&buf); err != nil {
				report(fmt.Errorf("WriteImage during commits: %w", err))
				continue
			}
			images = append(images, buf.Bytes())
			if err := e.Reclaim(); err != nil {
				report(fmt.Errorf("reclaim during commits: %w", err))
			}
		}
	}()
	for g := 1; g <= gens; g++ {
		writeGen(bt, g)
		if err := bt.Commit(g%10 == 0); err != nil {
			report(fmt.Errorf("commit generation %d: %w", g, err))
			break
		}
		if g%(gens/4) == 0 && g < gens {
			milestones <- g
		}
	}
	close(milestones)
	close(stop)
	done.Wait()
	bt.Close()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	v := newView(t, e)
	if g, err := checkView(v, gens); err != nil || g != gens {
		t.Errorf("final view: generation %d, %v; want %d", g, err, gens)
	}
	if len(images) != 3 {
		t.Errorf("%d images written during the run, want 3", len(images))
	}
	if s.h.OpenImage == nil {
		return
	}
	for i, img := range images {
		r, err := s.h.OpenImage(t, bytes.NewReader(img), t.TempDir())
		if err != nil {
			t.Errorf("OpenImage of image %d written during commits: %v", i, err)
			continue
		}
		rv, err := r.NewView()
		if err != nil {
			t.Fatalf("NewView: %v", err)
		}
		if _, err := checkView(rv, 0); err != nil {
			t.Errorf("image %d written during commits: %v", i, err)
		}
		rv.Close()
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

func (s *suite) testClosed(t *testing.T) {
	e := s.open(t, t.TempDir())
	b := Bkt(1)
	putAll(t, e, b, []KV{{[]byte("k"), []byte("v")}}, false)
	pending := e.NewBatch()
	pending.Put(b, []byte("late"), []byte("x"))
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := e.NewView(); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("NewView after Close: %v, want ErrClosed", err)
	}
	if err := pending.Commit(true); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Commit of a batch made before Close: %v, want ErrClosed", err)
	}
	nb := e.NewBatch()
	nb.Put(b, []byte("k2"), []byte("v"))
	if err := nb.Commit(false); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Commit of a batch made after Close: %v, want ErrClosed", err)
	}
	if _, err := e.WriteImage(io.Discard); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("WriteImage after Close: %v, want ErrClosed", err)
	}
	if err := e.Reclaim(); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Reclaim after Close: %v, want ErrClosed", err)
	}
	if err := e.Sync(); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Sync after Close: %v, want ErrClosed", err)
	}
}

// testSync: Sync after unsynced commits succeeds, changes no content, can be
// repeated, and what it covered survives a reopen. (That it survives a crash
// is each engine's crash test: a crash cannot be staged through the contract.)
func (s *suite) testSync(t *testing.T) {
	dir := t.TempDir()
	e := s.open(t, dir)
	if err := e.Sync(); err != nil {
		t.Fatalf("Sync of an empty store: %v", err)
	}
	buckets := fill(t, e, 2, 200)
	h := ContentHash(t, e, buckets)
	for i := 0; i < 2; i++ {
		if err := e.Sync(); err != nil {
			t.Fatalf("Sync %d: %v", i, err)
		}
	}
	if got := ContentHash(t, e, buckets); got != h {
		t.Fatalf("content changed by Sync: hash %s, before %s", got, h)
	}
	e = s.reopen(t, e, dir)
	if got := ContentHash(t, e, buckets); got != h {
		t.Fatalf("content after Sync and reopen: hash %s, want %s", got, h)
	}
}

func (s *suite) testStats(t *testing.T) {
	e := s.open(t, t.TempDir())
	b := Bkt(1)
	if e.Name() == "" {
		t.Errorf("Name() is empty")
	}
	s0 := e.Stats()
	if s0.Engine != e.Name() {
		t.Errorf("Stats().Engine = %q, Name() = %q", s0.Engine, e.Name())
	}
	kvs := []KV{{[]byte("abc"), []byte("12345")}, {[]byte("de"), make([]byte, 1000)}}
	putAll(t, e, b, kvs, false)
	d := e.Stats().Sub(s0)
	if d.Commits != 1 || d.SyncedCommits != 0 {
		t.Errorf("after one unsynced commit: Commits +%d, SyncedCommits +%d; want +1, +0", d.Commits, d.SyncedCommits)
	}
	if d.LogicalBytes != 3+5+2+1000 {
		t.Errorf("LogicalBytes +%d after putting 1010 key and value bytes", d.LogicalBytes)
	}
	s1 := e.Stats()
	bt := e.NewBatch()
	bt.Put(b, []byte("x"), []byte("yz"))
	bt.Delete(b, []byte("abc"))
	bt.DeleteRange(b, []byte("a"), []byte("b"))
	commit(t, bt, true)
	d = e.Stats().Sub(s1)
	if d.Commits != 1 || d.SyncedCommits != 1 {
		t.Errorf("after one synced commit: Commits +%d, SyncedCommits +%d; want +1, +1", d.Commits, d.SyncedCommits)
	}
	if d.LogicalBytes != 3 {
		t.Errorf("LogicalBytes +%d after putting 3 bytes (deletes add nothing)", d.LogicalBytes)
	}
	total := e.Stats().Sub(s0)
	if total.Fsyncs < 0 || total.BytesWritten < 0 {
		t.Errorf("counters went backwards: %+v", total)
	}
}
