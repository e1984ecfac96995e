package bbolt

import (
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"testing"
	"time"

	"etcdlab/engines/engine"
)

// liveGet reads key from the engine's open live transaction, or reports
// that there is none.
func liveGet(e *Engine, bk engine.Bucket, key string) (val string, open bool) {
	e.live.mu.Lock()
	defer e.live.mu.Unlock()
	if e.live.tx == nil {
		return "", false
	}
	h := e.live.tx.Bucket([]byte(bk.Name))
	if h == nil {
		return "", true
	}
	return string(h.Get([]byte(key))), true
}

// TestLiveTxAppliesAtWrite: a batch's put is in bbolt's write transaction
// as soon as it is made (etcd's batchTx.UnsafePut), invisible to views
// until Commit, and Commit makes it visible.
func TestLiveTxAppliesAtWrite(t *testing.T) {
	e := open(t, t.TempDir())
	b := e.NewBatch()
	defer b.Close()
	b.Put(bktA, []byte("k"), []byte("v1"))
	if got, open := liveGet(e, bktA, "k"); !open || got != "v1" {
		t.Fatalf("after Put: live tx open=%v has %q, want the put applied to an open tx", open, got)
	}
	if _, ok := get(t, e, bktA, "k"); ok {
		t.Fatal("a view sees an uncommitted put")
	}
	b.Put(bktA, []byte("k"), []byte("v2"))
	if got, _ := liveGet(e, bktA, "k"); got != "v2" {
		t.Fatalf("second Put: live tx has %q, want v2", got)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if _, open := liveGet(e, bktA, "k"); open {
		t.Fatal("live tx still open after Commit")
	}
	if got, _ := get(t, e, bktA, "k"); got != "v2" {
		t.Fatalf("after Commit: %q, want v2", got)
	}
	if e.live.taken.Load() != 0 || e.live.commits.Load() != 1 {
		t.Fatalf("live tx taken %d times and committed %d, want 0 and 1", e.live.taken.Load(), e.live.commits.Load())
	}
}

// TestLiveTxTaken: whatever takes the live transaction from a batch before
// its Commit (another batch's commit, Reclaim, Close, a bad op), the batch's
// result is what a batch applied at Commit would give, in one goroutine
// (nothing waits on a transaction its own goroutine holds).
func TestLiveTxTaken(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, e *Engine) (want map[string]string, taken int64)
	}{
		{"second batch commits first", func(t *testing.T, e *Engine) (map[string]string, int64) {
			b1, b2 := e.NewBatch(), e.NewBatch()
			b1.Put(bktA, []byte("x"), []byte("b1"))
			b1.Put(bktA, []byte("only1"), []byte("1"))
			b2.Put(bktA, []byte("x"), []byte("b2")) // recorded: b1 holds the live tx
			b2.Put(bktA, []byte("only2"), []byte("2"))
			mustCommit(t, b2)
			b1.Put(bktA, []byte("late1"), []byte("1")) // b1 opens a new live tx and replays
			mustCommit(t, b1)
			return map[string]string{"x": "b1", "only1": "1", "only2": "2", "late1": "1"}, 1
		}},
		{"reclaim in the middle", func(t *testing.T, e *Engine) (map[string]string, int64) {
			mustCommit(t, batchOf(e, "old", "0"))
			b := batchOf(e, "a", "1")
			b.Delete(bktA, []byte("old"))
			if err := e.Reclaim(); err != nil {
				t.Fatal(err)
			}
			b.Put(bktA, []byte("b"), []byte("2"))
			mustCommit(t, b)
			return map[string]string{"a": "1", "b": "2"}, 1
		}},
		{"discarded batch", func(t *testing.T, e *Engine) (map[string]string, int64) {
			b := batchOf(e, "gone", "1")
			b.Close()
			mustCommit(t, batchOf(e, "kept", "1"))
			return map[string]string{"kept": "1"}, 0
		}},
		{"bad op rolls back the whole batch", func(t *testing.T, e *Engine) (map[string]string, int64) {
			b := batchOf(e, "a", "1")
			b.Put(engine.Bucket{ID: 9}, []byte("k"), []byte("v")) // no name
			b.Put(bktA, []byte("b"), []byte("2"))
			if err := b.Commit(true); err == nil {
				t.Fatal("Commit of a batch with an unnamed bucket succeeded")
			}
			mustCommit(t, batchOf(e, "c", "3")) // the engine still works
			return map[string]string{"c": "3"}, 0
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := open(t, t.TempDir())
			want, taken := c.run(t, e)
			if got := scanAll(t, e, bktA); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("content %v, want %v", got, want)
			}
			if e.live.taken.Load() != taken {
				t.Fatalf("live tx taken %d times, want %d", e.live.taken.Load(), taken)
			}
		})
	}
	t.Run("close in the middle", func(t *testing.T) {
		dir := t.TempDir()
		e := open(t, dir)
		mustCommit(t, batchOf(e, "kept", "1"))
		b := batchOf(e, "lost", "1")
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(true); !errors.Is(err, engine.ErrClosed) {
			t.Fatalf("Commit after Close: %v, want ErrClosed", err)
		}
		e = open(t, dir)
		if got := scanAll(t, e, bktA); fmt.Sprint(got) != fmt.Sprint(map[string]string{"kept": "1"}) {
			t.Fatalf("after reopen: %v", got)
		}
	})
}

func batchOf(e *Engine, k, v string) engine.Batch {
	b := e.NewBatch()
	b.Put(bktA, []byte(k), []byte(v))
	return b
}

func mustCommit(t *testing.T, b engine.Batch) {
	t.Helper()
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
}

// TestLiveTxConcurrent: one writer's batches (holding the live transaction
// between commits, as the backend's does) against concurrent Reclaims,
// views and a second writer; the content matches a model at the end. Run
// under -race in CI.
func TestLiveTxConcurrent(t *testing.T) {
	seed := testSeed(t)
	e := open(t, t.TempDir())
	rounds := 300
	if testing.Short() {
		rounds = 80
	}
	var (
		wg   sync.WaitGroup
		stop = make(chan struct{})
		errc = make(chan error, 4)
	)
	// Writer 1 owns keys w1-*, writer 2 keys w2-*; each keeps its model.
	writer := func(id int, model map[string]string) {
		defer wg.Done()
		rng := rand.New(rand.NewSource(seed + int64(id)))
		b := e.NewBatch()
		defer b.Close()
		pending := map[string]*string{}
		for r := 0; r < rounds; r++ {
			for n := rng.Intn(30); n >= 0; n-- {
				k := fmt.Sprintf("w%d-%02d", id, rng.Intn(50))
				if rng.Intn(5) == 0 {
					b.Delete(bktA, []byte(k))
					pending[k] = nil
				} else {
					v := fmt.Sprintf("%d.%d", r, n)
					b.Put(bktA, []byte(k), []byte(v))
					pending[k] = &v
				}
				runtime.Gosched() // let the other writer and Reclaim in mid-batch
			}
			if err := b.Commit(rng.Intn(2) == 0); err != nil {
				errc <- err
				return
			}
			for k, v := range pending {
				if v == nil {
					delete(model, k)
				} else {
					model[k] = *v
				}
			}
			clear(pending)
		}
	}
	models := []map[string]string{{}, {}}
	wg.Add(2)
	go writer(1, models[0])
	go writer(2, models[1])
	// Background loops run step until stop or its first error.
	var bg sync.WaitGroup
	loop := func(step func() error) {
		bg.Add(1)
		go func() {
			defer bg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := step(); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	loop(func() error { // reclaims
		err := e.Reclaim()
		time.Sleep(time.Millisecond) // else batches never get a live tx
		return err
	})
	loop(func() error { // readers
		v, err := e.NewView()
		if err != nil {
			return err
		}
		_ = v.Scan(bktA, nil, nil, 0, func(_, _ []byte) bool { return true })
		return v.Close()
	})
	wg.Wait()
	close(stop)
	bg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, m := range models {
		for k, v := range m {
			want[k] = v
		}
	}
	if got := scanAll(t, e, bktA); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("content (%d keys) differs from the model (%d keys)", len(got), len(want))
	}
	t.Logf("live tx: %d commits, taken from its batch %d times", e.live.commits.Load(), e.live.taken.Load())
}
