package plots

import (
	"fmt"
	"strings"
	"testing"

	"etcdlab/internal/event"
)

// TestExtraEventLooksDiffer: event kinds beyond the fixed ones never share
// both color and glyph until the combinations run out (a fault run's
// timeline has ten kinds or so; four colors made snapshots and restarts
// look alike).
func TestExtraEventLooksDiffer(t *testing.T) {
	n := len(extraEventColors) * len(extraEventGlyphs)
	if n < 10 {
		t.Fatalf("only %d distinct looks for other event kinds", n)
	}
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		c, g := extraEventLook(i)
		key := fmt.Sprintf("%v/%T", c, g)
		if j, dup := seen[key]; dup {
			t.Fatalf("kinds %d and %d look the same (%s)", j, i, key)
		}
		seen[key] = i
	}
}

// TestEventLooksAreEventNames: every fixed event look is keyed by a name a
// layer emits (package event). The looks were once keyed "snapshot" and
// "leader change", which no event is called, so they never applied.
func TestEventLooksAreEventNames(t *testing.T) {
	for _, k := range eventKinds {
		if !event.Known(k.kind) {
			t.Errorf("event look %q is not an event name (package event)", k.kind)
		}
	}
}

// TestEventLooksApply: events of the real kinds get their fixed look, ahead
// of other kinds; other kinds take the extra looks by first appearance.
func TestEventLooksApply(t *testing.T) {
	tl := Timeline{Label: "a", Seconds: []float64{0, 1}, Events: []Event{
		{Second: 1, Kind: event.NodeKilled},
		{Second: 1, Kind: event.SnapshotTaken}, {Second: 2, Kind: event.SnapshotTaken},
		{Second: 3, Kind: event.LeaderChanged},
		{Second: 4, Kind: event.AlarmRaised},
	}}
	looks, err := eventLooks([]Timeline{tl})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range looks {
		got = append(got, fmt.Sprintf("%s %d %v %T", l.kind, len(l.seconds), l.color, l.glyph))
	}
	c0, g0 := extraEventLook(0)
	want := []string{
		fmt.Sprintf("snapshot taken 2 %v %T", eventKinds[0].color, eventKinds[0].glyph),
		fmt.Sprintf("leader changed 1 %v %T", eventKinds[1].color, eventKinds[1].glyph),
		fmt.Sprintf("alarm raised 1 %v %T", eventKinds[4].color, eventKinds[4].glyph),
		fmt.Sprintf("node killed 1 %v %T", c0, g0),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("looks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
