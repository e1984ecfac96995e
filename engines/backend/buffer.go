package backend

import (
	"bytes"

	"github.com/google/btree"

	"etcdlab/engines/engine"
)

// item is one buffered write. Keys and values are owned by the buffer and
// never modified, so a cloned tree can share them.
type item struct {
	key, value []byte
	tombstone  bool
}

func itemLess(a, b item) bool { return bytes.Compare(a.key, b.key) < 0 }

type tree = btree.BTreeG[item]

func newTree() *tree { return btree.NewG[item](16, itemLess) }

// keyRange is a pending DeleteRange [start, end); a nil end is unbounded.
type keyRange struct{ start, end []byte }

func (r keyRange) contains(k []byte) bool {
	return bytes.Compare(k, r.start) >= 0 && (r.end == nil || bytes.Compare(k, r.end) < 0)
}

// overlay is what a view adds on top of an engine view: buffered puts and
// tombstones per bucket, and pending range deletions. Readers' overlays hold
// only puts (a write txn that deletes is committed before it ends); the
// writer's overlay holds everything pending.
type overlay struct {
	trees  map[byte]*tree
	ranges map[byte][]keyRange
}

func (o *overlay) tree(b engine.Bucket) *tree {
	if o == nil || o.trees == nil {
		return nil
	}
	return o.trees[b.ID]
}

// hidden reports whether key k of the engine view is hidden by a pending
// range deletion (and not re-put since: a re-put lives in the tree, which is
// consulted first).
func (o *overlay) hidden(b engine.Bucket, k []byte) bool {
	if o == nil {
		return false
	}
	for _, r := range o.ranges[b.ID] {
		if r.contains(k) {
			return true
		}
	}
	return false
}

// get looks key up in the overlay, falling back to the engine view.
func (o *overlay) get(v engine.View, b engine.Bucket, key []byte) ([]byte, error) {
	if t := o.tree(b); t != nil {
		if it, ok := t.Get(item{key: key}); ok {
			if it.tombstone {
				return nil, engine.ErrNotFound
			}
			return it.value, nil
		}
	}
	if o.hidden(b, key) {
		return nil, engine.ErrNotFound
	}
	return v.Get(b, key)
}

// scan merges the overlay with the engine view over [start, end) in key
// order, the overlay winning on equal keys, calling fn for at most limit live
// keys (limit <= 0: no limit).
func (o *overlay) scan(v engine.View, b engine.Bucket, start, end []byte, limit int,
	fn func(k, val []byte) bool) error {
	t := o.tree(b)
	if t == nil && len(o.rangesOf(b)) == 0 {
		return v.Scan(b, start, end, limit, fn)
	}
	// Collect the buffered items in range, stopping after limit live ones:
	// when the engine scan passes the last collected key, limit keys have
	// already been emitted, so nothing beyond it can be needed.
	var buf []item
	if t != nil {
		live := 0
		visit := func(it item) bool {
			if end != nil && bytes.Compare(it.key, end) >= 0 {
				return false
			}
			buf = append(buf, it)
			if !it.tombstone {
				live++
			}
			return limit <= 0 || live < limit
		}
		t.AscendGreaterOrEqual(item{key: start}, visit)
	}
	emitted, i, stopped := 0, 0, false
	emit := func(k, val []byte) bool {
		emitted++
		if !fn(k, val) || (limit > 0 && emitted >= limit) {
			stopped = true
		}
		return !stopped
	}
	// flushBelow emits buffered live items with keys < k (all when k is nil).
	flushBelow := func(k []byte) bool {
		for ; i < len(buf); i++ {
			if k != nil && bytes.Compare(buf[i].key, k) >= 0 {
				return true
			}
			if !buf[i].tombstone && !emit(buf[i].key, buf[i].value) {
				i++
				return false
			}
		}
		return true
	}
	err := v.Scan(b, start, end, 0, func(k, val []byte) bool {
		if !flushBelow(k) {
			return false
		}
		if i < len(buf) && bytes.Equal(buf[i].key, k) {
			it := buf[i]
			i++
			if it.tombstone {
				return true
			}
			return emit(it.key, it.value)
		}
		if o.hidden(b, k) {
			return true
		}
		return emit(k, val)
	})
	if err != nil || stopped {
		return err
	}
	flushBelow(nil)
	return nil
}

func (o *overlay) rangesOf(b engine.Bucket) []keyRange {
	if o == nil {
		return nil
	}
	return o.ranges[b.ID]
}
