package mvcc

import (
	"bytes"
	"sync"

	"github.com/google/btree"
)

// indexDegree is etcd's B-tree degree for the key index.
const indexDegree = 32

// treeIndex maps each key to its keyIndex in a B-tree ordered by bytes.Compare,
// under one RWMutex, as etcd's index.go.
//
// Ranges: end == nil is a point lookup of key; otherwise [key, end), and an
// empty (non-nil) end means no upper bound.
type treeIndex struct {
	mu   sync.RWMutex
	tree *btree.BTreeG[*keyIndex]
	// probe is a lookup key reused by writers under the write lock: a probe
	// on the stack would escape through the tree's comparison function and
	// cost an allocation per write.
	probe keyIndex
}

// lookupLocked finds key's keyIndex; the write lock is held.
func (ti *treeIndex) lookupLocked(key []byte) (*keyIndex, bool) {
	ti.probe.key = key
	ki, ok := ti.tree.Get(&ti.probe)
	ti.probe.key = nil
	return ki, ok
}

func newTreeIndex() *treeIndex {
	return &treeIndex{tree: btree.NewG(indexDegree, (*keyIndex).less)}
}

// Put records a change of key at rev and returns the creation revision and
// version of the key's live generation after the change. A new key is copied
// into the index.
func (ti *treeIndex) Put(key []byte, rev Revision) (created Revision, ver int64, err error) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ki, ok := ti.lookupLocked(key)
	if !ok {
		ki = &keyIndex{key: bytes.Clone(key)}
	}
	if err := ki.put(rev); err != nil {
		return Revision{}, 0, err
	}
	if !ok {
		ti.tree.ReplaceOrInsert(ki)
	}
	g := &ki.generations[len(ki.generations)-1]
	return g.created, g.ver, nil
}

// Tombstone records the deletion of key at rev; ErrRevisionNotFound when the
// key is absent.
func (ti *treeIndex) Tombstone(key []byte, rev Revision) error {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ki, ok := ti.lookupLocked(key)
	if !ok {
		return ErrRevisionNotFound
	}
	return ki.tombstone(rev)
}

// Get returns the live revision of key at atRev, its creation revision and
// version.
func (ti *treeIndex) Get(key []byte, atRev int64) (modified, created Revision, ver int64, err error) {
	probe := keyIndex{key: key}
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	ki, ok := ti.tree.Get(&probe)
	if !ok {
		return Revision{}, Revision{}, 0, ErrRevisionNotFound
	}
	return ki.get(atRev)
}

// visit calls f for each keyIndex in [key, end) in key order until f returns
// false. The lock is held by the caller.
func (ti *treeIndex) visit(key, end []byte, f func(ki *keyIndex) bool) {
	probe := &keyIndex{key: key}
	ti.tree.AscendGreaterOrEqual(probe, func(ki *keyIndex) bool {
		if len(end) > 0 && bytes.Compare(ki.key, end) >= 0 {
			return false
		}
		return f(ki)
	})
}

// Revisions returns the live revisions at atRev of the keys in the range, at
// most limit of them when limit > 0, and the total number of live keys.
func (ti *treeIndex) Revisions(key, end []byte, atRev int64, limit int) (revs []Revision, total int) {
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	if end == nil {
		ki, ok := ti.tree.Get(&keyIndex{key: key})
		if !ok {
			return nil, 0
		}
		rev, _, _, err := ki.get(atRev)
		if err != nil {
			return nil, 0
		}
		return []Revision{rev}, 1
	}
	ti.visit(key, end, func(ki *keyIndex) bool {
		if rev, _, _, err := ki.get(atRev); err == nil {
			if limit <= 0 || len(revs) < limit {
				revs = append(revs, rev)
			}
			total++
		}
		return true
	})
	return revs, total
}

// CountRevisions is the number of live keys in the range at atRev.
func (ti *treeIndex) CountRevisions(key, end []byte, atRev int64) int {
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	if end == nil {
		ki, ok := ti.tree.Get(&keyIndex{key: key})
		if !ok {
			return 0
		}
		if _, _, _, err := ki.get(atRev); err != nil {
			return 0
		}
		return 1
	}
	total := 0
	ti.visit(key, end, func(ki *keyIndex) bool {
		if _, _, _, err := ki.get(atRev); err == nil {
			total++
		}
		return true
	})
	return total
}

// Range returns the live keys in the range at atRev and their revisions.
// The keys are the index's own slices: callers must not modify them.
func (ti *treeIndex) Range(key, end []byte, atRev int64) (keys [][]byte, revs []Revision) {
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	if end == nil {
		ki, ok := ti.tree.Get(&keyIndex{key: key})
		if !ok {
			return nil, nil
		}
		rev, _, _, err := ki.get(atRev)
		if err != nil {
			return nil, nil
		}
		return [][]byte{ki.key}, []Revision{rev}
	}
	ti.visit(key, end, func(ki *keyIndex) bool {
		if rev, _, _, err := ki.get(atRev); err == nil {
			keys = append(keys, ki.key)
			revs = append(revs, rev)
		}
		return true
	})
	return keys, revs
}

// Compact compacts every keyIndex at rev and returns the revisions the backend
// must keep. The tree is cloned (copy-on-write) under the lock, then the clone
// is walked taking the write lock for one key at a time, so readers and
// writers wait for one key, not for the whole compaction.
func (ti *treeIndex) Compact(rev int64) map[Revision]struct{} {
	available := make(map[Revision]struct{})
	ti.mu.Lock()
	clone := ti.tree.Clone()
	ti.mu.Unlock()
	clone.Ascend(func(ki *keyIndex) bool {
		ti.mu.Lock()
		ki.compact(rev, available)
		if ki.isEmpty() {
			ti.tree.Delete(ki)
		}
		ti.mu.Unlock()
		return true
	})
	return available
}

// Keep returns the revisions a compaction at rev would keep, without
// compacting (used by the hash).
func (ti *treeIndex) Keep(rev int64) map[Revision]struct{} {
	available := make(map[Revision]struct{})
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	ti.tree.Ascend(func(ki *keyIndex) bool {
		ki.keep(rev, available)
		return true
	})
	return available
}

// Len is the number of keyIndexes in the tree.
func (ti *treeIndex) Len() int {
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	return ti.tree.Len()
}

// insert adds a keyIndex built by restore.
func (ti *treeIndex) insert(ki *keyIndex) {
	ti.mu.Lock()
	ti.tree.ReplaceOrInsert(ki)
	ti.mu.Unlock()
}
