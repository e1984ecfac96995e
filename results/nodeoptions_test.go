package results

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestSetNodeOptions: the fields that repeat a node knob are filled from the
// recorded string (quoted values and unknown knobs in between are skipped
// over), and NodeKnobs renders them back for a result written without it.
func TestSetNodeOptions(t *testing.T) {
	s := `engine=bbolt engine-opt="a b=c" engine-opt=x=1 snapshot-count=1234 experimental-snapshot-catchup-entries=56 raft-log-compaction=3.5 ` +
		`quota-backend-bytes=-1 auto-compaction-retention="" backend-batch-interval=2.5ms backend-batch-limit=77 tick=100ms`
	var c Config
	if err := c.SetNodeOptions(s); err != nil {
		t.Fatal(err)
	}
	if c.NodeOptions != s || c.NodeKnobs() != s {
		t.Fatalf("NodeOptions %q, NodeKnobs %q", c.NodeOptions, c.NodeKnobs())
	}
	if c.SnapshotCount != 1234 || c.SnapshotCatchupEntries != 56 || c.RaftLogCompaction != "3.5" || c.QuotaBytes != -1 ||
		c.BatchIntervalMs != 2.5 || c.BatchLimit != 77 {
		t.Fatalf("fields %+v", c)
	}

	legacy := c
	legacy.NodeOptions = ""
	var back Config
	if err := back.SetNodeOptions(legacy.NodeKnobs()); err != nil {
		t.Fatalf("%s: %v", legacy.NodeKnobs(), err)
	}
	back.NodeOptions = ""
	if !reflect.DeepEqual(back, legacy) {
		t.Fatalf("legacy round trip: %+v, want %+v", back, legacy)
	}
	if got := (Config{}).NodeKnobs(); !strings.Contains(got, `raft-log-compaction="" `) || !strings.Contains(got, "snapshot-count=0 ") {
		t.Fatalf("zero config: %s", got)
	}

	for _, bad := range []string{"snapshot-count", "snapshot-count=x", `engine="bbolt`, "engine=bbolt"} {
		if err := new(Config).SetNodeOptions(bad); !errors.Is(err, ErrBadNodeOptions) {
			t.Errorf("SetNodeOptions(%q) = %v, want ErrBadNodeOptions", bad, err)
		}
	}
}
