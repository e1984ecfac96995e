package lincheck

import (
	"math"
	"testing"
)

// TestTruncationSound: once the history is full, a read that returned after
// the cut could have seen a write that was refused, so it is left out, and
// a write that returned after the cut becomes one of unknown outcome. A
// history that would be rejected only because of the refused write stays
// linearizable; a stale read before the cut is still caught.
func TestTruncationSound(t *testing.T) {
	h := NewHistory(1)
	w1, _ := h.Begin()
	rd, _ := h.Begin() // a read in flight across the cut
	w2, _ := h.Begin() // a write in flight across the cut
	h.Add(0, Input{Kind: Put, Key: "a", Value: "1"}, w1, Output{}, "")
	if _, ok := h.Begin(); ok { // the refused write of "3"
		t.Fatal("a full history accepted a call")
	}
	// The read saw "3", written by the refused call: without the rewrite
	// porcupine would call it a read from nowhere.
	h.Add(1, Input{Kind: Get, Key: "a"}, rd, Output{Value: "3"}, "")
	h.Add(2, Input{Kind: Put, Key: "a", Value: "2"}, w2, Output{}, "")
	if !h.Truncated() {
		t.Fatal("Truncated() is false after a refused call")
	}
	ops := h.Operations()
	if len(ops) != 2 {
		t.Fatalf("%d ops after the rewrite, want 2 (the late read left out): %+v", len(ops), ops)
	}
	if out := ops[1].Output.(Output); !out.Unknown || ops[1].Return != math.MaxInt64 {
		t.Fatalf("the write that returned after the cut: %+v, want unknown", ops[1])
	}
	if v, _ := Check(ops, 0); v != VerdictOK {
		t.Fatalf("verdict %s, want ok", v)
	}

	stale := NewHistory(0)
	c1, _ := stale.Begin()
	stale.Add(0, Input{Kind: Put, Key: "a", Value: "1"}, c1, Output{}, "")
	c2, _ := stale.Begin()
	stale.Add(0, Input{Kind: Put, Key: "a", Value: "2"}, c2, Output{}, "")
	c3, _ := stale.Begin()
	stale.Add(1, Input{Kind: Get, Key: "a"}, c3, Output{Value: "1"}, "")
	if v, _ := Check(stale.Operations(), 0); v != VerdictIllegal {
		t.Fatalf("stale read: verdict %s, want illegal", v)
	}
	if s := stale.Stats(); s.Reads != 1 || s.Writes != 2 {
		t.Fatalf("stats %+v", s)
	}
}
