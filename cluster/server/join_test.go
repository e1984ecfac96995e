package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJoinExistingWithNoPeerFailsFast: --initial-cluster-state existing on
// an empty data dir with no other member reachable used to start and answer
// "no leader" forever without a log line; like etcd ("cannot fetch cluster
// info from peer urls") it now fails within about two election timeouts,
// naming the peers it tried, and leaves the data dir without a WAL.
func TestJoinExistingWithNoPeerFailsFast(t *testing.T) {
	self, err := reservePort()
	if err != nil {
		t.Fatal(err)
	}
	other, err := reservePort() // closed again: nothing answers there
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := Config{
		Name:                     "joiner",
		DataDir:                  dir,
		ListenClientURLs:         []string{"http://127.0.0.1:0"},
		ListenPeerURLs:           []string{"http://" + self},
		InitialAdvertisePeerURLs: []string{"http://" + self},
		InitialCluster:           "first=http://" + other + ",joiner=http://" + self,
		InitialClusterState:      ClusterStateExisting,
		Node:                     fastNode("bbolt"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err = Serve(ctx, cfg, func(*Server) { t.Error("a joiner with no reachable peer started serving") })
	took := time.Since(start)
	if !errors.Is(err, ErrNoPeerReachable) || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "existing on an empty data dir") {
		t.Fatalf("err %v, want ErrNoPeerReachable naming %s", err, other)
	}
	t.Logf("failed after %v: %v", took, err)
	if took > 10*time.Second {
		t.Errorf("took %v to give up", took)
	}
	if _, err := os.Stat(filepath.Join(dir, "member", "wal")); err == nil {
		t.Error("a WAL was created for a member that never joined")
	}
}
