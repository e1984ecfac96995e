package cluster

import (
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/cluster/snap"
	"etcdlab/cluster/transport"
	"etcdlab/cluster/wal"
	"etcdlab/engines/backend"
	"etcdlab/lease"
	"etcdlab/mvcc"
)

// The parts of a Node's state. Each part names the lock that guards it (or
// says why it needs none), and the methods that take the lock are the
// part's own, so that a reader of a field sees which lock guards it. The
// request paths take their locks inline, as before the split, so that they
// pay no call more (a locking method around a call into raft or the store
// would not inline): Put, Range and Txn take kv.mu; a proposal, a read index
// request, a peer's message and the Ready loop's Ready and Advance take
// raft.mu; a peer's message mb.mu; a linearizable read and its round
// reads.mu; the Ready loop's deferred conf-change answers reqs.confAcks.mu.
// The parts are values inside Node, so a field costs no indirection more.

// nodeDirs are the member's directories under NodeOptions.Dir, set at start.
type nodeDirs struct {
	member, wal, snap, engine string
}

// raftState is raft's side of the node: the RawNode, its log storage, the WAL,
// the snapshotter and the transport.
type raftState struct {
	// mu guards rn: RawNode is not safe for concurrent use. Callers step,
	// propose and read-index under mu; the raft loop takes Ready and Advances.
	mu sync.Mutex
	rn *raft.RawNode
	// storage is raft's in-memory log and the WAL its file; both lock
	// themselves, and the Ready loop and the apply goroutine write both.
	// The snapshotter keeps no state but its directory; the transport is
	// safe for concurrent use. All four are set when the node opens; the
	// WAL is closed (and set to nil) only when no loop runs.
	storage *raft.MemoryStorage
	w       *wal.WAL
	ss      *snap.Snapshotter
	tr      transport.Transport
}

// status returns raft's full status under mu.
func (r *raftState) status() raft.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rn.Status()
}

// tick ticks raft k times under mu.
func (r *raftState) tick(k int) {
	r.mu.Lock()
	for i := 0; i < k; i++ {
		r.rn.Tick()
	}
	r.mu.Unlock()
}

// applyConfChange applies a committed conf change to raft under mu.
func (r *raftState) applyConfChange(cc raftpb.ConfChangeI) *raftpb.ConfState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rn.ApplyConfChange(cc)
}

// proposeConfChange proposes a conf change under mu.
func (r *raftState) proposeConfChange(cc raftpb.ConfChange) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rn.ProposeConfChange(cc)
}

// reportUnreachable tells raft, under mu, that a peer could not be reached.
func (r *raftState) reportUnreachable(id uint64) {
	r.mu.Lock()
	r.rn.ReportUnreachable(id)
	r.mu.Unlock()
}

// reportSnapshot tells raft, under mu, how a snapshot send ended.
func (r *raftState) reportSnapshot(id uint64, status raft.SnapshotStatus) {
	r.mu.Lock()
	r.rn.ReportSnapshot(id, status)
	r.mu.Unlock()
}

// basicStatus returns raft's basic status under mu.
func (r *raftState) basicStatus() raft.BasicStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rn.BasicStatus()
}

// storeState is the node's MVCC store and lessor.
type storeState struct {
	// mu guards the store pointer, swapped when a snapshot's backend is
	// installed; readers hold it shared for the duration of a read.
	mu    sync.RWMutex
	store *mvcc.Store
	// lessor is the node's lease manager, opened with the store and never
	// replaced (a snapshot install recovers it over the new backend); its
	// methods are safe to call at any time, and fail once it is closed.
	lessor *lease.Lessor
	vcfg   mvcc.Config // request validation, as the store's; set at start
}

// markConsistent records index as applied unless the store is past it.
func (s *storeState) markConsistent(index, term uint64) {
	s.mu.RLock()
	if ci, _ := s.store.ConsistentIndex(); index > ci {
		s.store.SetConsistentIndex(index, term)
	}
	s.mu.RUnlock()
}

// backend returns the open store's backend.
func (s *storeState) backend() *backend.Backend {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.store.Backend()
}

// closeStore closes the store, if open. A crash closes the engine first, so
// that the backend's pending (uncommitted) writes are lost.
func (s *storeState) closeStore(crash bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store == nil {
		return nil
	}
	var err error
	if crash {
		_ = s.store.Backend().Engine().Close()
		_ = s.store.Close()
	} else {
		err = s.store.Close()
	}
	s.store = nil
	return err
}

// progress is what the node has seen of raft's progress, published with
// atomics for readers on any goroutine; the Ready loop and the apply
// goroutine write it.
type progress struct {
	applied   atomic.Uint64
	committed atomic.Uint64
	term      atomic.Uint64
	lead      atomic.Uint64
	isLearner atomic.Bool
	// lastTick is the clock's UnixNano at the raft loop's last tick (etcd's
	// latestTickTs, for ensureLeadership).
	lastTick atomic.Int64
	// compactDone is closed when the last applied compaction's background
	// deletion has finished (nil before any compaction).
	compactDone atomic.Pointer[compactWait]
	// applyWait wakes the waiters for an applied index (it locks itself).
	applyWait *indexWaiter
}

// requests are the node's request IDs and the proposers waiting for an
// answer.
type requests struct {
	seq    atomic.Uint64 // request ID generator (low bits)
	idBase uint64        // set at start
	wait   *waiter       // proposers by request ID; it locks itself
	// confAcks answer conf-change proposers, deferred until the Ready loop
	// has called Advance past the change: raft accepts the next conf change
	// only once its own applied index covers the pending one, and would
	// otherwise turn it into an empty entry that its proposer waits on in vain.
	confAcks confAckQueue
}

// nextID returns a new request ID.
func (r *requests) nextID() uint64 { return r.idBase + r.seq.Add(1) }

// confAckQueue holds the deferred conf-change answers, under mu (the Ready
// loop takes them with the lock inline, flushConfAcks).
type confAckQueue struct {
	mu  sync.Mutex
	fns []func()
}

func (q *confAckQueue) push(f func()) {
	q.mu.Lock()
	q.fns = append(q.fns, f)
	q.mu.Unlock()
}

// leaderNotify holds the leadership and first-commit notifications for the
// read loop: each channel is closed, and replaced, under mu when its event
// happens.
type leaderNotify struct {
	mu                sync.Mutex
	leaderChanged     chan struct{}
	firstCommitInTerm chan struct{}
}

func (l *leaderNotify) leaderChangedC() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leaderChanged
}

func (l *leaderNotify) firstCommitInTermC() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstCommitInTerm
}

func (l *leaderNotify) notifyLeaderChanged() {
	l.mu.Lock()
	close(l.leaderChanged)
	l.leaderChanged = make(chan struct{})
	l.mu.Unlock()
}

func (l *leaderNotify) notifyFirstCommitInTerm() {
	l.mu.Lock()
	close(l.firstCommitInTerm)
	l.firstCommitInTerm = make(chan struct{})
	l.mu.Unlock()
}

// readState is the read loop's: the round readers join, and the channels
// that wake the loop and bring it raft's ReadStates.
type readState struct {
	// mu guards notifier, the round that readers arriving now will share;
	// the read path and the read loop lock it inline (read.go).
	mu       sync.RWMutex
	notifier *notifier
	waitc    chan struct{}       // a reader is waiting (buffered 1)
	stateC   chan raft.ReadState // ReadStates from the Ready loop
}

// stop fails the current round's readers with err.
func (r *readState) stop(err error) {
	r.mu.Lock()
	r.notifier.notify(err)
	r.mu.Unlock()
}

// loops are the channels between the node's goroutines and their stop.
type loops struct {
	applyq   *applyQueue         // Ready loop to apply goroutine (etcd's FIFO; it locks itself)
	msgSnapC chan raftpb.Message // MsgSnaps the apply goroutine completes and sends
	readyc   chan struct{}       // wakes the Ready loop (buffered 1)
	stopc    chan struct{}       // closed once, by stopOnce, to stop every loop
	stopOnce sync.Once
	wg       sync.WaitGroup // the node's goroutines
}

// membership is the node's view of the cluster, shared with clients: the
// members, the removed IDs and the alarms, read under mu (open fills the
// members before the node's goroutines start, without it).
type membership struct {
	mu      sync.RWMutex
	alarms  map[alarmKey]struct{}
	members map[uint64]member
	removed map[uint64]bool
	// confBusy is set while this node proposes a conf change: one pending
	// change at a time (proposeConfChange).
	confBusy atomic.Bool
}

// isRemoved reports whether id was removed from the cluster.
func (m *membership) isRemoved(id uint64) bool {
	m.mu.RLock()
	removed := m.removed[id]
	m.mu.RUnlock()
	return removed
}

// lookup returns the member id and whether it is a member, or was one.
func (m *membership) lookup(id uint64) (mem member, exists, removed bool) {
	m.mu.RLock()
	mem, exists = m.members[id]
	removed = m.removed[id]
	m.mu.RUnlock()
	return mem, exists, removed
}

// count is the number of members.
func (m *membership) count() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.members)
}

// peers returns every member but self.
func (m *membership) peers(self uint64) []member {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]member, 0, len(m.members))
	for id, mem := range m.members {
		if id != self {
			out = append(out, mem)
		}
	}
	return out
}

// list returns the members by ID.
func (m *membership) list() []Member {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Member, 0, len(m.members))
	for _, mem := range m.members {
		out = append(out, Member(mem))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// applyConfChange records a conf change of member id (addr: its address, if
// the change carries one).
func (m *membership) applyConfChange(t raftpb.ConfChangeType, id uint64, addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch t {
	case raftpb.ConfChangeAddNode:
		mem := m.members[id]
		mem.ID = id
		if addr != "" {
			mem.Addr = addr
		}
		mem.Learner = false
		m.members[id] = mem
	case raftpb.ConfChangeAddLearnerNode:
		m.members[id] = member{ID: id, Addr: addr, Learner: true}
	case raftpb.ConfChangeRemoveNode:
		delete(m.members, id)
		m.removed[id] = true
	}
}

// snapshotData encodes the membership for a snapshot.
func (m *membership) snapshotData() []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var sd snapshotData
	for _, mem := range m.members {
		sd.Members = append(sd.Members, mem)
	}
	for id := range m.removed {
		sd.Removed = append(sd.Removed, id)
	}
	b, _ := json.Marshal(sd)
	return b
}

// restore replaces the members with a snapshot's and adds its removed IDs.
func (m *membership) restore(sd snapshotData) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.members)
	for _, mem := range sd.Members {
		m.members[mem.ID] = mem
	}
	for _, id := range sd.Removed {
		m.removed[id] = true
	}
}

// alarmActive reports whether an alarm of type t is raised on any member.
func (m *membership) alarmActive(t pb.AlarmType) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for k := range m.alarms {
		if k.alarm == t {
			return true
		}
	}
	return false
}

// setAlarm raises (on) or clears an alarm and reports whether that changed it.
func (m *membership) setAlarm(k alarmKey, on bool) (changed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, had := m.alarms[k]
	if on {
		m.alarms[k] = struct{}{}
	} else {
		delete(m.alarms, k)
	}
	return had != on
}

// setAlarms replaces the alarms (loaded from the backend).
func (m *membership) setAlarms(alarms map[alarmKey]struct{}) {
	m.mu.Lock()
	m.alarms = alarms
	m.mu.Unlock()
}

// alarmList returns the raised alarms.
func (m *membership) alarmList() []*pb.AlarmMember {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*pb.AlarmMember, 0, len(m.alarms))
	for k := range m.alarms {
		out = append(out, &pb.AlarmMember{MemberID: k.member, Alarm: k.alarm})
	}
	return out
}

// snapHolds keep the raft log from being compacted under a snapshot send.
type snapHolds struct {
	inflight atomic.Int64 // MsgSnaps handed to the apply goroutine, not yet reported
	// holdUntil (the clock's UnixNano) keeps the raft log from being
	// compacted for releaseDelayAfterSnapshot after a snapshot was sent.
	holdUntil atomic.Int64
}
