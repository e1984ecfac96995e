package faults

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // canonical String(), "" with wantErr
		// wantErr lists fragments the error must contain (all of them).
		wantErr []string
	}{
		{in: "", want: ""},
		{in: "kill-leader@5s,restart@8s", want: "kill-leader@5s,restart@8s"},
		{in: " restart@8s ; kill-leader@5s", want: "kill-leader@5s,restart@8s"},
		{in: "restart@3s,kill-leader@5s", wantErr: []string{"restart@3s: no kill"}},
		{in: "kill-leader@1s+1s,restart@3s", wantErr: []string{"restart@3s: no kill without +for"}},
		{in: "kill-follower@2s+3s", want: "kill-follower@2s+3s"},
		{in: "partition-leader@1500ms+2s,heal@9s", wantErr: []string{"heal@9s: no partition"}},
		{in: "partition-follower@1s,heal@3s", want: "partition-follower@1s,heal@3s"},
		{in: "delay=20ms@1s+2s,loss=0.1@4s+1s", want: "delay=20ms@1s+2s,loss=0.1@4s+1s"},
		{in: "slow-disk=20ms@1s+2s", want: "slow-disk:all=20ms@1s+2s"},
		{in: "slow-disk:leader=20ms/1ms@1s", want: "slow-disk:leader=20ms/1ms@1s"},
		{in: "fill-disk@1s+1s", want: "fill-disk:leader=wal@1s+1s"},
		{in: "fill-disk:follower=engine@1s+1s", want: "fill-disk:follower=engine@1s+1s"},
		// Sorted by start, stable.
		{in: "kill-leader@5s+1s,delay=1ms@1s+1s", want: "delay=1ms@1s+1s,kill-leader@5s+1s"},
		// Bad input: every problem named.
		{in: "kill-leader", wantErr: []string{`"kill-leader": no @time`}},
		{in: "kill-leader@5", wantErr: []string{"start \"5\" is not a duration"}},
		{in: "kill-leader@5s+x", wantErr: []string{"length \"x\" is not a duration"}},
		{in: "kill-leader@5s+0s", wantErr: []string{"must be > 0"}},
		{in: "explode@1s", wantErr: []string{`unknown kind "explode"`, "accepted: kill-leader"}},
		{in: "@1s", wantErr: []string{"no kind"}},
		{in: "kill-leader=3@1s", wantErr: []string{"kill-leader takes no value"}},
		{in: "kill-leader:follower@1s", wantErr: []string{"takes no target"}},
		{in: "restart@1s+1s", wantErr: []string{"restart is instant"}},
		{in: "delay@1s", wantErr: []string{"delay needs a positive duration"}},
		{in: "delay=-1ms@1s", wantErr: []string{"delay needs a positive duration"}},
		{in: "loss=1.5@1s", wantErr: []string{"loss needs a share"}},
		{in: "loss=0@1s", wantErr: []string{"loss needs a share"}},
		{in: "slow-disk@1s", wantErr: []string{"slow-disk needs an fsync latency"}},
		{in: "slow-disk=0s@1s", wantErr: []string{"slow-disk needs an fsync latency"}},
		{in: "slow-disk:disk2=1ms@1s", wantErr: []string{`target "disk2"`}},
		{in: "fill-disk=memory@1s", wantErr: []string{`fill-disk value "memory"`}},
		{in: "kill-leader@-1s", wantErr: []string{"must be >= 0"}},
		// Two bad entries: both reported.
		{in: "explode@1s,loss=2@1s", wantErr: []string{"explode", "loss needs a share"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			s, err := Parse(tc.in)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Parse(%q) = %v, want an error", tc.in, s)
				}
				if !errors.Is(err, ErrBadSchedule) {
					t.Errorf("error %v does not wrap ErrBadSchedule", err)
				}
				for _, frag := range tc.wantErr {
					if !strings.Contains(err.Error(), frag) {
						t.Errorf("error %q lacks %q", err, frag)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := s.String(); got != tc.want {
				t.Fatalf("Parse(%q).String() = %q, want %q", tc.in, got, tc.want)
			}
			// The canonical form reads back to the same schedule.
			again, err := Parse(s.String())
			if err != nil || again.String() != s.String() {
				t.Fatalf("round trip of %q: %q, %v", s, again, err)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	s, err := Parse("slow-disk=20ms/1ms@1s,loss=0.25@2s+1s,delay=5ms@3s+1s,fill-disk=engine@4s+1s")
	if err != nil {
		t.Fatal(err)
	}
	if s[0].SyncLatency != 20*time.Millisecond || s[0].WriteLatency != time.Millisecond {
		t.Errorf("slow-disk latencies %v/%v", s[0].SyncLatency, s[0].WriteLatency)
	}
	if s[1].LossRate != 0.25 || s[2].LinkDelay != 5*time.Millisecond || s[3].Disk != DiskEngine {
		t.Errorf("parsed values: %+v", s)
	}
}

func TestValidate(t *testing.T) {
	cluster3 := Env{Layer: "cluster", Nodes: 3, Duration: 15 * time.Second}
	for _, tc := range []struct {
		name    string
		spec    string
		env     Env
		wantErr []string
	}{
		{"ok", "kill-leader@5s,restart@8s", cluster3, nil},
		{"empty on any layer", "", Env{Layer: "mvcc", Nodes: 1}, nil},
		{"mvcc layer", "kill-leader@5s", Env{Layer: "mvcc", Nodes: 1, Duration: 10 * time.Second}, []string{"faults need the cluster layer", "mvcc layer"}},
		{"endpoints", "kill-leader@5s", Env{Layer: "cluster", Nodes: 3, Endpoints: true}, []string{"not supported with --endpoints yet"}},
		{"kill-leader on 1 node", "kill-leader@5s", Env{Layer: "cluster", Nodes: 1, Duration: 10 * time.Second}, []string{"kill-leader@5s on 1 node"}},
		{"partition on 1 node", "partition-follower@1s+1s", Env{Layer: "cluster", Nodes: 1, Duration: 10 * time.Second}, []string{"partition-follower@1s+1s on 1 node"}},
		{"delay on 1 node", "delay=1ms@1s+1s", Env{Layer: "cluster", Nodes: 1, Duration: 10 * time.Second}, []string{"has no links"}},
		{"slow disk on 1 node", "slow-disk=1ms@1s+1s", Env{Layer: "cluster", Nodes: 1, Duration: 10 * time.Second}, nil},
		{"follower disk on 1 node", "slow-disk:follower=1ms@1s+1s", Env{Layer: "cluster", Nodes: 1, Duration: 10 * time.Second}, []string{"there is no follower"}},
		{"after the end", "kill-leader@15s,restart@20s", cluster3, []string{"kill-leader@15s starts at or after the end", "restart@20s starts at or after the end"}},
		{"op count run", "kill-leader@15s", Env{Layer: "cluster", Nodes: 3}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Validate(tc.env)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBadSchedule) {
				t.Fatalf("Validate = %v, want an ErrBadSchedule", err)
			}
			for _, frag := range tc.wantErr {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("error %q lacks %q", err, frag)
				}
			}
		})
	}
}

func TestResolveYAML(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("faults:\n  - {kind: kill-leader, at: 5s}\n  - {kind: restart, at: 8s}\n  - {kind: slow-disk, target: leader, value: 10ms, at: 2s, for: 1s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(good)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "slow-disk:leader=10ms@2s+1s,kill-leader@5s,restart@8s"; got != want {
		t.Fatalf("YAML schedule %q, want %q", got, want)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("faults:\n  - {kind: kill-leader, at: 5s, when: now}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(bad); err == nil || !errors.Is(err, ErrBadSchedule) || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("unknown YAML field: %v, want an ErrBadSchedule naming the file", err)
	}
	// Not a file: the syntax.
	if s, err := Resolve("kill-follower@1s+1s"); err != nil || len(s) != 1 {
		t.Fatalf("Resolve of the syntax: %v, %v", s, err)
	}
}
