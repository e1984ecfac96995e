package event

// Kinds a cluster node emits (cluster.EventKind's String).
const (
	LeaderElected     = "leader-elected"     // this node became leader
	LeaderChanged     = "leader-changed"     // the node saw a new leader (or none)
	SnapshotTaken     = "snapshot-taken"     // the node wrote a disk snapshot (every snapshot-count entries)
	SnapshotSent      = "snapshot-sent"      // the leader sent a snapshot to a follower
	SnapshotReceived  = "snapshot-received"  // a follower received a snapshot
	SnapshotInstalled = "snapshot-installed" // a follower installed a received snapshot
	WALCut            = "wal-cut"            // the WAL started a new segment
	SlowFsync         = "slow-fsync"         // a WAL fsync took longer than the warning threshold
	SlowApply         = "slow-apply"         // applying an entry took longer than the warning threshold
	BackendCommit     = "backend-commit"     // the batching layer committed to the engine
	Compaction        = "compaction"         // an mvcc compaction ran (timed: its index compaction and key-bucket deletion)
	Defrag            = "defrag"             // the backend was defragmented (engine Reclaim; timed)
	AlarmRaised       = "alarm-raised"       // an alarm (NOSPACE) was raised
	AlarmDisarmed     = "alarm-disarmed"     // an alarm was disarmed
	MemberChange      = "member-change"      // a membership change was applied
	RaftLogCompacted  = "raft-log-compacted" // the in-memory raft log was compacted
	HeartbeatLate     = "heartbeat-late"     // the leader sent a heartbeat more than 2 × the interval late
	LeaseExpiry       = "lease-expiry"       // the leader proposed (or skipped) the revoke of a batch of expired leases
)

// Kinds the runner emits.
const (
	BackendCommitFailed = "backend-commit-failed" // a backend commit returned an error (engine and mvcc layers)
	Fault               = "fault"                 // a scheduled fault was injected
	FaultLifted         = "fault-lifted"          // a scheduled fault was lifted
	NodeKilled          = "node-killed"           // a fault killed a node
	NodeRestarted       = "node-restarted"        // a fault restarted a killed node
	Endpoint            = "endpoint"              // an --endpoints server's status at the start of a run
)

// All lists every kind, cluster kinds first.
func All() []string {
	return []string{
		LeaderElected, LeaderChanged, SnapshotTaken, SnapshotSent, SnapshotReceived, SnapshotInstalled,
		WALCut, SlowFsync, SlowApply, BackendCommit, Compaction, Defrag, AlarmRaised, AlarmDisarmed,
		MemberChange, RaftLogCompacted, HeartbeatLate, LeaseExpiry,
		BackendCommitFailed, Fault, FaultLifted, NodeKilled, NodeRestarted, Endpoint,
	}
}

// Timed reports whether events of kind span a time: they are emitted when
// they end, with their length, and the timeline holds them as bands from
// their start to their end (compactions and defrags).
func Timed(kind string) bool { return kind == Compaction || kind == Defrag }

// Known reports whether name is one of the kinds.
func Known(name string) bool {
	for _, k := range All() {
		if k == name {
			return true
		}
	}
	return false
}
