package report

import (
	"os"
	"path/filepath"
	"testing"

	"etcdlab/internal/event"
	"etcdlab/results"
)

// TestTimelineKeepsHeartbeatLate: the cluster's heartbeat-late events (etcd's
// "leader failed to send out heartbeat on time") are drawn on the run
// timelines, while backend commits stay too dense to draw.
func TestTimelineKeepsHeartbeatLate(t *testing.T) {
	dir := t.TempDir()
	tl := `{"type":"interval","t_s":0,"length_s":1,"ops":5}` + "\n" +
		`{"type":"event","t_s":0.5,"kind":"heartbeat-late","node":1,"detail":"to=2"}` + "\n" +
		`{"type":"event","t_s":0.6,"kind":"backend-commit","node":1}` + "\n" +
		`{"type":"interval","t_s":1,"length_s":1,"ops":5}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, results.TimelineFile), []byte(tl), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := loadTimeline(dir, "run")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 1 || got.Events[0].Kind != "heartbeat-late" || got.Events[0].Second != 0.5 {
		t.Fatalf("timeline events %+v, want the heartbeat-late one only", got.Events)
	}
}

// TestTimelineKindsAreEventNames: the kinds drawn on the timelines are
// names the layers emit (package event).
func TestTimelineKindsAreEventNames(t *testing.T) {
	for _, k := range timelineKinds {
		if !event.Known(k) {
			t.Errorf("timeline kind %q is not an event name (package event)", k)
		}
	}
}
