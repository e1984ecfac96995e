package cluster

import (
	"fmt"
	"time"

	"etcdlab/internal/event"
	"etcdlab/mvcc"
)

// EventKind classifies an Event.
type EventKind int

// Event kinds, for the bench timeline.
const (
	EventLeaderElected EventKind = iota + 1 // this node became leader
	EventLeaderChanged                      // the node saw a new leader (or none)
	EventSnapshotTaken
	EventSnapshotSent
	EventSnapshotReceived
	EventSnapshotInstalled
	EventWALCut
	EventSlowFsync
	EventSlowApply
	EventBackendCommit
	EventCompaction
	EventDefrag
	EventAlarmRaised
	EventAlarmDisarmed
	EventMemberChange
	EventRaftLogCompacted
	// EventHeartbeatLate: the leader sent a heartbeat to a follower more
	// than 2 × the heartbeat interval after the previous one (etcd's "leader
	// failed to send out heartbeat on time; took too long, leader is
	// overloaded likely from slow disk"), usually because its Ready loop was
	// blocked, e.g. by a slow WAL fsync. Duration is the gap between the two
	// heartbeats; Detail names the follower and the excess.
	EventHeartbeatLate
	// EventLeaseExpiry: the leader proposed the revoke of a batch of expired
	// leases (Detail: how many, how many failed), or skipped it because it
	// no longer leads. Duration is the time the batch took.
	EventLeaseExpiry
)

// eventNames are the kinds' names, spelled once in package event.
var eventNames = map[EventKind]string{
	EventLeaderElected:     event.LeaderElected,
	EventLeaderChanged:     event.LeaderChanged,
	EventSnapshotTaken:     event.SnapshotTaken,
	EventSnapshotSent:      event.SnapshotSent,
	EventSnapshotReceived:  event.SnapshotReceived,
	EventSnapshotInstalled: event.SnapshotInstalled,
	EventWALCut:            event.WALCut,
	EventSlowFsync:         event.SlowFsync,
	EventSlowApply:         event.SlowApply,
	EventBackendCommit:     event.BackendCommit,
	EventCompaction:        event.Compaction,
	EventDefrag:            event.Defrag,
	EventAlarmRaised:       event.AlarmRaised,
	EventAlarmDisarmed:     event.AlarmDisarmed,
	EventMemberChange:      event.MemberChange,
	EventRaftLogCompacted:  event.RaftLogCompacted,
	EventHeartbeatLate:     event.HeartbeatLate,
	EventLeaseExpiry:       event.LeaseExpiry,
}

func (k EventKind) String() string {
	if s, ok := eventNames[k]; ok {
		return s
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is something that happened on one node at one time. A timed event
// (EventCompaction, EventDefrag: event.Timed) is emitted when it ends: Time
// is its end and Duration its length, so it spans Time−Duration to Time.
type Event struct {
	Node     uint64
	Time     time.Time
	Kind     EventKind
	Detail   string
	Duration time.Duration
	// Values are the event's figures by name (nil for most kinds): a
	// compaction's revision and keys deleted, a defrag's sizes before and
	// after (see Node.compacted and Node.Defrag).
	Values map[string]float64
}

func (e Event) String() string {
	return fmt.Sprintf("%s node=%x %s %s (%v)", e.Time.Format(time.RFC3339Nano), e.Node, e.Kind, e.Detail, e.Duration)
}

func (n *Node) emit(kind EventKind, d time.Duration, format string, a ...any) {
	if n.opts.OnEvent == nil {
		return
	}
	n.opts.OnEvent(Event{Node: n.id, Time: n.clk.Now(), Kind: kind, Detail: fmt.Sprintf(format, a...), Duration: d})
}

// compacted emits EventCompaction when the background part of a compaction
// ends (mvcc.Config.OnCompacted): from the start of its index compaction to
// its last key-bucket batch, what etcd logs as "finished scheduled
// compaction" (whose "took" leaves the index compaction out: Values
// "took_s" is that figure, "index_s" the rest).
func (n *Node) compacted(st mvcc.CompactionStats) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	n.m.IndexCompactionPause.Observe(ms(st.Index))
	for _, p := range st.Pauses {
		n.m.DBCompactionPause.Observe(ms(p))
	}
	// etcd observes these in defers: a stopped compaction counts too.
	n.m.DBCompactionTotal.Observe(ms(st.Took))
	n.m.DBCompactionLast.Set(float64(st.End.Unix()))
	n.m.DBCompactionKeys.Add(float64(st.KeysDeleted))
	if n.opts.OnEvent == nil {
		return
	}
	n.opts.OnEvent(Event{Node: n.id, Time: st.End, Kind: EventCompaction, Duration: st.End.Sub(st.Start),
		Detail: st.Detail(), Values: st.Values()})
}
