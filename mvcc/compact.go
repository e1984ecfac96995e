package mvcc

import (
	"fmt"
	"hash/crc32"
	"time"

	"etcdlab/engines/backend"
)

// CompactionStats describe the background part of one compaction, what
// etcd's scheduleCompaction logs and observes.
type CompactionStats struct {
	// Revision is the compaction revision.
	Revision int64
	// Start is when the background part began (after any earlier
	// compaction it queued behind); End when it ended.
	Start, End time.Time
	// Index is how long compacting the in-memory index took (etcd's
	// index_compaction_pause); Took is the key-bucket deletion from the
	// end of the index compaction to the last batch, etcd's "took" in
	// "finished scheduled compaction".
	Index, Took time.Duration
	// Batches is the number of key-bucket batches (one commit each);
	// KeysScanned the entries examined, KeysDeleted those deleted.
	// Pauses is each batch's time from taking the batch lock to its
	// commit, what etcd observes as db_compaction_pause: writers wait
	// that long.
	Batches                  int
	KeysScanned, KeysDeleted int64
	Pauses                   []time.Duration
	// Finished is false when Close or a backend failure stopped the
	// compaction (the next Open resumes it).
	Finished bool
	// SizeAfter and SizeInUseAfter are the backend's Size and SizeInUse
	// once the compaction ended, as etcd logs them.
	SizeAfter, SizeInUseAfter int64
}

// Detail renders the figures as an event's detail line, and Values as its
// named values: one rendering for every layer that reports a compaction
// (the cluster's nodes and the bench's mvcc layer).
func (st CompactionStats) Detail() string {
	return fmt.Sprintf("revision=%d keys-deleted=%d keys-scanned=%d batches=%d index=%v took=%v finished=%v db-size=%d db-size-in-use=%d",
		st.Revision, st.KeysDeleted, st.KeysScanned, st.Batches, st.Index, st.Took, st.Finished, st.SizeAfter, st.SizeInUseAfter)
}

// Values: see Detail. finished is 1 or 0.
func (st CompactionStats) Values() map[string]float64 {
	finished := 0.0
	if st.Finished {
		finished = 1
	}
	return map[string]float64{
		"revision":                   float64(st.Revision),
		"keys_deleted":               float64(st.KeysDeleted),
		"keys_scanned":               float64(st.KeysScanned),
		"batches":                    float64(st.Batches),
		"index_s":                    st.Index.Seconds(),
		"took_s":                     st.Took.Seconds(),
		"finished":                   finished,
		"db_size_after_bytes":        float64(st.SizeAfter),
		"db_size_in_use_after_bytes": float64(st.SizeInUseAfter),
	}
}

// Compact schedules a compaction at rev, as etcd's store.Compact: reads below
// rev fail with ErrCompacted from now on; the scheduled revision is persisted
// and committed before anything is deleted; the index is compacted and the key
// bucket cleaned in the background, in batches of CompactionBatchLimit with a
// commit per batch, the last batch recording the finished revision. The
// returned channel is closed when the compaction ends (finished, or stopped by
// Close, in which case the next Open resumes it).
func (s *Store) Compact(rev int64) (<-chan struct{}, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.revMu.Lock()
	if rev <= s.compactMainRev {
		cur := s.compactMainRev
		s.revMu.Unlock()
		return nil, fmt.Errorf("%w: revision %d, already compacted at %d", ErrCompacted, rev, cur)
	}
	if rev > s.currentRev {
		cur := s.currentRev
		s.revMu.Unlock()
		return nil, fmt.Errorf("%w: revision %d, current %d", ErrFutureRev, rev, cur)
	}
	prev := s.compactMainRev
	s.compactMainRev = rev
	s.revMu.Unlock()

	tx := s.b.BatchTx()
	tx.Lock()
	tx.UnsafePut(MetaBucket(), []byte(MetaScheduledCompactRev), RevBytes(Revision{Main: rev}, false))
	tx.Unlock()
	if err := s.b.ForceCommit(); err != nil {
		s.revMu.Lock()
		s.compactMainRev = prev
		s.revMu.Unlock()
		return nil, fmt.Errorf("mvcc: persisting the scheduled compaction at %d: %w", rev, err)
	}
	return s.startCompaction(rev), nil
}

// CompactSync compacts at rev and waits for the compaction to end.
func (s *Store) CompactSync(rev int64) error {
	done, err := s.Compact(rev)
	if err != nil {
		return err
	}
	<-done
	return nil
}

// WaitCompactions waits for every compaction scheduled so far to end.
func (s *Store) WaitCompactions() {
	s.compactMu.Lock()
	last := s.lastCompact
	s.compactMu.Unlock()
	<-last
}

// startCompaction queues the background part of a compaction behind the
// previous one, so compactions run in the order they were scheduled.
func (s *Store) startCompaction(rev int64) <-chan struct{} {
	s.compactMu.Lock()
	prev := s.lastCompact
	done := make(chan struct{})
	s.lastCompact = done
	s.compactMu.Unlock()
	// Read under mu (held by every caller): Restore replaces them.
	stop, idx, b := s.compactStop, s.idx, s.b
	s.compactWG.Add(1)
	go func() {
		defer s.compactWG.Done()
		defer close(done)
		select {
		case <-prev:
		case <-stop:
			return
		}
		st := CompactionStats{Revision: rev, Start: s.cfg.Clock.Now()}
		keep := idx.Compact(rev)
		st.Index = s.cfg.Clock.Since(st.Start)
		deleteStart := s.cfg.Clock.Now()
		st.Finished = s.compactBackend(b, rev, keep, stop, &st)
		st.End = s.cfg.Clock.Now()
		st.Took = st.End.Sub(deleteStart)
		if st.Finished {
			st.SizeAfter, st.SizeInUseAfter = b.Size(), b.SizeInUse()
		}
		if s.cfg.OnCompacted != nil {
			s.cfg.OnCompacted(st)
		}
	}()
	return done
}

// compactBackend deletes the key-bucket entries at or below rev that keep
// does not hold. It reports whether it finished (false: stopped by Close, the
// test hook, or a backend failure; Open resumes it).
// st counts batches and keys.
func (s *Store) compactBackend(b *backend.Backend, rev int64, keep map[Revision]struct{}, stop <-chan struct{}, st *CompactionStats) bool {
	end := RevBytes(Revision{Main: rev + 1}, false)
	last := RevBytes(Revision{}, false)
	limit := s.cfg.CompactionBatchLimit
	tx := b.BatchTx()
	for batch := 1; ; batch++ {
		start := s.cfg.Clock.Now()
		tx.Lock()
		var dels [][]byte
		var lastRev Revision
		n := 0
		var perr error
		err := tx.UnsafeScan(KeyBucket(), last, end, limit, func(k, _ []byte) bool {
			n++
			r, _, err := ParseRevBytes(k)
			if err != nil {
				perr = err
				return false
			}
			lastRev = r
			if _, ok := keep[r]; !ok {
				dels = append(dels, append([]byte(nil), k...))
			}
			return true
		})
		if err == nil {
			err = perr
		}
		if err != nil {
			tx.Unlock()
			return false
		}
		for _, k := range dels {
			tx.UnsafeDelete(KeyBucket(), k)
		}
		st.Batches = batch
		st.KeysScanned += int64(n)
		st.KeysDeleted += int64(len(dels))
		if n < limit {
			tx.UnsafePut(MetaBucket(), []byte(MetaFinishedCompactRev), RevBytes(Revision{Main: rev}, false))
			tx.Unlock() // commits at once when something was deleted
			st.Pauses = append(st.Pauses, s.cfg.Clock.Since(start))
			return true
		}
		tx.Unlock()
		if err := b.ForceCommit(); err != nil {
			return false
		}
		st.Pauses = append(st.Pauses, s.cfg.Clock.Since(start))
		last = RevBytes(Revision{Main: lastRev.Main, Sub: lastRev.Sub + 1}, false)
		if s.compactBatchHook != nil && !s.compactBatchHook(batch) {
			return false
		}
		t := s.cfg.Clock.NewTimer(s.cfg.CompactionSleepInterval)
		select {
		case <-t.C():
		case <-stop:
			t.Stop()
			return false
		}
	}
}

// KeyValueHash is the result of HashByRev, as etcd's.
type KeyValueHash struct {
	Hash            uint32
	CompactRevision int64
	Revision        int64
}

// HashByRev hashes the key bucket as etcd's HashKV: CRC-32C over the bucket
// name and every entry with revision ≤ rev, skipping entries a compaction
// at the current compaction revision would remove (and a tombstone exactly at
// it, as etcd does for compatibility). The same history gives the same hash
// on any engine. rev 0 means the current revision. It also returns the
// store's current revision.
func (s *Store) HashByRev(rev int64) (KeyValueHash, int64, error) {
	if s.closed.Load() {
		return KeyValueHash{}, 0, ErrClosed
	}
	if err := s.rlock(); err != nil {
		return KeyValueHash{}, 0, err
	}
	s.revMu.RLock()
	compactRev, currentRev := s.compactMainRev, s.currentRev
	s.revMu.RUnlock()
	if rev > 0 && rev < compactRev {
		s.mu.RUnlock()
		return KeyValueHash{}, 0, fmt.Errorf("%w: hash at revision %d, compacted at %d", ErrCompacted, rev, compactRev)
	}
	if rev > currentRev {
		s.mu.RUnlock()
		return KeyValueHash{}, 0, fmt.Errorf("%w: hash at revision %d, current %d", ErrFutureRev, rev, currentRev)
	}
	if rev <= 0 {
		rev = currentRev
	}
	keep := s.idx.Keep(rev)
	tx := s.b.ReadTx()
	defer tx.Close()
	s.mu.RUnlock()

	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	h.Write([]byte(KeyBucket().Name))
	upper := Revision{Main: rev + 1}
	lower := Revision{Main: compactRev + 1}
	var perr error
	err := tx.Scan(KeyBucket(), RevBytes(Revision{}, false), RevBytes(upper, false), 0, func(k, v []byte) bool {
		kr, tomb, err := ParseRevBytes(k)
		if err != nil {
			perr = err
			return false
		}
		if !upper.GreaterThan(kr) {
			return true
		}
		if lower.GreaterThan(kr) && len(keep) > 0 {
			if _, ok := keep[kr]; !ok {
				return true
			}
		}
		if kr.Main == compactRev && tomb {
			return true
		}
		h.Write(k)
		h.Write(v)
		return true
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return KeyValueHash{}, 0, fmt.Errorf("mvcc: hashing the key bucket: %w", err)
	}
	return KeyValueHash{Hash: h.Sum32(), CompactRevision: compactRev, Revision: rev}, currentRev, nil
}
