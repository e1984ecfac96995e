package mvcc

import (
	"bytes"
	"errors"
	"sort"
	"testing"
)

func TestRevBytesRoundTripAndOrder(t *testing.T) {
	revs := []Revision{{0, 0}, {1, 0}, {1, 1}, {2, 0}, {255, 7}, {256, 0}, {1 << 40, 1 << 20}, {1<<63 - 1, 1<<63 - 1}}
	var enc [][]byte
	for _, r := range revs {
		for _, tomb := range []bool{false, true} {
			b := RevBytes(r, tomb)
			want := RevBytesLen
			if tomb {
				want = MarkedRevBytesLen
			}
			if len(b) != want {
				t.Fatalf("%v tomb=%t: %d bytes, want %d", r, tomb, len(b), want)
			}
			got, gotTomb, err := ParseRevBytes(b)
			if err != nil || got != r || gotTomb != tomb {
				t.Fatalf("%v tomb=%t: decoded %v %t %v", r, tomb, got, gotTomb, err)
			}
		}
		enc = append(enc, RevBytes(r, false))
	}
	// Byte order is revision order, so the key bucket is a time-ordered log.
	if !sort.SliceIsSorted(enc, func(i, j int) bool { return bytes.Compare(enc[i], enc[j]) < 0 }) {
		t.Fatal("encoded revisions are not in revision order")
	}
	// A tombstone key sorts after its plain key and before the next sub.
	if !(bytes.Compare(RevBytes(Revision{3, 1}, false), RevBytes(Revision{3, 1}, true)) < 0 &&
		bytes.Compare(RevBytes(Revision{3, 1}, true), RevBytes(Revision{3, 2}, false)) < 0) {
		t.Fatal("tombstone key out of order")
	}
}

func TestParseRevBytesRejects(t *testing.T) {
	good := RevBytes(Revision{5, 1}, false)
	bad := func(mut func(b []byte) []byte) []byte { return mut(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"empty":         nil,
		"short":         good[:16],
		"long":          append(RevBytes(Revision{5, 1}, true), 't'),
		"18 without t":  append(append([]byte(nil), good...), 'x'),
		"no separator":  bad(func(b []byte) []byte { b[8] = '-'; return b }),
		"negative main": bad(func(b []byte) []byte { b[0] = 0x80; return b }),
		"negative sub":  bad(func(b []byte) []byte { b[9] = 0xff; return b }),
	} {
		if _, _, err := ParseRevBytes(b); !errors.Is(err, ErrBadRevision) {
			t.Errorf("%s (%x): err %v, want ErrBadRevision", name, b, err)
		}
	}
}

func TestTreeIndexRanges(t *testing.T) {
	ti := newTreeIndex()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// rev 2: a, 3: b, 4: c, 5: del b, 6: d, 7: a again
	must(idxPut(ti, []byte("a"), Revision{2, 0}))
	must(idxPut(ti, []byte("b"), Revision{3, 0}))
	must(idxPut(ti, []byte("c"), Revision{4, 0}))
	must(ti.Tombstone([]byte("b"), Revision{5, 0}))
	must(idxPut(ti, []byte("d"), Revision{6, 0}))
	must(idxPut(ti, []byte("a"), Revision{7, 0}))
	if err := ti.Tombstone([]byte("zz"), Revision{8, 0}); !errors.Is(err, ErrRevisionNotFound) {
		t.Fatalf("tombstone of an absent key: %v", err)
	}
	for _, tc := range []struct {
		key, end string
		nilEnd   bool
		rev      int64
		limit    int
		want     []Revision
		total    int
	}{
		{key: "a", nilEnd: true, rev: 7, want: []Revision{{7, 0}}, total: 1},
		{key: "a", nilEnd: true, rev: 6, want: []Revision{{2, 0}}, total: 1},
		{key: "b", nilEnd: true, rev: 5, total: 0},
		{key: "a", end: "c", rev: 4, want: []Revision{{2, 0}, {3, 0}}, total: 2},
		{key: "a", end: "", rev: 7, want: []Revision{{7, 0}, {4, 0}, {6, 0}}, total: 3},
		{key: "a", end: "", rev: 7, limit: 1, want: []Revision{{7, 0}}, total: 3},
		{key: "c", end: "a", rev: 7, total: 0},
		{key: "a", end: "", rev: 1, total: 0},
	} {
		var end []byte
		if !tc.nilEnd {
			end = []byte(tc.end)
		}
		revs, total := ti.Revisions([]byte(tc.key), end, tc.rev, tc.limit)
		if total != tc.total || len(revs) != len(tc.want) {
			t.Fatalf("%+v: got %v total %d", tc, revs, total)
		}
		for i := range revs {
			if revs[i] != tc.want[i] {
				t.Fatalf("%+v: got %v", tc, revs)
			}
		}
		if n := ti.CountRevisions([]byte(tc.key), end, tc.rev); n != tc.total {
			t.Fatalf("%+v: count %d", tc, n)
		}
	}
	keep := ti.Compact(5)
	if _, ok := keep[Revision{5, 0}]; !ok {
		t.Fatalf("compact(5) dropped the tombstone at 5: %v", revSet(keep))
	}
	if ti.Len() != 4 {
		t.Fatalf("after compact(5): %d keys, want 4 (b keeps its tombstone)", ti.Len())
	}
	ti.Compact(6)
	if ti.Len() != 3 {
		t.Fatalf("after compact(6): %d keys, want 3", ti.Len())
	}
}

func idxPut(ti *treeIndex, k []byte, r Revision) error {
	_, _, err := ti.Put(k, r)
	return err
}
