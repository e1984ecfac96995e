package backend

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"etcdlab/engines/bbolt"
	"etcdlab/engines/engine"
	"etcdlab/engines/memory"
	"etcdlab/internal/clock"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0: pick one and log it)")

func testSeed(t *testing.T) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed %d)", s, s)
	return s
}

var (
	bktA = engine.Bucket{ID: 1, Name: "a", Sequential: true}
	bktB = engine.Bucket{ID: 2, Name: "b"}
)

type harness struct {
	t       *testing.T
	eng     engine.Engine
	b       *Backend
	clk     *clock.Fake
	commits chan CommitInfo
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	e, err := memory.Open("", memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessOn(t, e, cfg)
}

func newHarnessOn(t *testing.T, e engine.Engine, cfg Config) *harness {
	h := &harness{t: t, eng: e, clk: clock.NewFake(time.Unix(0, 0)), commits: make(chan CommitInfo, 1024)}
	cfg.Clock = h.clk
	cfg.OnCommit = func(ci CommitInfo) {
		select {
		case h.commits <- ci:
		default: // long tests do not read commit events
		}
	}
	b, err := New(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.b = b
	t.Cleanup(func() { _ = b.Close() })
	return h
}

// engineHas reads key straight from the engine, bypassing the read buffer.
func (h *harness) engineHas(bkt engine.Bucket, key string) bool {
	v, err := h.eng.NewView()
	if err != nil {
		h.t.Fatal(err)
	}
	defer v.Close()
	_, err = v.Get(bkt, []byte(key))
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		h.t.Fatal(err)
	}
	return err == nil
}

func (h *harness) put(kvs ...string) {
	tx := h.b.BatchTx()
	tx.Lock()
	for i := 0; i < len(kvs); i += 2 {
		tx.UnsafePut(bktA, []byte(kvs[i]), []byte(kvs[i+1]))
	}
	tx.Unlock()
}

func (h *harness) expectCommit(reason string) CommitInfo {
	h.t.Helper()
	select {
	case ci := <-h.commits:
		if ci.Reason != reason || ci.Err != nil {
			h.t.Fatalf("commit %+v, want reason %q without error", ci, reason)
		}
		return ci
	case <-time.After(10 * time.Second):
		h.t.Fatalf("no %q commit", reason)
	}
	return CommitInfo{}
}

func (h *harness) expectNoCommit() {
	h.t.Helper()
	select {
	case ci := <-h.commits:
		h.t.Fatalf("unexpected commit %+v", ci)
	default:
	}
}

func readAll(t *testing.T, r *ReadTx, bkt engine.Bucket) string {
	t.Helper()
	var sb []string
	if err := r.Scan(bkt, nil, nil, 0, func(k, v []byte) bool {
		sb = append(sb, string(k)+"="+string(v))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(sb)
}

func TestEndedTxnVisibleBeforeCommit(t *testing.T) {
	h := newHarness(t, Config{})
	h.put("k1", "v1")
	h.expectNoCommit()
	if h.engineHas(bktA, "k1") {
		t.Fatal("put reached the engine before any commit")
	}
	r := h.b.ReadTx()
	defer r.Close()
	if v, err := r.Get(bktA, []byte("k1")); err != nil || string(v) != "v1" {
		t.Fatalf("reader: %q, %v; want the applied-but-uncommitted put", v, err)
	}
	if _, err := r.Get(bktB, []byte("k1")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("other bucket: %v, want not found", err)
	}
	if err := h.b.ForceCommit(); err != nil {
		t.Fatal(err)
	}
	h.expectCommit("force")
	if !h.engineHas(bktA, "k1") {
		t.Fatal("ForceCommit did not reach the engine")
	}
}

func TestWriteInProgressInvisibleToReaders(t *testing.T) {
	h := newHarness(t, Config{})
	tx := h.b.BatchTx()
	tx.Lock()
	tx.UnsafePut(bktA, []byte("k"), []byte("v"))
	if v, err := tx.UnsafeGet(bktA, []byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("writer does not see its own put: %q %v", v, err)
	}
	r := h.b.ReadTx()
	if _, err := r.Get(bktA, []byte("k")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("reader sees a write txn that has not ended: %v", err)
	}
	r.Close()
	tx.Unlock()
	r = h.b.ReadTx()
	defer r.Close()
	if _, err := r.Get(bktA, []byte("k")); err != nil {
		t.Fatalf("reader after Unlock: %v", err)
	}
}

func TestCommitTriggers(t *testing.T) {
	t.Run("interval", func(t *testing.T) {
		h := newHarness(t, Config{BatchInterval: 100 * time.Millisecond})
		h.put("a", "1")
		h.clk.Advance(99 * time.Millisecond)
		h.expectNoCommit()
		h.clk.Advance(time.Millisecond)
		ci := h.expectCommit("interval")
		if ci.Ops != 1 {
			t.Fatalf("ops %d, want 1", ci.Ops)
		}
		if !h.engineHas(bktA, "a") {
			t.Fatal("interval commit did not reach the engine")
		}
	})
	t.Run("limit", func(t *testing.T) {
		h := newHarness(t, Config{BatchLimit: 3})
		h.put("a", "1", "b", "2")
		h.expectNoCommit()
		h.put("c", "3")
		if ci := h.expectCommit("limit"); ci.Ops != 3 {
			t.Fatalf("ops %d, want 3", ci.Ops)
		}
	})
	t.Run("delete", func(t *testing.T) {
		h := newHarness(t, Config{})
		h.put("a", "1")
		tx := h.b.BatchTx()
		tx.Lock()
		tx.UnsafeDelete(bktA, []byte("a"))
		h.expectNoCommit() // not before the txn ends
		tx.Unlock()
		h.expectCommit("delete")
		if h.engineHas(bktA, "a") {
			t.Fatal("deleted key still in the engine")
		}
	})
	t.Run("idle", func(t *testing.T) {
		h := newHarness(t, Config{})
		h.clk.Advance(time.Second)
		// Give the timer goroutine a chance to run a (wrong) commit.
		if err := h.b.ForceCommit(); err != nil {
			t.Fatal(err)
		}
		h.expectNoCommit()
	})
}

func TestPreCommitHookSameCommit(t *testing.T) {
	h := newHarness(t, Config{})
	var index uint64
	persisted := uint64(0)
	h.b.SetPreCommitHook(func(tx *BatchTx) {
		if index != persisted {
			tx.UnsafePut(bktB, []byte("ci"), []byte(fmt.Sprint(index)))
			persisted = index
		}
	})
	tx := h.b.BatchTx()
	tx.Lock()
	tx.UnsafePut(bktA, []byte("k"), []byte("v"))
	index = 7
	tx.Unlock()
	if err := h.b.ForceCommit(); err != nil {
		t.Fatal(err)
	}
	if ci := h.expectCommit("force"); ci.Ops != 2 {
		t.Fatalf("commit of %d ops, want data and index together (2)", ci.Ops)
	}
	if !h.engineHas(bktB, "ci") || !h.engineHas(bktA, "k") {
		t.Fatal("index or data missing after the commit")
	}
	// A changed index alone is committed by ForceCommit.
	index = 8
	if err := h.b.ForceCommit(); err != nil {
		t.Fatal(err)
	}
	h.expectCommit("force")
	// Nothing changed: no commit.
	if err := h.b.ForceCommit(); err != nil {
		t.Fatal(err)
	}
	h.expectNoCommit()
}

func TestReadTxIsolation(t *testing.T) {
	h := newHarness(t, Config{})
	h.put("a", "1", "b", "2")
	old := h.b.ReadTx()
	defer old.Close()
	h.put("c", "3")
	tx := h.b.BatchTx()
	tx.Lock()
	tx.UnsafeDelete(bktA, []byte("a"))
	tx.UnsafePut(bktA, []byte("b"), []byte("22"))
	tx.Unlock()
	h.expectCommit("delete")
	if got, want := readAll(t, old, bktA), "[a=1 b=2]"; got != want {
		t.Fatalf("old view sees %s, want %s", got, want)
	}
	nv := h.b.ReadTx()
	defer nv.Close()
	if got, want := readAll(t, nv, bktA), "[b=22 c=3]"; got != want {
		t.Fatalf("new view sees %s, want %s", got, want)
	}
}

// TestModel drives the batch tx with random operations and checks the
// writer's reads, fresh readers and readers held across later writes against
// a map oracle.
func TestModel(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	h := newHarness(t, Config{BatchLimit: 1 + rng.IntN(40)})
	buckets := []engine.Bucket{bktA, bktB}
	type state = map[string]string // bucket id + key -> value
	cur := state{}
	copyState := func(s state) state {
		c := make(state, len(s))
		for k, v := range s {
			c[k] = v
		}
		return c
	}
	key := func() []byte { return []byte(fmt.Sprintf("k%02d", rng.IntN(60))) }
	expect := func(s state, bkt engine.Bucket, start, end []byte, limit int) []string {
		var out []string
		for k, v := range s {
			if k[0] != bkt.ID {
				continue
			}
			kk := []byte(k[1:])
			if bytes.Compare(kk, start) >= 0 && (end == nil || bytes.Compare(kk, end) < 0) {
				out = append(out, k[1:]+"="+v)
			}
		}
		sort.Strings(out)
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
		return out
	}
	scan := func(fn func(engine.Bucket, []byte, []byte, int, func(k, v []byte) bool) error,
		bkt engine.Bucket, start, end []byte, limit int) []string {
		var out []string
		if err := fn(bkt, start, end, limit, func(k, v []byte) bool {
			out = append(out, string(k)+"="+string(v))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	randRange := func() ([]byte, []byte, int) {
		s := key()
		var e []byte
		if rng.IntN(4) > 0 {
			e = key()
		}
		return s, e, rng.IntN(6)
	}
	type held struct {
		r *ReadTx
		s state
	}
	var views []held
	tx := h.b.BatchTx()
	for step := 0; step < 3000; step++ {
		tx.Lock()
		for n := rng.IntN(5); n >= 0; n-- {
			bkt := buckets[rng.IntN(2)]
			switch p := rng.IntN(100); {
			case p < 55:
				k, v := key(), []byte(fmt.Sprintf("v%d", step))
				tx.UnsafePut(bkt, k, v)
				cur[string(bkt.ID)+string(k)] = string(v)
			case p < 65:
				k := key()
				tx.UnsafeDelete(bkt, k)
				delete(cur, string(bkt.ID)+string(k))
			case p < 70:
				s, e, _ := randRange()
				tx.UnsafeDeleteRange(bkt, s, e)
				for k := range cur {
					kk := []byte(k[1:])
					if k[0] == bkt.ID && bytes.Compare(kk, s) >= 0 && (e == nil || bytes.Compare(kk, e) < 0) {
						delete(cur, k)
					}
				}
			case p < 90:
				s, e, l := randRange()
				got, want := scan(tx.UnsafeScan, bkt, s, e, l), expect(cur, bkt, s, e, l)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("step %d: writer scan [%s,%s) limit %d = %v, want %v", step, s, e, l, got, want)
				}
			default:
				k := key()
				v, err := tx.UnsafeGet(bkt, k)
				want, ok := cur[string(bkt.ID)+string(k)]
				if ok != (err == nil) || (ok && string(v) != want) {
					t.Fatalf("step %d: writer get %s = %q, %v; want %q, %v", step, k, v, err, want, ok)
				}
			}
		}
		if rng.IntN(50) == 0 {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		tx.Unlock()
		if rng.IntN(10) == 0 {
			// A new reader sees the state at the last ended txn: now.
			views = append(views, held{h.b.ReadTx(), copyState(cur)})
		}
		if rng.IntN(30) == 0 {
			h.clk.Advance(100 * time.Millisecond)
		}
		for i := 0; i < len(views); i++ {
			v := views[i]
			bkt := buckets[rng.IntN(2)]
			s, e, l := randRange()
			got, want := scan(v.r.Scan, bkt, s, e, l), expect(v.s, bkt, s, e, l)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("step %d: held reader scan [%s,%s) limit %d = %v, want %v", step, s, e, l, got, want)
			}
			if rng.IntN(8) == 0 {
				v.r.Close()
				views = append(views[:i], views[i+1:]...)
				i--
			}
		}
	}
	for _, v := range views {
		v.r.Close()
	}
	// Everything ended reaches the engine on Close, and nothing else.
	if err := h.b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentReadersOneWriter checks under -race that readers always see
// whole write txns: every txn writes the same generation to all keys.
func TestConcurrentReadersOneWriter(t *testing.T) {
	h := newHarness(t, Config{BatchLimit: 50})
	const keys = 20
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				rt := h.b.ReadTx()
				var gens []string
				_ = rt.Scan(bktA, nil, nil, 0, func(k, v []byte) bool {
					gens = append(gens, string(v))
					return true
				})
				rt.Close()
				for _, g := range gens {
					if g != gens[0] || (len(gens) != 0 && len(gens) != keys) {
						errs <- fmt.Errorf("reader saw a torn txn: %v", gens)
						return
					}
				}
			}
		}()
	}
	tx := h.b.BatchTx()
	for gen := 0; gen < 500; gen++ {
		tx.Lock()
		for k := 0; k < keys; k++ {
			tx.UnsafePut(bktA, []byte(fmt.Sprintf("k%02d", k)), []byte(fmt.Sprint(gen)))
		}
		if gen%7 == 0 {
			tx.UnsafeDelete(bktB, []byte("x"))
		}
		tx.Unlock()
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// failingEngine fails every batch commit after the first n.
type failingEngine struct {
	engine.Engine
	left int
}

type failingBatch struct {
	engine.Batch
	e *failingEngine
}

func (f *failingEngine) NewBatch() engine.Batch { return &failingBatch{f.Engine.NewBatch(), f} }

func (b *failingBatch) Commit(sync bool) error {
	if b.e.left == 0 {
		return errors.New("injected: disk full")
	}
	b.e.left--
	return b.Batch.Commit(sync)
}

func TestCommitFailureIsSticky(t *testing.T) {
	e, err := memory.Open("", memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessOn(t, &failingEngine{Engine: e, left: 1}, Config{})
	h.put("a", "1")
	if err := h.b.ForceCommit(); err != nil {
		t.Fatal(err)
	}
	h.expectCommit("force")
	h.put("b", "2")
	if err := h.b.ForceCommit(); err == nil {
		t.Fatal("failed commit reported success")
	}
	if ci := <-h.commits; ci.Err == nil {
		t.Fatal("OnCommit not told of the failure")
	}
	h.put("c", "3")
	if err := h.b.ForceCommit(); err == nil || h.b.Err() == nil {
		t.Fatal("backend kept committing after a failure")
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{BatchInterval: -1, BatchLimit: -2}.Validate()
	if err == nil {
		t.Fatal("negative values accepted")
	}
	for _, want := range []string{"batch interval", "batch limit"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	var c Config
	c.EnsureDefaults()
	if c.BatchInterval != 100*time.Millisecond || c.BatchLimit != 10000 || c.Clock == nil {
		t.Fatalf("defaults %+v are not etcd's", c)
	}
}

func TestDefragKeepsContent(t *testing.T) {
	h := newHarness(t, Config{})
	h.put("a", "1", "b", "2")
	if err := h.b.Defrag(); err != nil {
		t.Fatal(err)
	}
	r := h.b.ReadTx()
	defer r.Close()
	if got := readAll(t, r, bktA); got != "[a=1 b=2]" {
		t.Fatalf("after defrag: %s", got)
	}
	if h.b.Stats().Defrags != 1 {
		t.Fatal("defrag not counted")
	}
}

// TestBboltWritesAtApplyTime: on bbolt the backend's one batch holds the
// engine's live write transaction, so every write lands in bbolt's B+tree
// as it is made and each commit is a commit of that transaction (etcd's
// batchTx), never a replay; a defrag in between does not change that.
func TestBboltWritesAtApplyTime(t *testing.T) {
	e, err := bbolt.Open(t.TempDir(), bbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessOn(t, e, Config{})
	const commits = 5
	for i := 0; i < commits; i++ {
		h.put(fmt.Sprintf("k%d", i), "v")
		if i == 2 {
			if err := h.b.Defrag(); err != nil { // commits what is pending first
				t.Fatal(err)
			}
			continue
		}
		if err := h.b.ForceCommit(); err != nil {
			t.Fatal(err)
		}
	}
	n := h.b.Stats().Engine.Native
	if n["bbolt.live_tx_commits"] != commits || n["bbolt.live_tx_taken"] != 0 {
		t.Fatalf("bbolt live tx: %v commits, %v taken; want %d and 0",
			n["bbolt.live_tx_commits"], n["bbolt.live_tx_taken"], commits)
	}
}
