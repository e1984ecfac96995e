package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
	"etcdlab/cluster/transport"
	"etcdlab/internal/clock"
	"etcdlab/internal/event"
	"etcdlab/lease"
	"etcdlab/mvcc"
	"etcdlab/workloads"
)

// openClusterTarget opens the cluster layer: cfg.Nodes in-process nodes in
// env.Dir on the in-process network (every link delayed by cfg.LinkDelay),
// driven through the cluster's client, or clients of cfg.Endpoints. Writes
// go through raft and the WAL; linearizable reads through ReadIndex.
func openClusterTarget(ctx context.Context, cfg Config, env LayerEnv) (Target, error) {
	if len(cfg.Endpoints) > 0 {
		return openEndpointsTarget(ctx, cfg, env)
	}
	opts := harness.Options{
		Nodes: cfg.Nodes,
		Dir:   env.Dir,
		Seed:  uint64(cfg.Seed),
		Link:  transport.LinkConfig{Delay: cfg.LinkDelay},
		Clock: cfg.Clock,
		OnEvent: func(e cluster.Event) {
			ev := Event{At: e.Time, Kind: e.Kind.String(), Node: int(e.Node), Detail: e.Detail, Values: e.Values}
			if event.Timed(ev.Kind) {
				ev.Dur = e.Duration
			}
			env.Emit(ev)
		},
		Node: cfg.Node,
	}
	disks := diskSeams(cfg, &opts)
	c, err := harness.Start(opts)
	if err != nil {
		return nil, fmt.Errorf("bench: starting a %d-node cluster: %w", cfg.Nodes, err)
	}
	client := c.Client(harness.ClientOptions{Seed: uint64(cfg.Seed)})
	t := &clusterTarget{c: c, client: client, kv: client, clk: cfg.Clock, linkDelay: cfg.LinkDelay, disks: disks}
	if err := t.waitLeader(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return t, nil
}

// clusterTarget runs ops through the cluster's client, which sends every
// request to the leader (etcd's benchmark tool talks to one endpoint too)
// and retries on leader change.
type clusterTarget struct {
	c      *harness.Cluster
	client *harness.Client
	// kv is what ops go through: the client, or a recorder around it.
	kv        KV
	clk       clock.Clock
	linkDelay time.Duration        // the run's base link delay
	disks     map[uint64]nodeDisks // disk fault seams, when the schedule has disk faults

	mu      sync.Mutex
	retired Stats // counters of nodes killed by faults, up to their kill
}

var (
	_ KV                  = (*harness.Client)(nil)
	_ Target              = (*clusterTarget)(nil)
	_ StatsSource         = (*clusterTarget)(nil)
	_ Flusher             = (*clusterTarget)(nil)
	_ Settler             = (*clusterTarget)(nil)
	_ batchLoader         = (*clusterTarget)(nil)
	_ serverMetricsSource = (*clusterTarget)(nil)
	_ k8sHost             = (*clusterTarget)(nil)
	_ k8sLeaser           = (*clusterTarget)(nil)
	_ k8sCompactor        = (*clusterTarget)(nil)
)

// serverMetrics gathers every running node's registry (etcd's figures
// without the Go and process collectors): the same names an --endpoints
// run scrapes from its servers.
func (t *clusterTarget) serverMetrics(context.Context, bool) (promSample, error) {
	s := newPromSample()
	for _, n := range t.c.Nodes() {
		fams, err := n.Metrics().GatherServer()
		if err != nil {
			return s, fmt.Errorf("bench: gathering node %x's metrics: %w", n.ID(), err)
		}
		s.add(fams)
	}
	return s, nil
}

func (t *clusterTarget) metricsInfo() metricsInfo {
	return metricsInfo{Source: MetricsSourceRegistry}
}

// waitLeader waits until a leader has committed its first entry, so the
// first measured ops do not time out on an election. A serializable read
// does not wait; a linearizable one needs the leader's first commit.
func (t *clusterTarget) waitLeader(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, leaderWait)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		_, err := t.client.Range(ctx, &pb.RangeRequest{Key: []byte("etcdlab-health")})
		if err == nil {
			return nil
		}
		last = err
	}
	return fmt.Errorf("bench: no leader serving linearizable reads within %v: %w", leaderWait, errors.Join(last, ctx.Err()))
}

// leaderWait bounds the wait for the first leader: ten election timeouts.
const leaderWait = 10 * time.Second

func (t *clusterTarget) Do(ctx context.Context, op *workloads.Op) error {
	return DoKV(ctx, t.kv, op)
}

func (t *clusterTarget) loadBatch(ctx context.Context, kvs []loadKV) error {
	return loadTxn(ctx, t.kv, kvs)
}

func (t *clusterTarget) wrapKV(w func(KV) KV) { t.kv = w(t.kv) }

// k8sKV and compact serve the k8s driver (k8sHost, k8sCompactor); its
// leases go through leaseGrant.
func (t *clusterTarget) k8sKV() KV { return t.kv }

func (t *clusterTarget) compact(ctx context.Context, rev int64) error {
	_, err := t.client.Compact(ctx, &pb.CompactionRequest{Revision: rev})
	return err
}

// Flush commits every node's pending backend batch: acknowledged writes are
// durable in the WAL already; this pays their engine cost inside the run.
func (t *clusterTarget) Flush() error {
	var errs []error
	for _, n := range t.c.Nodes() {
		if err := n.CommitBackend(); err != nil && !errors.Is(err, cluster.ErrStopped) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Settle settles every running node's engine (see Settler).
func (t *clusterTarget) Settle(ctx context.Context) error {
	var errs []error
	for _, n := range t.c.Nodes() {
		if err := n.SettleBackend(ctx, settleEngine); err != nil && !errors.Is(err, cluster.ErrStopped) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stats sums bytes and fsyncs over nodes and takes the largest node's sizes.
func (t *clusterTarget) Stats() Stats {
	st := Stats{Extra: map[string]float64{}}
	t.mu.Lock()
	st.WALBytesWritten, st.WALFsyncs = t.retired.WALBytesWritten, t.retired.WALFsyncs
	st.WALSyncCPU = t.retired.WALSyncCPU
	st.EngineBytesWritten, st.EngineFsyncs = t.retired.EngineBytesWritten, t.retired.EngineFsyncs
	t.mu.Unlock()
	for _, n := range t.c.Nodes() {
		ws := n.WALStats()
		st.WALBytesWritten += ws.BytesWritten
		st.WALFsyncs += ws.Syncs + ws.DirSyncs
		st.WALSyncCPU += ws.SyncCPU
		st.WALSize = max(st.WALSize, dirSize(filepath.Join(t.c.NodeDir(n.ID()), "member", "wal")))
		ss := n.StorageStats()
		if !ss.OK {
			continue
		}
		st.EngineBytesWritten += ss.Backend.Engine.BytesWritten
		st.EngineFsyncs += ss.Backend.Engine.Fsyncs
		st.DBSize = max(st.DBSize, ss.DiskSize)
		st.DBSizeInUse = max(st.DBSizeInUse, ss.SizeInUse)
		st.DBQuotaSize = max(st.DBQuotaSize, ss.Size)
		st.Extra["backend.commits"] += float64(ss.Backend.Commits)
		st.ReadIndexRounds += n.ReadIndexRounds()
		if n.IsLeader() {
			st.Extra["raft.applied_index"] = float64(n.AppliedIndex())
			st.Extra["raft.term"] = float64(n.Term())
			st.Extra["mvcc.rev"] = float64(n.Rev())
			st.Extra["wal.leader_syncs"] = float64(ws.Syncs)
			st.Extra["wal.leader_sync_p99_us"] = float64(ws.SyncP99.Microseconds())
			for k, v := range ss.Backend.Engine.Native {
				st.Extra[k] = v
			}
		}
	}
	return st
}

func (t *clusterTarget) Close() error { return t.c.Close() }

// dirSize is the total size of the regular files directly in dir.
func dirSize(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

var _ watchLeaseTarget = (*clusterTarget)(nil)

// newWatchStream opens a watch stream on the member the client's balancer
// picks.
func (t *clusterTarget) newWatchStream(ctx context.Context) (*mvcc.WatchStream, error) {
	ws, _, err := t.client.NewWatchStream(ctx)
	return ws, err
}

// currentRev is the leader's revision (the largest member's without one).
func (t *clusterTarget) currentRev() int64 {
	var rev int64
	for _, n := range t.c.Nodes() {
		if n.IsLeader() {
			return n.Rev()
		}
		rev = max(rev, n.Rev())
	}
	return rev
}

func (t *clusterTarget) leaseGrant(ctx context.Context, ttl int64) (int64, error) {
	r, err := t.client.LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: ttl})
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}

func (t *clusterTarget) leaseRevoke(ctx context.Context, id int64) (int64, error) {
	r, err := t.client.LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: id})
	if err != nil {
		return 0, err
	}
	return r.Header.Revision, nil
}

func (t *clusterTarget) leaseRenew(ctx context.Context, id int64) error {
	_, err := t.client.LeaseRenew(ctx, id)
	return err
}

func (t *clusterTarget) putLease(ctx context.Context, key, value []byte, id int64) (int64, error) {
	r, err := t.client.Put(ctx, &pb.PutRequest{Key: key, Value: value, Lease: id})
	if err != nil {
		return 0, err
	}
	return r.Header.Revision, nil
}

// watchLeaseStats sums the running members' catch-up reads and revokes
// (a member killed by a fault takes its counts with it).
func (t *clusterTarget) watchLeaseStats() (mvcc.WatchStats, lease.RevokeStats) {
	var ws mvcc.WatchStats
	var rs lease.RevokeStats
	for _, n := range t.c.Nodes() {
		w := n.WatchStats()
		ws.SyncReads += w.SyncReads
		ws.ScanNanos += w.ScanNanos
		ws.Records += w.Records
		ws.Bytes += w.Bytes
		ws.Events += w.Events
		r := n.LeaseRevokeStats()
		addBucket(&rs.RevokeBucket, r.RevokeBucket)
		for b := range r.Buckets {
			addBucket(&rs.Buckets[b], r.Buckets[b])
		}
	}
	return ws, rs
}

func addBucket(a *lease.RevokeBucket, b lease.RevokeBucket) {
	a.Revokes += b.Revokes
	a.Keys += b.Keys
	a.Nanos += b.Nanos
}
