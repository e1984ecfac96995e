package mvcc

import (
	"bytes"
	"fmt"
	"strings"
)

// keyIndex holds the revisions of one key as generations. A generation is one
// lifetime of the key, from its creation to its tombstone; the last generation
// is the open one, and an empty last generation means the key is absent now.
//
// Example: put@1, put@2, del@3, put@4, del@5 gives {1,2,3t} {4,5t} {}.
//
// The key slice is owned by the keyIndex and never modified.
type keyIndex struct {
	key         []byte
	modified    Revision // the last revision that changed the key
	generations []generation
}

// generation is one lifetime of a key. ver counts the changes in the whole
// lifetime, including those compaction removed from revs, so that versions of
// the surviving revisions stay right; created is the first revision.
type generation struct {
	ver     int64
	created Revision
	revs    []Revision
}

func (g *generation) isEmpty() bool { return g == nil || len(g.revs) == 0 }

// walk visits revs newest first while f returns true and returns the index of
// the revision where f returned false, or -1.
func (g *generation) walk(f func(rev Revision) bool) int {
	for i := len(g.revs) - 1; i >= 0; i-- {
		if !f(g.revs[i]) {
			return i
		}
	}
	return -1
}

// put records a change of the key at rev, which must follow every earlier one.
func (ki *keyIndex) put(rev Revision) error {
	if !rev.GreaterThan(ki.modified) {
		return fmt.Errorf("mvcc: put of key %q at revision %v not after its last change %v", ki.key, rev, ki.modified)
	}
	if len(ki.generations) == 0 {
		ki.generations = append(ki.generations, generation{})
	}
	g := &ki.generations[len(ki.generations)-1]
	if len(g.revs) == 0 {
		g.created = rev
	}
	g.revs = append(g.revs, rev)
	g.ver++
	ki.modified = rev
	return nil
}

// restore starts the keyIndex from a stored record: created and ver come from
// the record, because compaction may have removed the history that would let
// them be inferred.
func (ki *keyIndex) restore(created, modified Revision, ver int64) {
	ki.modified = modified
	ki.generations = append(ki.generations[:0], generation{created: created, ver: ver, revs: []Revision{modified}})
}

// restoreTombstone starts the keyIndex from a stored tombstone, the only record
// left of a generation whose earlier revisions were compacted: a closed
// generation holding the tombstone, then an empty one.
func (ki *keyIndex) restoreTombstone(rev Revision) {
	ki.modified = rev
	ki.generations = append(ki.generations[:0], generation{created: rev, ver: 1, revs: []Revision{rev}}, generation{})
}

// tombstone records the deletion of the key at rev and opens a new, empty
// generation. Deleting an absent key is ErrRevisionNotFound.
func (ki *keyIndex) tombstone(rev Revision) error {
	if ki.isEmpty() || ki.generations[len(ki.generations)-1].isEmpty() {
		return ErrRevisionNotFound
	}
	if err := ki.put(rev); err != nil {
		return err
	}
	ki.generations = append(ki.generations, generation{})
	return nil
}

// get returns the revision of the key live at atRev, the revision that
// created that lifetime and its version. It never returns a tombstone.
func (ki *keyIndex) get(atRev int64) (modified, created Revision, ver int64, err error) {
	g := ki.findGeneration(atRev)
	if g.isEmpty() {
		return Revision{}, Revision{}, 0, ErrRevisionNotFound
	}
	n := g.walk(func(rev Revision) bool { return rev.Main > atRev })
	if n != -1 {
		return g.revs[n], g.created, g.ver - int64(len(g.revs)-n-1), nil
	}
	return Revision{}, Revision{}, 0, ErrRevisionNotFound
}

// findGeneration returns the generation live at rev, or nil when the key was
// absent (never created yet, or deleted at or before rev).
func (ki *keyIndex) findGeneration(rev int64) *generation {
	last := len(ki.generations) - 1
	for cg := last; cg >= 0; cg-- {
		g := &ki.generations[cg]
		if len(g.revs) == 0 {
			continue
		}
		if cg != last {
			if tomb := g.revs[len(g.revs)-1].Main; tomb <= rev {
				return nil
			}
		}
		if g.revs[0].Main <= rev {
			return g
		}
	}
	return nil
}

// compact drops what no read at atRev or later needs: generations whose
// tombstone is older than atRev and, in the first surviving generation, every
// revision older than the newest one at or before atRev. The revisions that
// must stay in the backend are added to available. A tombstone exactly at
// atRev is kept (etcd > 3.5.15), so a compaction never drops a revision that a
// read at atRev can observe as a deletion; the next compaction removes it.
func (ki *keyIndex) compact(atRev int64, available map[Revision]struct{}) {
	if ki.isEmpty() {
		return
	}
	genIdx, revIndex := ki.doCompact(atRev, available)
	g := &ki.generations[genIdx]
	if !g.isEmpty() && revIndex != -1 {
		g.revs = append(g.revs[:0:0], g.revs[revIndex:]...)
	}
	if genIdx > 0 {
		ki.generations = append(ki.generations[:0:0], ki.generations[genIdx:]...)
	}
}

// keep adds to available what compact(atRev) would keep, without changing the
// keyIndex. Unlike compact it leaves out a tombstone exactly at atRev, as
// etcd's hash does, so hashes agree with etcd versions that drop it.
func (ki *keyIndex) keep(atRev int64, available map[Revision]struct{}) {
	if ki.isEmpty() {
		return
	}
	genIdx, revIndex := ki.doCompact(atRev, available)
	g := &ki.generations[genIdx]
	if !g.isEmpty() && revIndex == len(g.revs)-1 && genIdx != len(ki.generations)-1 {
		delete(available, g.revs[revIndex])
	}
}

func (ki *keyIndex) doCompact(atRev int64, available map[Revision]struct{}) (genIdx int, revIndex int) {
	f := func(rev Revision) bool {
		if rev.Main <= atRev {
			available[rev] = struct{}{}
			return false
		}
		return true
	}
	g := &ki.generations[0]
	// The first generation that is still open at atRev or born after it.
	for genIdx < len(ki.generations)-1 {
		if tomb := g.revs[len(g.revs)-1].Main; tomb >= atRev {
			break
		}
		genIdx++
		g = &ki.generations[genIdx]
	}
	return genIdx, g.walk(f)
}

// isEmpty: no generation, or only one empty generation (nothing left to read).
func (ki *keyIndex) isEmpty() bool {
	return len(ki.generations) == 0 || (len(ki.generations) == 1 && ki.generations[0].isEmpty())
}

func (ki *keyIndex) less(o *keyIndex) bool { return bytes.Compare(ki.key, o.key) < 0 }

// String renders the generations as in etcd-reference.md: {1.0,2.0,3.0t} {}.
func (ki *keyIndex) String() string {
	var sb strings.Builder
	for i, g := range ki.generations {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteByte('{')
		for j, r := range g.revs {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(r.String())
			if j == len(g.revs)-1 && i != len(ki.generations)-1 {
				sb.WriteByte('t')
			}
		}
		sb.WriteByte('}')
		if len(g.revs) > 0 {
			fmt.Fprintf(&sb, "(ver=%d,created=%v)", g.ver, g.created)
		}
	}
	return sb.String()
}
