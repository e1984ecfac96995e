package mvcc

import (
	"fmt"
	"slices"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// history writes a seeded mix of puts, overwrites and deletes over 30 keys
// and returns a revision in its middle to compact at.
func history(t *testing.T, s *Store, seed uint64) int64 {
	r := newRand(seed)
	var mid int64
	for i := range 300 {
		k := fmt.Sprintf("k%02d", r.IntN(30))
		if r.IntN(5) == 0 {
			del(t, s, k, "")
		} else {
			put(t, s, k, fmt.Sprint(i))
		}
		if i == 220 {
			mid = s.Rev()
		}
	}
	// A delete exactly at the compact revision, so its tombstone must survive.
	if _, err := s.Txn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("k00", "k05")}}); err != nil {
		t.Fatal(err)
	}
	return mid
}

type compactResult struct {
	rev, compactRev int64
	hash            uint32
	bucket          []string
}

func resultOf(t *testing.T, s *Store) compactResult {
	h, _, err := s.HashByRev(0)
	if err != nil {
		t.Fatal(err)
	}
	return compactResult{s.Rev(), s.CompactRev(), h.Hash, keyBucket(t, s)}
}

// TestCompactionInterrupted stops a compaction between two batches (as a
// crash there would), reopens, and checks that the store finishes it, that the
// revision did not go back, and that the result equals an uninterrupted run.
func TestCompactionInterrupted(t *testing.T) {
	seed := testSeed(t)
	cfg := Config{CompactionBatchLimit: 10, CompactionSleepInterval: 1}
	for _, name := range testEngineNames() {
		t.Run("engine="+name, func(t *testing.T) {
			// Uninterrupted.
			a := openStore(t, name, t.TempDir(), cfg)
			defer a.Close()
			mid := history(t, a, seed)
			if err := a.CompactSync(mid); err != nil {
				t.Fatal(err)
			}
			want := resultOf(t, a)

			// Interrupted after the third batch.
			dir := t.TempDir()
			b := openStore(t, name, dir, cfg)
			if history(t, b, seed) != mid {
				t.Fatal("histories differ")
			}
			before := len(keyBucket(t, b))
			b.compactBatchHook = func(batch int) bool { return batch < 3 }
			if err := b.CompactSync(mid); err != nil {
				t.Fatal(err)
			}
			partial := len(keyBucket(t, b))
			if !(partial < before && partial > len(want.bucket)) {
				t.Fatalf("interrupted compaction left %d entries; before %d, finished %d", partial, before, len(want.bucket))
			}
			// etcd's hash skips what the compaction will delete, so a half-done
			// compaction already hashes as the finished one.
			if h, _, err := b.HashByRev(0); err != nil || h.Hash != want.hash {
				t.Fatalf("hash during the interrupted compaction %08x (%v), finished %08x", h.Hash, err, want.hash)
			}
			rev := b.Rev()
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			b = openStore(t, name, dir, cfg)
			defer b.Close()
			b.WaitCompactions()
			got := resultOf(t, b)
			if got.rev != rev || got.rev != want.rev {
				t.Fatalf("revision after reopen %d, before %d, uninterrupted %d", got.rev, rev, want.rev)
			}
			if got.compactRev != mid || got.hash != want.hash || !slices.Equal(got.bucket, want.bucket) {
				t.Fatalf("resumed compaction: compact %d hash %08x (%d entries); uninterrupted: compact %d hash %08x (%d entries)",
					got.compactRev, got.hash, len(got.bucket), want.compactRev, want.hash, len(want.bucket))
			}
			// The finished revision is recorded, so the next open has nothing to resume.
			tx := b.b.ReadTx()
			fin, err := readMetaRev(tx, MetaFinishedCompactRev, -1)
			tx.Close()
			if err != nil || fin != mid {
				t.Fatalf("finishedCompactRev %d (%v), want %d", fin, err, mid)
			}
		})
	}
}

// TestRevisionNeverGoesBack reproduces etcd #17780: the newest records were
// removed by a compaction (as etcd <= 3.5.15 removed a tombstone at the
// compact revision), so the largest revision in the key bucket is below the
// store's; the reopened store must take the compaction revisions into account.
func TestRevisionNeverGoesBack(t *testing.T) {
	for _, finished := range []bool{true, false} {
		t.Run(fmt.Sprintf("finished=%t", finished), func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, "memory", dir, Config{})
			put(t, s, "a", "1") // 2
			put(t, s, "b", "1") // 3
			del(t, s, "b", "")  // 4, a tombstone
			if err := s.CompactSync(4); err != nil {
				t.Fatal(err)
			}
			tx := s.b.BatchTx()
			tx.Lock()
			tx.UnsafeDelete(KeyBucket(), RevBytes(Revision{Main: 4}, true))
			if !finished {
				tx.UnsafeDelete(MetaBucket(), []byte(MetaFinishedCompactRev))
			}
			tx.Unlock()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, "memory", dir, Config{})
			defer s.Close()
			s.WaitCompactions()
			if s.Rev() != 4 || s.CompactRev() != 4 {
				t.Fatalf("reopened at revision %d, compact %d; want 4 and 4", s.Rev(), s.CompactRev())
			}
			if rev := put(t, s, "c", "1"); rev != 5 {
				t.Fatalf("next write at %d, want 5", rev)
			}
		})
	}
}

// TestCompactOrdering: the scheduled revision is committed before anything
// is deleted, so a reopen after Compact returns sees it even if the deletion
// never ran.
func TestCompactScheduledPersistedFirst(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, "pebble", dir, Config{CompactionBatchLimit: 2})
	for i := range 10 {
		put(t, s, "k", fmt.Sprint(i))
	}
	s.compactBatchHook = func(int) bool { return false }
	if err := s.CompactSync(8); err != nil {
		t.Fatal(err)
	}
	tx := s.b.ReadTx()
	sched, err1 := readMetaRev(tx, MetaScheduledCompactRev, 0)
	fin, err2 := readMetaRev(tx, MetaFinishedCompactRev, -1)
	tx.Close()
	if sched != 8 || fin != -1 || err1 != nil || err2 != nil {
		t.Fatalf("after an interrupted compact(8): scheduled %d finished %d (%v %v)", sched, fin, err1, err2)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, "pebble", dir, Config{CompactionBatchLimit: 2})
	defer s.Close()
	s.WaitCompactions()
	if got := fmt.Sprint(keyBucket(t, s)); got != "[8.0 9.0 10.0 11.0]" {
		t.Fatalf("key bucket after the resumed compaction: %s", got)
	}
	if _, err := s.Range(&pb.RangeRequest{Key: []byte("k"), Revision: 7}); err == nil {
		t.Fatal("range below the resumed compaction succeeded")
	}
}

// TestCompactionStats checks the figures OnCompacted reports: the entries
// scanned and deleted, the batches (one commit each, the last one short),
// and Finished false for a compaction stopped between batches.
func TestCompactionStats(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		stopAfter                int // batches; 0: never
		finished                 bool
		scanned, deleted, batchs int64
	}{
		{name: "finished", finished: true, scanned: 100, deleted: 99, batchs: 11},
		{name: "stopped", stopAfter: 3, finished: false, scanned: 30, deleted: 30, batchs: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan CompactionStats, 1)
			cfg := Config{CompactionBatchLimit: 10, CompactionSleepInterval: 1, OnCompacted: func(st CompactionStats) { got <- st }}
			s := openStore(t, "bbolt", t.TempDir(), cfg)
			defer s.Close()
			for i := range 100 { // revisions 2..101 of one key
				put(t, s, "k", fmt.Sprint(i))
			}
			if tc.stopAfter > 0 {
				s.compactBatchHook = func(batch int) bool { return batch < tc.stopAfter }
			}
			if err := s.CompactSync(s.Rev()); err != nil {
				t.Fatal(err)
			}
			st := <-got
			if st.Revision != 101 || st.Finished != tc.finished || st.KeysScanned != tc.scanned ||
				st.KeysDeleted != tc.deleted || int64(st.Batches) != tc.batchs {
				t.Fatalf("stats %+v; want revision 101, finished %v, scanned %d, deleted %d, batches %d",
					st, tc.finished, tc.scanned, tc.deleted, tc.batchs)
			}
			if st.End.Before(st.Start) || st.Took < 0 || st.Index < 0 || st.End.Sub(st.Start) < st.Took {
				t.Fatalf("times: start %v end %v index %v took %v", st.Start, st.End, st.Index, st.Took)
			}
			if len(st.Pauses) != st.Batches {
				t.Fatalf("%d pauses for %d batches", len(st.Pauses), st.Batches)
			}
			if tc.finished && st.SizeAfter <= 0 {
				t.Fatalf("size after %d", st.SizeAfter)
			}
		})
	}
}
