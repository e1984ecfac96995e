package bench

import (
	"context"
	"errors"
	"etcdlab/cluster"
	"path/filepath"
	"testing"
	"time"

	"etcdlab/workloads"
)

// TestWatchAndLeaseElements runs a short cluster run with watchers (started
// behind, so they catch up from the backend) and lease churn and
// keepalives: the result, the timeline and the members' figures must show
// all of it.
func TestWatchAndLeaseElements(t *testing.T) {
	spec := smallSpec(t, "ycsb-a", 200)
	spec.Watch = workloads.Watch{Watchers: 4, Prefixes: 2, Streams: 2, StartBehind: 150}
	spec.Leases = workloads.Leases{Rate: 20, KeysPerLease: 3, TTL: 2, RevokeAfter: 0.2, KeepAlives: 2}
	spec.EnsureDefaults()
	cfg := Config{Layer: LayerCluster, Node: cluster.NodeOptions{Engine: "bbolt"}, Nodes: 1, Workload: spec, Seed: seed(t), Clients: 2,
		Duration: 3 * time.Second, FsyncProbe: 5}
	o, err := RunToDir(context.Background(), cfg, filepath.Join(t.TempDir(), "r"))
	if err != nil {
		t.Fatal(err)
	}
	r := o.Result
	w := r.Watch
	if w == nil {
		t.Fatal("no watch section")
	}
	if w.Watchers != 4 || w.Streams != 2 || w.StartRev <= 0 || w.Events == 0 || w.EventLatency.MaxUs <= 0 {
		t.Fatalf("watch: %+v", w)
	}
	// Started 150 revisions back: the members read the backlog.
	if w.SyncReads == 0 || w.RecordsRead == 0 || w.BytesRead == 0 || w.CatchUpS < 0 {
		t.Fatalf("catch-up: %+v", w)
	}
	l := r.Leases
	if l == nil {
		t.Fatal("no lease section")
	}
	if l.Granted < 10 || l.KeysPut < 3*(l.Granted-2)-3*churnInFlight || l.Revoked == 0 || l.Renewals == 0 ||
		l.GrantErrors+l.PutErrors+l.RevokeErrors+l.RenewErrors != 0 {
		t.Fatalf("leases: %+v", l)
	}
	if l.RevokesApplied.Revokes < l.Revoked || l.RevokesApplied.MeanUs <= 0 {
		t.Fatalf("revokes applied: %+v (revoked %d)", l.RevokesApplied, l.Revoked)
	}
	found := false
	for _, b := range l.RevokeApplyByKeys {
		if b.KeysMin == 2 && b.KeysMax == 3 && b.Revokes > 0 && b.Keys == 3*b.Revokes {
			found = true
		}
	}
	if !found {
		t.Fatalf("no revokes of 3-key leases in %+v", l.RevokeApplyByKeys)
	}
	events, catchUp := int64(0), int64(0)
	for _, s := range o.Timeline {
		events += s.WatchEvents
		catchUp += s.WatchCatchUpBytes
	}
	if events == 0 || catchUp == 0 {
		t.Fatalf("timeline: %d watch events, %d catch-up bytes", events, catchUp)
	}
}

// TestWatchNeedsALayerThatServesIt: the mvcc layer has no leases to serve:
// a workload with lease traffic is refused with a clear error.
func TestWatchNeedsALayerThatServesIt(t *testing.T) {
	spec := smallSpec(t, "ycsb-a", 100)
	spec.Leases = workloads.Leases{KeepAlives: 1}
	spec.EnsureDefaults()
	cfg := Config{Layer: LayerMVCC, Node: cluster.NodeOptions{Engine: "memory"}, Workload: spec, Seed: seed(t), Clients: 1, Ops: 10}
	_, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrBadConfig) {
		t.Fatalf("err = %v, want ErrBadConfig", err)
	}
}
