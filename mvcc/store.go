package mvcc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"etcdlab/engines/backend"
	"etcdlab/engines/engine"
)

// Store is etcd's MVCC key-value store over a backend. All methods are safe
// for concurrent use; writers are serialized by the backend's BatchTx.
type Store struct {
	cfg Config
	b   *backend.Backend
	idx *treeIndex

	// mu: write txns and reads hold it shared; Compact and Hash hold it
	// exclusively while they move or read the compaction revision, so that a
	// compaction is scheduled between txns, as etcd's store.mu.
	mu sync.RWMutex
	// revMu guards currentRev and compactMainRev. A writer bumps currentRev
	// and ends its BatchTx under revMu, and readers open their backend view
	// under revMu, so a reader at currentRev sees exactly that revision.
	revMu          sync.RWMutex
	currentRev     int64
	compactMainRev int64

	// Consistent index and term: applying* is staged by SetApplyingIndex and
	// adopted by the next write txn once it holds the BatchTx lock, so a
	// backend commit never carries an index without its entry's data.
	ciIndex, ciTerm               atomic.Uint64
	applyingIndex, applyingTerm   atomic.Uint64
	persistedIndex, persistedTerm uint64 // under the BatchTx lock

	restoreDuration time.Duration

	// Background compactions run one after the other: each waits for the
	// previous one's done channel. compactStop (replaced under mu by
	// Restore) stops them; stop ends the store's other loops at Close.
	compactMu   sync.Mutex
	lastCompact chan struct{}
	compactWG   sync.WaitGroup
	compactStop chan struct{}
	stop        chan struct{}
	closed      atomic.Bool

	// watch is the watchable store: watcher groups and their loops.
	watch    watchState
	watchErr atomic.Pointer[error]

	// compactBatchHook, for tests, is called after each committed compaction
	// batch but the last; returning false stops the compaction there, as a
	// crash between batches would.
	compactBatchHook func(batch int) bool
}

// Open builds a store over b, restoring the index from b's key bucket and
// resuming an unfinished compaction. The store installs b's pre-commit hook;
// Close closes b.
func Open(b *backend.Backend, cfg Config) (*Store, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:            cfg,
		b:              b,
		idx:            newTreeIndex(),
		currentRev:     1,
		compactMainRev: -1,
		compactStop:    make(chan struct{}),
		stop:           make(chan struct{}),
	}
	s.watch.init()
	done := make(chan struct{})
	close(done)
	s.lastCompact = done
	start := cfg.Clock.Now()
	scheduled, err := s.restore()
	if err != nil {
		return nil, err
	}
	s.restoreDuration = cfg.Clock.Since(start)
	b.SetPreCommitHook(s.preCommit)
	if scheduled > 0 {
		// Resume: reads below the scheduled revision already failed before
		// the crash; they fail again now.
		s.compactMainRev = scheduled
		s.startCompaction(scheduled)
	}
	return s, nil
}

// preCommit writes the consistent index and term into the commit that
// carries the data of the entries up to it (etcd #13766). It runs with the
// BatchTx lock held; it writes only when they changed, so an idle backend does
// not commit.
func (s *Store) preCommit(tx *backend.BatchTx) {
	idx, term := s.ciIndex.Load(), s.ciTerm.Load()
	if idx == 0 || (idx == s.persistedIndex && term == s.persistedTerm) {
		return
	}
	tx.UnsafePut(MetaBucket(), []byte(MetaConsistentIndex), binary.BigEndian.AppendUint64(nil, idx))
	tx.UnsafePut(MetaBucket(), []byte(MetaTerm), binary.BigEndian.AppendUint64(nil, term))
	s.persistedIndex, s.persistedTerm = idx, term
}

func (s *Store) restore() (scheduled int64, err error) {
	rtx := s.b.ReadTx()
	defer rtx.Close()

	if s.compactMainRev, err = readMetaRev(rtx, MetaFinishedCompactRev, -1); err != nil {
		return 0, err
	}
	if scheduled, err = readMetaRev(rtx, MetaScheduledCompactRev, 0); err != nil {
		return 0, err
	}
	for _, k := range []string{MetaConsistentIndex, MetaTerm} {
		v, err := rtx.Get(MetaBucket(), []byte(k))
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("mvcc: reading meta %s: %w", k, err)
		}
		if len(v) != 8 {
			return 0, fmt.Errorf("%w: meta %s is %d bytes, want 8", ErrCorrupt, k, len(v))
		}
		if k == MetaConsistentIndex {
			s.ciIndex.Store(binary.BigEndian.Uint64(v))
		} else {
			s.ciTerm.Store(binary.BigEndian.Uint64(v))
		}
	}
	s.persistedIndex, s.persistedTerm = s.ciIndex.Load(), s.ciTerm.Load()

	// Rebuild the index from the stored records, in revision order. create
	// and version come from each first record of a key, because compaction
	// may have removed the history they would be inferred from.
	cache := make(map[string]*keyIndex)
	// keyLeases: the lease of each live key, for the lessor (etcd's
	// restoreIntoIndex keyToLease).
	var keyLeases map[string]int64
	if s.cfg.Lessor != nil {
		keyLeases = map[string]int64{}
	}
	var kv mvccpb.KeyValue
	var last Revision
	start := RevBytes(Revision{Main: 1}, false)
	for {
		n := 0
		var ierr error
		serr := rtx.Scan(KeyBucket(), start, nil, s.cfg.RestoreChunkKeys, func(k, v []byte) bool {
			n++
			ierr = s.restoreRecord(cache, &kv, k, v)
			if ierr != nil {
				return false
			}
			var tomb bool
			last, tomb, _ = ParseRevBytes(k)
			if keyLeases != nil {
				if tomb || kv.Lease == 0 {
					delete(keyLeases, string(kv.Key))
				} else {
					keyLeases[string(kv.Key)] = kv.Lease
				}
			}
			return true
		})
		if ierr != nil {
			return 0, ierr
		}
		if serr != nil {
			return 0, fmt.Errorf("mvcc: scanning the key bucket: %w", serr)
		}
		if n < s.cfg.RestoreChunkKeys {
			break
		}
		start = RevBytes(Revision{Main: last.Main, Sub: last.Sub + 1}, false)
	}
	for k, id := range keyLeases {
		s.cfg.Lessor.Attach(id, []byte(k))
	}
	// The revision never goes backwards, even when compaction removed the
	// newest records or crashed before recording that it finished (#17780).
	s.currentRev = max(1, last.Main, s.compactMainRev, scheduled)
	if scheduled <= s.compactMainRev {
		scheduled = 0
	}
	return scheduled, nil
}

func (s *Store) restoreRecord(cache map[string]*keyIndex, kv *mvccpb.KeyValue, k, v []byte) error {
	rev, tomb, err := ParseRevBytes(k)
	if err != nil {
		return fmt.Errorf("mvcc: restoring the key bucket: %w", err)
	}
	// Unmarshal leaves fields absent from the record untouched: clear them,
	// keeping the buffers for reuse.
	*kv = mvccpb.KeyValue{Key: kv.Key[:0], Value: kv.Value[:0]}
	if err := kv.Unmarshal(v); err != nil {
		return fmt.Errorf("%w: record at revision %v does not decode as a KeyValue: %v", ErrCorrupt, rev, err)
	}
	if len(kv.Key) == 0 {
		return fmt.Errorf("%w: record at revision %v has an empty key", ErrCorrupt, rev)
	}
	if !tomb && (kv.ModRevision != rev.Main || kv.Version < 1 || kv.CreateRevision < 1 || kv.CreateRevision > rev.Main) {
		return fmt.Errorf("%w: record at revision %v has mod_revision %d, create_revision %d, version %d",
			ErrCorrupt, rev, kv.ModRevision, kv.CreateRevision, kv.Version)
	}
	ki, ok := cache[string(kv.Key)]
	if ok {
		if tomb {
			err = ki.tombstone(rev)
		} else {
			err = ki.put(rev)
		}
		if err != nil && !errors.Is(err, ErrRevisionNotFound) {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil
	}
	ki = &keyIndex{key: append([]byte(nil), kv.Key...)}
	if tomb {
		ki.restoreTombstone(rev)
	} else {
		ki.restore(Revision{Main: kv.CreateRevision}, rev, kv.Version)
	}
	s.idx.insert(ki)
	cache[string(ki.key)] = ki
	return nil
}

func readMetaRev(rtx *backend.ReadTx, key string, absent int64) (int64, error) {
	v, err := rtx.Get(MetaBucket(), []byte(key))
	if errors.Is(err, engine.ErrNotFound) {
		return absent, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mvcc: reading meta %s: %w", key, err)
	}
	rev, tomb, err := ParseRevBytes(v)
	if err != nil || tomb {
		return 0, fmt.Errorf("%w: meta %s holds %x, not a revision", ErrCorrupt, key, v)
	}
	return rev.Main, nil
}

// rlock takes the store's shared lock, or fails once Close has begun (Close
// sets closed before it takes the lock exclusively, so no op starts on a
// closed backend).
func (s *Store) rlock() error {
	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Rev is the store's current revision.
func (s *Store) Rev() int64 {
	s.revMu.RLock()
	defer s.revMu.RUnlock()
	return s.currentRev
}

// CompactRev is the revision of the last compaction, -1 if none.
func (s *Store) CompactRev() int64 {
	s.revMu.RLock()
	defer s.revMu.RUnlock()
	return s.compactMainRev
}

// Keys is the number of keys in the index, tombstoned ones included until a
// compaction removes them (metrics read it at scrape time).
func (s *Store) Keys() int { return s.idx.Len() }

// RestoreDuration is how long Open took to rebuild the index.
func (s *Store) RestoreDuration() time.Duration { return s.restoreDuration }

// Backend returns the backend the store writes to.
func (s *Store) Backend() *backend.Backend { return s.b }

// ConsistentIndex returns the index and term of the last applied entry, as
// persisted or about to be persisted with its data.
func (s *Store) ConsistentIndex() (index, term uint64) { return s.ciIndex.Load(), s.ciTerm.Load() }

// SetApplyingIndex stages the index and term of the entry about to be
// applied. The next write (Put, DeleteRange, mutating Txn) adopts it once it
// holds the backend's write lock, so the index reaches the backend in the same
// commit as the entry's data and never before it. For an entry that writes
// nothing to the store, call SetConsistentIndex instead.
func (s *Store) SetApplyingIndex(index, term uint64) {
	s.applyingIndex.Store(index)
	s.applyingTerm.Store(term)
}

// SetConsistentIndex records index and term as applied at once, for entries
// that write nothing to the store (reads, failed validations, conf changes).
func (s *Store) SetConsistentIndex(index, term uint64) {
	tx := s.b.BatchTx()
	tx.Lock()
	s.ciIndex.Store(index)
	s.ciTerm.Store(term)
	s.applyingIndex.Store(index)
	s.applyingTerm.Store(term)
	tx.Unlock()
}

// AdoptApplying makes the index staged by SetApplyingIndex the consistent
// index, so that it reaches the backend in the commit that carries what the
// caller writes under the BatchTx lock it holds (etcd's
// txPostLockInsideApplyHook). Write txns of the store do it themselves; it
// is for writers of other buckets while an entry applies (the lessor's
// Grant). Call it with the backend's BatchTx lock held.
func (s *Store) AdoptApplying() { s.adoptApplying() }

// adoptApplying runs at the start of a write txn, with the BatchTx lock held.
func (s *Store) adoptApplying() {
	if a := s.applyingIndex.Load(); a > s.ciIndex.Load() {
		s.ciIndex.Store(a)
		s.ciTerm.Store(s.applyingTerm.Load())
	}
}

// Commit forces a backend commit of everything applied so far.
func (s *Store) Commit() error { return s.b.ForceCommit() }

// Close stops background compaction (an unfinished one resumes on the next
// Open), commits what is pending and closes the backend.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	close(s.stop)
	s.mu.Lock() // wait for txns in flight (and a Restore)
	defer s.mu.Unlock()
	close(s.compactStop)
	s.compactWG.Wait()
	s.watch.loopsWG.Wait()
	return s.b.Close()
}

// Restore replaces the store's backend, as etcd's watchableStore.Restore
// does when a snapshot from the leader is installed: with every txn and read
// excluded and background compaction stopped, open is called with the old
// backend and must close it (its directory may be reused) and return the
// new one, with any lease manager already recovered from it (etcd recovers
// the lessor before the store, so that keys attach to the new leases). The
// index, revisions, consistent index and an unfinished compaction are then
// restored from the new backend, as Open does, and every synced watcher
// becomes unsynced: it catches up from the new backend by the usual sync, so
// watch streams stay open across the swap and miss nothing the new backend
// holds. If open fails, the store is left over the old backend, which open
// may have closed: the caller must treat the store as broken.
func (s *Store) Restore(open func(old *backend.Backend) (*backend.Backend, error)) error {
	if err := s.rlock(); err != nil {
		return err
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	close(s.compactStop)
	s.compactWG.Wait()
	s.compactStop = make(chan struct{})
	// The sync loop reads the backend under the watch lock: hold it across
	// the swap. No writer holds the BatchTx lock here (they hold mu shared),
	// so taking the watch lock before open's commits cannot deadlock.
	ws := &s.watch
	ws.mu.Lock()
	defer ws.mu.Unlock()
	nb, err := open(s.b)
	if err != nil {
		return fmt.Errorf("mvcc: restore: opening the new backend: %w", err)
	}
	start := s.cfg.Clock.Now()
	s.b = nb
	s.idx = newTreeIndex()
	s.ciIndex.Store(0)
	s.ciTerm.Store(0)
	s.applyingIndex.Store(0)
	s.applyingTerm.Store(0)
	// Rev and CompactRev read the revisions under revMu alone.
	s.revMu.Lock()
	s.currentRev, s.compactMainRev = 1, -1
	scheduled, err := s.restore()
	s.revMu.Unlock()
	if err != nil {
		return err
	}
	s.restoreDuration = s.cfg.Clock.Since(start)
	nb.SetPreCommitHook(s.preCommit)
	if scheduled > 0 {
		s.revMu.Lock()
		s.compactMainRev = scheduled
		s.revMu.Unlock()
		s.startCompaction(scheduled)
	}
	for w := range ws.synced.watchers {
		ws.unsynced.add(w)
	}
	ws.synced = newWatcherGroup()
	return nil
}
