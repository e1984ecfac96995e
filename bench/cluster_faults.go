package bench

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"etcdlab/cluster/harness"
	"etcdlab/cluster/transport"
	"etcdlab/engines"
	"etcdlab/internal/diskfault"
)

var _ FaultInjector = (*clusterTarget)(nil)

// nodeDisks are one node's two fault seams.
type nodeDisks struct{ wal, engine *diskfault.Disk }

// diskSeams installs the disk fault seams in opts when the schedule needs
// them: every node's WAL file system and engine wrapped by a
// diskfault.Disk of its own. Runs without disk faults keep the plain I/O
// path.
func diskSeams(cfg Config, opts *harness.Options) map[uint64]nodeDisks {
	need := false
	for _, f := range cfg.Faults {
		need = need || f.OnDisk()
	}
	if !need {
		return nil
	}
	disks := map[uint64]nodeDisks{}
	for id := uint64(1); id <= uint64(cfg.Nodes); id++ {
		disks[id] = nodeDisks{wal: diskfault.New(cfg.Clock), engine: diskfault.New(cfg.Clock)}
	}
	opts.WrapFS = func(id uint64, fs vfs.FS) vfs.FS { return disks[id].wal.FS(fs) }
	opts.WrapEngine = func(id uint64, e engines.Engine) engines.Engine { return disks[id].engine.Engine(e) }
	return disks
}

func (t *clusterTarget) Leader() uint64 { return t.c.Leader() }

func (t *clusterTarget) Follower() uint64 {
	l := t.c.Leader()
	for _, n := range t.c.Nodes() {
		if n.ID() != l && n.Err() == nil {
			return n.ID()
		}
	}
	return 0
}

func (t *clusterTarget) Running() []uint64 {
	var ids []uint64
	for _, n := range t.c.Nodes() {
		ids = append(ids, n.ID())
	}
	return ids
}

// Kill crashes node id; its counters so far are kept (retire), so the
// run's byte and fsync totals do not drop when it goes.
func (t *clusterTarget) Kill(id uint64) error {
	t.retire(id)
	return t.c.Kill(id)
}

// retire adds node id's cumulative WAL and engine counters to the totals
// of nodes gone: a restarted node counts from zero again.
func (t *clusterTarget) retire(id uint64) {
	n := t.c.Node(id)
	if n == nil {
		return
	}
	ws, ss := n.WALStats(), n.StorageStats()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.retired.WALBytesWritten += ws.BytesWritten
	t.retired.WALFsyncs += ws.Syncs + ws.DirSyncs
	t.retired.WALSyncCPU += ws.SyncCPU
	if ss.OK {
		t.retired.EngineBytesWritten += ss.Backend.Engine.BytesWritten
		t.retired.EngineFsyncs += ss.Backend.Engine.Fsyncs
	}
}

func (t *clusterTarget) Failed(id uint64) bool {
	n := t.c.Node(id)
	return n != nil && n.Err() != nil
}

func (t *clusterTarget) Restart(id uint64) (uint64, error) {
	if t.Failed(id) {
		if err := t.Kill(id); err != nil {
			return 0, err
		}
	}
	// The highest commit index any running node knows: the leader's when
	// there is one, a lower bound of the cluster's commit when an election
	// is under way.
	var target uint64
	for _, n := range t.c.Nodes() {
		target = max(target, n.CommittedIndex())
	}
	if err := t.c.Restart(id); err != nil {
		return target, fmt.Errorf("bench: restart node %d: %w", id, err)
	}
	return target, nil
}

func (t *clusterTarget) Applied(id uint64) uint64 {
	if n := t.c.Node(id); n != nil {
		return n.AppliedIndex()
	}
	return 0
}

func (t *clusterTarget) Isolate(id uint64) error {
	nw := t.c.Network()
	if nw == nil {
		return errors.New("bench: no in-process network to partition")
	}
	nw.Isolate(id)
	return nil
}

func (t *clusterTarget) Heal() error {
	if nw := t.c.Network(); nw != nil {
		nw.Heal()
	}
	return nil
}

func (t *clusterTarget) SetLinks(delay time.Duration, loss float64) error {
	nw := t.c.Network()
	if nw == nil {
		return errors.New("bench: no in-process network to shape")
	}
	return nw.SetAllLinks(transport.LinkConfig{Delay: t.linkDelay + delay, Loss: loss})
}

func (t *clusterTarget) ResetLinks() error {
	if nw := t.c.Network(); nw != nil {
		return nw.SetAllLinks(transport.LinkConfig{Delay: t.linkDelay})
	}
	return nil
}

func (t *clusterTarget) SetDisk(id uint64, wal bool, f diskfault.Fault) error {
	d, ok := t.disks[id]
	if !ok {
		return fmt.Errorf("bench: node %d has no disk fault seam (the schedule had no disk fault when the cluster started)", id)
	}
	if wal {
		d.wal.Set(f)
	} else {
		d.engine.Set(f)
	}
	return nil
}
