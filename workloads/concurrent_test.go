package workloads

import (
	"slices"
	"sync"
	"testing"
)

// TestConcurrentWorkers runs workers on one KeySpace at once (run with -race
// in CI): every insert gets a distinct new id, the count ends at keys.count
// plus the inserts, and no worker reads an id that does not exist yet.
func TestConcurrentWorkers(t *testing.T) {
	seed := testSeed(t)
	for _, name := range []string{"ycsb-d", "ycsb-e", "k8s"} {
		t.Run("workload="+name, func(t *testing.T) {
			s := mustPreset(t, name)
			s.Keys.Count = 1000
			ks := mustKeySpace(t, s, seed)
			const workers = 4
			n := 20_000
			if testing.Short() {
				n = 5_000
			}
			inserted := make([][]uint64, workers)
			errs := make(chan string, workers)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					g := ks.Generator(w)
					var op Op
					for range n {
						if err := g.Next(&op); err != nil {
							errs <- err.Error()
							return
						}
						if op.Kind == OpInsert {
							inserted[w] = append(inserted[w], op.ID)
						} else if op.ID >= ks.Count() {
							errs <- "read of an id not handed out yet"
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Fatal(e)
			}
			all := slices.Concat(inserted...)
			slices.Sort(all)
			for i, id := range all {
				if id != 1000+uint64(i) {
					t.Fatalf("inserted ids not exactly 1000..%d: position %d holds %d", 1000+len(all)-1, i, id)
				}
			}
			if ks.Count() != 1000+uint64(len(all)) || len(all) == 0 {
				t.Fatalf("count %d after %d inserts", ks.Count(), len(all))
			}
		})
	}
}
