package cluster

import (
	"sync"
	"sync/atomic"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3"

	"etcdlab/engines"
	"etcdlab/lease"
)

// Test hooks for the tests in this directory that start clusters through
// cluster/harness (package cluster_test, which harness's import of cluster
// keeps out of package cluster) and look inside a node. Test builds only.

const MemorySnapshotCount = memorySnapshotCount

var (
	EncodeConfContext = encodeConfContext
	OpenStore         = openStore
)

// SetOpenEngine sets the TEST-ONLY openEngine of o.
func SetOpenEngine(o *NodeOptions, open func(name, dir string, opts []string) (engines.Engine, error)) {
	o.openEngine = open
}

// SetBeforeApply sets the TEST-ONLY beforeApply of o.
func SetBeforeApply(o *NodeOptions, f func()) { o.beforeApply = f }

// SetUnsafeLocalLinearizableReads sets the TEST-ONLY broken read path of o.
func SetUnsafeLocalLinearizableReads(o *NodeOptions) { o.unsafeLocalLinearizableReads = true }

// NodeStats are the node's counters the tests read.
type NodeStats struct {
	Proposals, Snapshots, SnapshotsInstalled              *atomic.Int64
	ReadIndexRequests, ReadIndexRounds, LinearizableReads *atomic.Int64
	Ticks, TicksAdvanced, MemorySnapshots                 *atomic.Int64
}

func (n *Node) TestStats() NodeStats {
	s := &n.stats
	return NodeStats{
		Proposals: &s.proposals, Snapshots: &s.snapshots, SnapshotsInstalled: &s.snapshotsInstalled,
		ReadIndexRequests: &s.readIndexRequests, ReadIndexRounds: &s.readIndexRounds, LinearizableReads: &s.linearizableReads,
		Ticks: &s.ticks, TicksAdvanced: &s.ticksAdvanced, MemorySnapshots: &s.memorySnapshots,
	}
}

// RaftMu is the lock that guards RawNode.
func (n *Node) RaftMu() *sync.Mutex { return &n.raft.mu }

// RawNode is raft's RawNode; hold RaftMu.
func (n *Node) RawNode() *raft.RawNode { return n.raft.rn }

func (n *Node) AlarmActive(t pb.AlarmType) bool { return n.mb.alarmActive(t) }

// WaitStoreCompactions waits for the store's background compactions.
func (n *Node) WaitStoreCompactions() {
	n.kv.mu.RLock()
	n.kv.store.WaitCompactions()
	n.kv.mu.RUnlock()
}

func (n *Node) InflightSnapshots() *atomic.Int64 { return &n.snaps.inflight }

func (n *Node) Lessor() *lease.Lessor { return n.kv.lessor }
