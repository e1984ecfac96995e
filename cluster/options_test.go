package cluster

import (
	"errors"
	"strings"
	"testing"
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
