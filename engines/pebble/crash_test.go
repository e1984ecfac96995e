package pebble

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"etcdlab/engines/engine"
)

// TestCrashKeepsSyncedPrefix crashes a wal=synced store at random points,
// keeping a seeded share of the unsynced data, and checks that the recovered
// store is exactly the state after some prefix of the commits, and that this
// prefix includes every commit made with sync.
func TestCrashKeepsSyncedPrefix(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	rounds := 20
	if testing.Short() {
		rounds = 8
	}
	for round := 0; round < rounds; round++ {
		mem := vfs.NewCrashableMem()
		o := Options{FS: mem, MemTableSize: 32 << 10}
		e := openT(t, "/c", o)
		commits := 20 + rng.IntN(80)
		lastSynced := -1
		for i := 0; i < commits; i++ {
			b := e.NewBatch()
			b.Put(bKey, []byte("n"), []byte(strconv.Itoa(i)))
			b.Put(bKey, []byte(fmt.Sprintf("k%03d", i)), make([]byte, 200+rng.IntN(800)))
			if i >= 3 {
				b.Delete(bKey, []byte(fmt.Sprintf("k%03d", i-3)))
			}
			sync := rng.IntN(3) == 0
			if err := b.Commit(sync); err != nil {
				t.Fatal(err)
			}
			b.Close()
			if sync {
				lastSynced = i
			}
		}
		crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101),
			RNG: rand.New(rand.NewPCG(seed, uint64(round)))})
		e.Close()
		o.FS = crashed
		e = openT(t, "/c", o)
		v, err := e.NewView()
		if err != nil {
			t.Fatal(err)
		}
		got := -1
		if n, err := v.Get(bKey, []byte("n")); err == nil {
			got, _ = strconv.Atoi(string(n))
		}
		if got < lastSynced {
			t.Fatalf("round %d (seed %d): recovered commit %d, but commit %d was synced", round, seed, got, lastSynced)
		}
		var keys []string
		_ = v.Scan(bKey, []byte("k"), []byte("l"), 0, func(k, _ []byte) bool { keys = append(keys, string(k)); return true })
		var want []string
		for i := max(0, got-2); i <= got; i++ {
			want = append(want, fmt.Sprintf("k%03d", i))
		}
		if fmt.Sprint(keys) != fmt.Sprint(want) {
			t.Fatalf("round %d (seed %d): recovered commit %d with keys %v, want %v (not a commit prefix)",
				round, seed, got, keys, want)
		}
		v.Close()
		e.Close()
	}
}

// TestSyncSurvivesMachineCrash: in every WAL mode, commits with random sync
// flags, then Sync, then more commits, then a machine crash (CrashClone: the
// synced data survives, a seeded share of the unsynced data does not). The
// recovered store must be a commit prefix that includes every commit made
// before Sync. With wal=disabled and no Sync the memtable dies whole (shown
// once per round, as the control: Sync is what makes the difference).
func TestSyncSurvivesMachineCrash(t *testing.T) {
	seed := testSeed(t)
	rounds := 40
	if testing.Short() {
		rounds = 8
	}
	for mi, mode := range []WALMode{WALSynced, WALUnsynced, WALDisabled} {
		t.Run("wal="+string(mode), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, uint64(100+mi)))
			for round := 0; round < rounds; round++ {
				mem := vfs.NewCrashableMem()
				o := Options{FS: mem, WAL: mode, MemTableSize: 256 << 10}
				e := openT(t, "/s", o)
				before, after := 1+rng.IntN(60), rng.IntN(20)
				write := func(i int) {
					b := e.NewBatch()
					b.Put(bKey, []byte("n"), []byte(strconv.Itoa(i)))
					b.Put(bKey, []byte(fmt.Sprintf("k%03d", i)), make([]byte, 100+rng.IntN(400)))
					if err := b.Commit(rng.IntN(3) == 0); err != nil {
						t.Fatal(err)
					}
					b.Close()
				}
				for i := 0; i < before; i++ {
					write(i)
				}
				if err := e.Sync(); err != nil {
					t.Fatalf("Sync: %v", err)
				}
				for i := before; i < before+after; i++ {
					write(i)
				}
				crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101),
					RNG: rand.New(rand.NewPCG(seed, uint64(round)))})
				_ = e.Close()
				o.FS = crashed
				e = openT(t, "/s", o)
				got := -1
				if n, ok := get(t, e, bKey, "n"); ok {
					got, _ = strconv.Atoi(n)
				}
				if got < before-1 {
					t.Fatalf("round %d (seed %d): recovered commit %d, but commits 0..%d were made before Sync",
						round, seed, got, before-1)
				}
				for i := 0; i <= got; i++ {
					if _, ok := get(t, e, bKey, fmt.Sprintf("k%03d", i)); !ok {
						t.Fatalf("round %d (seed %d): recovered commit %d without commit %d (not a prefix)", round, seed, got, i)
					}
				}
				e.Close()
			}
		})
	}
	t.Run("wal=disabled/no-sync-loses-memtable", func(t *testing.T) {
		mem := vfs.NewCrashableMem()
		o := Options{FS: mem, WAL: WALDisabled}
		e := openT(t, "/s", o)
		commit(t, e, true, func(b engine.Batch) { b.Put(bKey, []byte("a"), []byte("1")) })
		crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 1))})
		_ = e.Close()
		o.FS = crashed
		e = openT(t, "/s", o)
		defer e.Close()
		if _, ok := get(t, e, bKey, "a"); ok {
			t.Fatalf("a wal=disabled commit survived a crash without Sync or flush: the control does not crash")
		}
	})
}

// TestSyncCost: Sync costs nothing when every commit since the last one was
// durable (wal=synced, synced commits), a WAL fdatasync after an unsynced
// commit, a flush under wal=disabled; and it fails with ErrClosed after Close.
func TestSyncCost(t *testing.T) {
	for _, mode := range []WALMode{WALSynced, WALUnsynced, WALDisabled} {
		t.Run("wal="+string(mode), func(t *testing.T) {
			e := openT(t, "/c", Options{FS: vfs.NewMem(), WAL: mode})
			commit(t, e, true, func(b engine.Batch) { b.Put(bKey, []byte("a"), []byte("1")) })
			s0 := e.Stats()
			if err := e.Sync(); err != nil {
				t.Fatal(err)
			}
			d := e.Stats().Sub(s0)
			switch mode {
			case WALSynced:
				if d.Fsyncs != 0 {
					t.Errorf("Sync after synced commits: %d fsyncs, want 0", d.Fsyncs)
				}
			case WALUnsynced:
				if d.Fsyncs < 1 {
					t.Errorf("Sync after an unsynced commit: %d fsyncs, want a WAL sync", d.Fsyncs)
				}
			case WALDisabled:
				if f := e.Stats().Native["pebble.flushes"] - s0.Native["pebble.flushes"]; f != 1 {
					t.Errorf("Sync under wal=disabled: %v flushes, want 1", f)
				}
			}
			s1 := e.Stats()
			if err := e.Sync(); err != nil {
				t.Fatal(err)
			}
			if d := e.Stats().Sub(s1); d.Fsyncs != 0 {
				t.Errorf("second Sync with nothing new: %d fsyncs, want 0", d.Fsyncs)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if err := e.Sync(); !errorsIsClosed(err) {
				t.Errorf("Sync after Close: %v", err)
			}
		})
	}
}

// TestConcurrentReclaimAndClose runs writers and readers across Reclaims, then
// closes the engine while a Reclaim waits for a view.
func TestConcurrentReclaimAndClose(t *testing.T) {
	e := openT(t, t.TempDir(), Options{MemTableSize: 256 << 10})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			b := e.NewBatch()
			defer b.Close()
			for i := 0; i < 300; i++ {
				b.Put(bKey, []byte(fmt.Sprintf("w%d-%04d", w, i)), make([]byte, 300))
				if i%50 == 0 {
					b.DeleteRange(bKey, []byte(fmt.Sprintf("w%d-", w)), []byte(fmt.Sprintf("w%d-%04d", w, i)))
				}
				if err := b.Commit(i%10 == 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				v, err := e.NewView()
				if err != nil {
					t.Error(err)
					return
				}
				prev := ""
				_ = v.Scan(bKey, nil, nil, 0, func(k, _ []byte) bool {
					if string(k) <= prev {
						t.Errorf("scan out of order: %q after %q", k, prev)
					}
					prev = string(k)
					return true
				})
				v.Close()
			}
		}()
	}
	for i := 0; i < 3; i++ {
		if err := e.Reclaim(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	_ = e.Stats()

	v, _ := e.NewView()
	done := make(chan error, 1)
	go func() { done <- e.Reclaim() }()
	// Close closes the view the Reclaim waits for; whichever of Close and
	// Reclaim wins, neither hangs and the engine ends closed.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil && !errorsIsClosed(err) {
		t.Fatalf("Reclaim during Close: %v", err)
	}
	if _, err := v.Get(bKey, []byte("x")); !errorsIsClosed(err) {
		t.Fatalf("view after Close: %v", err)
	}
}

func errorsIsClosed(err error) bool { return err != nil && isErr(err, engine.ErrClosed) }

// TestWALFailure injects an I/O error under a synced commit: pebble treats it
// as fatal, and the engine reports ErrFailed for it and every later commit
// instead of crashing the process; reads still work and Close returns.
func TestWALFailure(t *testing.T) {
	var tog errorfs.Toggle
	tog.Injector = errorfs.ErrInjected
	fs := errorfs.Wrap(vfs.NewMem(), &tog)
	e := openT(t, "/f", Options{FS: fs})
	commit(t, e, true, func(b engine.Batch) { b.Put(bKey, []byte("a"), []byte("1")) })
	tog.On()
	b := e.NewBatch()
	b.Put(bKey, []byte("b"), []byte("1"))
	if err := b.Commit(true); !errors.Is(err, ErrFailed) {
		t.Fatalf("commit with failing WAL: %v", err)
	}
	tog.Off()
	b.Put(bKey, []byte("c"), []byte("1"))
	if err := b.Commit(false); !errors.Is(err, ErrFailed) {
		t.Fatalf("commit after failure: %v", err)
	}
	b.Close()
	if v, ok := get(t, e, bKey, "a"); !ok || v != "1" {
		t.Fatalf("read after failure: %q %v", v, ok)
	}
	_ = e.Close() // may report the injected error
}
