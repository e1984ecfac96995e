package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcdlab/cluster/transport"
)

func TestNodeOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    NodeOptions
		want []string // every problem must be reported
	}{
		{"ok", NodeOptions{ID: 1, Dir: "d"}, nil},
		{"everything wrong", NodeOptions{Engine: "nope", HeartbeatTicks: 5, ElectionTicks: 3, MaxRequestBytes: -1, Peers: []Peer{{ID: 0}}, RaftLogCompaction: "3.4"},
			[]string{"ID must be non-zero", "Dir must be set", "engine", "ElectionTicks 3 must exceed", "MaxRequestBytes", "peer ID 0", `raft-log-compaction "3.4"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.EnsureDefaults()
			err := o.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrBadOption) {
				t.Fatalf("error %v does not wrap ErrBadOption", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestForeignWAL: a data dir whose WAL belongs to another member is refused
// with a clear error instead of joining the cluster under the wrong ID.
func TestForeignWAL(t *testing.T) {
	c := startCluster(t, 1, fastNode("memory"), nil)
	waitLeader(t, c)
	if err := c.Stop(1); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "other")
	if err := os.Rename(c.NodeDir(1), dir); err != nil {
		t.Fatal(err)
	}
	o := fastNode("memory")
	o.ID, o.Dir, o.Peers = 2, dir, []Peer{{ID: 2}}
	nw, err := transport.NewNetwork(transport.NetworkOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = StartNode(o, func(h transport.Handler) (transport.Transport, error) { return nw.Join(2, h), nil })
	if err == nil || !strings.Contains(err.Error(), "belongs to another member") {
		t.Fatalf("foreign WAL: %v", err)
	}
}
