package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/cluster/metrics"
	"etcdlab/cluster/snap"
	"etcdlab/cluster/transport"
	"etcdlab/cluster/wal"
	"etcdlab/engines/backend"
	"etcdlab/internal/clock"
	"etcdlab/mvcc"
)

// Peer is a member known at bootstrap: its raft ID and transport address
// (ignored by the in-process network).
type Peer struct {
	ID   uint64
	Addr string
}

// member is the node's view of one member, kept in snapshots (Data) so that a
// restart from a snapshot still knows every peer's address.
type member struct {
	ID      uint64 `json:"id"`
	Addr    string `json:"addr"`
	Learner bool   `json:"learner"`
}

// snapshotData is what a .snap file carries besides raft's metadata: the
// membership, as etcd keeps it in the snapshot (never the backend db).
type snapshotData struct {
	Members []member `json:"members"`
	Removed []uint64 `json:"removed"`
}

// NewTransport builds the node's transport once the node (its handler)
// exists.
type NewTransport func(h transport.Handler) (transport.Transport, error)

// Node is one etcdlab member: a raft RawNode, its WAL and snapshotter, an
// MVCC store over an engine, an apply goroutine and a read loop.
type Node struct {
	id   uint64
	opts NodeOptions
	clk  clock.Clock
	fs   vfs.FS
	dirs nodeDirs

	raft  raftState  // the RawNode under raft.mu; raft log, WAL, snapshotter, transport
	kv    storeState // the store under kv.mu; the lessor
	prog  progress   // applied, committed, term, leader: atomics
	reqs  requests   // request IDs, proposers waiting, deferred conf-change answers
	mb    membership // members, removed IDs and alarms under mb.mu
	snaps snapHolds  // snapshot sends that hold raft log compaction
	// Leadership and first-commit notifications for the read loop.
	notify leaderNotify
	reads  readState // the read loop's round under reads.mu, and its channels
	loops  loops     // channels between the goroutines, stop

	// Apply-goroutine state (only the apply goroutine writes these).
	ap    applyState
	stats nodeStats
	// m holds the node's Prometheus figures (etcd's names); event figures
	// are updated where the events happen, state figures read by state().
	m *metrics.Metrics
	// hbSent holds, per follower ID, the clock's UnixNano when the leader
	// last sent it a heartbeat (a *atomic.Int64), so that the response
	// gives a peer round trip (etcd_network_peer_round_trip_time_seconds).
	hbSent sync.Map
	err    atomic.Value // first fatal error (error)
}

type applyState struct {
	appliedIndex, appliedTerm uint64
	snapIndex                 uint64
	// memSnapIndex is the index of the last snapshot to memory (etcd 3.6's
	// memorySnapshotIndex); a disk snapshot is one too.
	memSnapIndex uint64
	confState    raftpb.ConfState
}

type nodeStats struct {
	proposals, applied, readIndexRounds, snapshots, snapshotsInstalled atomic.Int64
	// readIndexRequests counts ReadIndex calls into raft (retries
	// included); linearizableReads counts the readers that joined a round.
	readIndexRequests, linearizableReads atomic.Int64
	// ticksAdvanced counts the election ticks fast-forwarded at start,
	// ticks those the Ready loop took from its ticker.
	ticksAdvanced, ticks atomic.Int64
	// memorySnapshots counts snapshots to memory only, raftLogCompactions
	// every compaction of the in-memory raft log (at either kind).
	memorySnapshots, raftLogCompactions atomic.Int64
	// autoCompactions and autoCompactFailures count the auto-compaction
	// loop's compactions (ErrCompacted counted as done) and failures.
	autoCompactions, autoCompactFailures atomic.Int64
}

type toApply struct {
	entries  []raftpb.Entry
	snapshot raftpb.Snapshot
	// notifyc is signalled once the Ready's entries and snapshot are durable
	// and in MemoryStorage.
	notifyc chan struct{}
	// done is closed when the apply goroutine has applied this batch.
	done chan struct{}
}

// StartNode opens (or creates) a node and starts its loops.
func StartNode(opts NodeOptions, newTr NewTransport) (*Node, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if newTr == nil {
		return nil, fmt.Errorf("%w: no transport", ErrBadOption)
	}
	m := opts.Metrics
	if m == nil {
		var err error
		if m, err = metrics.New(metrics.Options{}); err != nil {
			return nil, err
		}
	}
	n := &Node{
		id:   opts.ID,
		opts: opts,
		clk:  opts.Clock,
		fs:   opts.FS,
		dirs: nodeDirs{member: filepath.Join(opts.Dir, "member")},
		prog: progress{applyWait: newIndexWaiter()},
		reqs: requests{wait: newWaiter()},
		mb: membership{
			alarms:  make(map[alarmKey]struct{}),
			members: make(map[uint64]member),
			removed: make(map[uint64]bool),
		},
		notify: leaderNotify{
			leaderChanged:     make(chan struct{}),
			firstCommitInTerm: make(chan struct{}),
		},
		reads: readState{
			notifier: newNotifier(),
			waitc:    make(chan struct{}, 1),
			stateC:   make(chan raft.ReadState, 64),
		},
		loops: loops{
			applyq:   newApplyQueue(), // etcd's FIFO: the Ready loop never waits for an apply
			msgSnapC: make(chan raftpb.Message, 16),
			readyc:   make(chan struct{}, 1),
			stopc:    make(chan struct{}),
		},
		m: m,
	}
	n.opts.onCompacted = n.compacted
	n.kv.vcfg = mvcc.Config{MaxRequestBytes: opts.MaxRequestBytes, Clock: opts.Clock}
	n.kv.vcfg.EnsureDefaults()
	n.dirs.wal = filepath.Join(n.dirs.member, "wal")
	n.dirs.snap = filepath.Join(n.dirs.member, "snap")
	n.dirs.engine = filepath.Join(n.dirs.member, "engine")
	// etcd's idutil: member ID in the top 16 bits, a time prefix, a counter,
	// so IDs do not repeat across restarts of the same member.
	n.reqs.idBase = (opts.ID&0xffff)<<48 | (uint64(n.clk.Now().UnixMilli())&0xffffffffff)<<8
	if err := n.open(); err != nil {
		n.closeFiles()
		return nil, err
	}
	tr, err := newTr(n)
	if err != nil {
		n.closeFiles()
		return nil, err
	}
	n.raft.tr = tr
	m.SetSource(n.state)
	for _, m := range n.mb.peers(n.id) {
		tr.AddPeer(m.ID, m.Addr)
	}
	n.adjustTicks()
	n.loops.wg.Add(4)
	go n.raftLoop()
	go n.applyLoop()
	go n.readLoop()
	go n.leaseRevokeLoop()
	n.startAutoCompaction()
	return n, nil
}

func (n *Node) walOptions() wal.Options {
	return wal.Options{
		SegmentSize: n.opts.WALSegmentSize,
		Clock:       n.clk,
		OnSync: func(d time.Duration, bytes int64) {
			n.m.WALFsync.Observe(d.Seconds())
			n.m.WALWriteBytes.Add(float64(bytes))
		},
		OnEvent: func(e wal.Event) {
			switch e.Kind {
			case wal.EventCut:
				n.emit(EventWALCut, 0, "segment %s", e.File)
			case wal.EventSlowSync:
				n.emit(EventSlowFsync, e.Duration, "wal sync of %s took %v", e.File, e.Duration)
			}
		},
	}
}

func (n *Node) backendConfig() backend.Config {
	c := n.opts.Backend
	c.Clock = n.clk
	c.OnCommit = func(ci backend.CommitInfo) {
		n.m.BackendCommit.Observe(ci.Duration.Seconds())
		if n.opts.OnEvent != nil {
			n.emit(EventBackendCommit, ci.Duration, "ops=%d reason=%s err=%v", ci.Ops, ci.Reason, ci.Err)
		}
	}
	return c
}

func (n *Node) raftConfig() *raft.Config {
	return &raft.Config{
		ID:                        n.id,
		ElectionTick:              n.opts.ElectionTicks,
		HeartbeatTick:             n.opts.HeartbeatTicks,
		Storage:                   n.raft.storage,
		MaxSizePerMsg:             n.opts.MaxSizePerMsg,
		MaxInflightMsgs:           n.opts.MaxInflightMsgs,
		MaxUncommittedEntriesSize: n.opts.MaxUncommittedBytes,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		Logger:                    &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	}
}

// open restores the node from its data dir, or creates it: etcd's
// bootstrap (server/etcdserver/bootstrap.go) in the small.
func (n *Node) open() error {
	if err := n.fs.MkdirAll(n.dirs.snap, 0o755); err != nil {
		return fmt.Errorf("cluster: create %s: %w", n.dirs.snap, err)
	}
	n.raft.ss = snap.New(n.fs, n.dirs.snap)
	n.raft.storage = raft.NewMemoryStorage()

	if !wal.Exist(n.fs, n.dirs.wal) {
		st, le, err := openStore(n.opts, n.dirs.engine, n.backendConfig())
		if err != nil {
			return err
		}
		n.kv.store, n.kv.lessor = st, le
		meta := make([]byte, 8)
		binary.BigEndian.PutUint64(meta, n.id)
		w, err := wal.Create(n.fs, n.dirs.wal, meta, n.walOptions())
		if err != nil {
			return fmt.Errorf("cluster: create wal: %w", err)
		}
		n.raft.w = w
		rn, err := raft.NewRawNode(n.raftConfig())
		if err != nil {
			return fmt.Errorf("cluster: raft: %w", err)
		}
		n.raft.rn = rn
		if !n.opts.Join {
			if len(n.opts.Peers) == 0 {
				return fmt.Errorf("%w: a new cluster needs Peers", ErrBadOption)
			}
			peers := make([]raft.Peer, len(n.opts.Peers))
			for i, p := range n.opts.Peers {
				peers[i] = raft.Peer{ID: p.ID, Context: encodeConfContext(0, p.Addr)}
				n.mb.members[p.ID] = member{ID: p.ID, Addr: p.Addr}
			}
			if err := rn.Bootstrap(peers); err != nil {
				return fmt.Errorf("cluster: bootstrap: %w", err)
			}
		} else {
			for _, p := range n.opts.Peers {
				n.mb.members[p.ID] = member{ID: p.ID, Addr: p.Addr}
			}
		}
		return nil
	}

	walSnaps, err := wal.ValidSnapshotEntries(n.fs, n.dirs.wal)
	if err != nil {
		return fmt.Errorf("cluster: wal snapshots: %w", err)
	}
	var snapshot *raftpb.Snapshot
	if s, err := n.raft.ss.LoadNewestAvailable(walSnaps); err == nil {
		snapshot = s
	} else if !errors.Is(err, snap.ErrNoSnapshot) {
		return fmt.Errorf("cluster: load snapshot: %w", err)
	}
	var walSnap wal.Snapshot
	var image string
	if snapshot != nil {
		walSnap = wal.Snapshot{Index: snapshot.Metadata.Index, Term: snapshot.Metadata.Term, ConfState: &snapshot.Metadata.ConfState}
		image = n.raft.ss.DBFilePath(snapshot.Metadata.Index)
	}
	st, le, err := openStore(n.opts, n.dirs.engine, n.backendConfig())
	if err == nil && snapshot != nil {
		if ci, _ := st.ConsistentIndex(); ci < snapshot.Metadata.Index {
			// The backend is older than the snapshot: a received image was
			// saved but not yet swapped in when the node stopped.
			_ = st.Close()
			le.Close()
			st, le, err = nil, nil, errBackendBehind
		}
	}
	if err != nil && snapshot != nil && fileExists(n.fs, image) {
		st, le, err = installImage(n.opts, n.dirs.engine, image, n.backendConfig())
	}
	if err != nil {
		return err
	}
	n.kv.store, n.kv.lessor = st, le
	if ci, _ := st.ConsistentIndex(); snapshot != nil && ci < snapshot.Metadata.Index {
		return fmt.Errorf("cluster: backend consistent index %d is behind snapshot %d and no image is available", ci, snapshot.Metadata.Index)
	}
	w, err := wal.Open(n.fs, n.dirs.wal, walSnap, n.walOptions())
	if err != nil {
		return fmt.Errorf("cluster: open wal: %w", err)
	}
	n.raft.w = w
	meta, hs, ents, err := w.ReadAll()
	if err != nil {
		return fmt.Errorf("cluster: read wal: %w", err)
	}
	if len(meta) != 8 || binary.BigEndian.Uint64(meta) != n.id {
		return fmt.Errorf("%w: the WAL in %s belongs to another member (metadata %x), not %x", ErrBadOption, n.dirs.wal, meta, n.id)
	}
	if snapshot != nil {
		if err := n.raft.storage.ApplySnapshot(*snapshot); err != nil {
			return fmt.Errorf("cluster: apply snapshot to raft storage: %w", err)
		}
		n.ap.appliedIndex, n.ap.appliedTerm = snapshot.Metadata.Index, snapshot.Metadata.Term
		n.ap.snapIndex = snapshot.Metadata.Index
		n.ap.memSnapIndex = snapshot.Metadata.Index
		n.ap.confState = snapshot.Metadata.ConfState
		n.updateLearner()
		n.prog.applied.Store(snapshot.Metadata.Index)
		if err := n.restoreMembers(snapshot.Data); err != nil {
			return err
		}
	}
	if err := n.raft.storage.SetHardState(hs); err != nil {
		return fmt.Errorf("cluster: raft hard state: %w", err)
	}
	if err := n.raft.storage.Append(ents); err != nil {
		return fmt.Errorf("cluster: raft entries: %w", err)
	}
	// An entry is applied only once it is durable in this node's WAL (raft
	// counts the node's own log at Advance, after the Ready loop saved it),
	// so a crash, torn tail included, never leaves the backend ahead of the
	// WAL. A backend ahead means the WAL lost records that had been synced
	// (a disk error, a truncated or copied file): new entries would take
	// indexes the backend has applied, be skipped, and their writers would
	// never be answered. Refuse to start, as etcd's verify check does.
	if ci, _ := st.ConsistentIndex(); ci > 0 {
		if last, _ := n.raft.storage.LastIndex(); ci > last {
			return fmt.Errorf("%w: the backend in %s has applied up to index %d but the WAL in %s ends at %d: "+
				"records that had been synced are gone from the WAL, which a crash cannot do; "+
				"restore this member from a snapshot, or remove it from the cluster and add it back with an empty data dir",
				ErrWALBehindBackend, n.dirs.engine, ci, n.dirs.wal, last)
		}
	}
	n.prog.committed.Store(hs.Commit)
	for _, p := range n.opts.Peers {
		if _, ok := n.mb.members[p.ID]; !ok {
			n.mb.members[p.ID] = member{ID: p.ID, Addr: p.Addr}
		}
	}
	// Conf-change entries after the snapshot carry addresses too.
	for _, e := range ents {
		if e.Type == raftpb.EntryConfChange {
			var cc raftpb.ConfChange
			if cc.Unmarshal(e.Data) == nil && cc.Type != raftpb.ConfChangeRemoveNode {
				_, addr := decodeConfContext(cc.Context)
				if _, ok := n.mb.members[cc.NodeID]; !ok {
					n.mb.members[cc.NodeID] = member{ID: cc.NodeID, Addr: addr}
				}
			}
		}
	}
	n.loadAlarms()
	rn, err := raft.NewRawNode(n.raftConfig())
	if err != nil {
		return fmt.Errorf("cluster: raft: %w", err)
	}
	n.raft.rn = rn
	return nil
}

var errBackendBehind = errors.New("cluster: backend behind snapshot")

func (n *Node) restoreMembers(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var sd snapshotData
	if err := json.Unmarshal(data, &sd); err != nil {
		return fmt.Errorf("%w: snapshot membership: %v", ErrCorrupt, err)
	}
	n.mb.restore(sd)
	return nil
}

func fileExists(fs vfs.FS, path string) bool {
	_, err := fs.Stat(path)
	return err == nil
}

// ID returns the node's raft ID.
func (n *Node) ID() uint64 { return n.id }

// Leader returns the leader this node knows of (0 if none).
func (n *Node) Leader() uint64 { return n.prog.lead.Load() }

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool { return n.prog.lead.Load() == n.id }

// Term returns the node's current raft term.
func (n *Node) Term() uint64 { return n.prog.term.Load() }

// AppliedIndex returns the index of the last applied entry.
func (n *Node) AppliedIndex() uint64 { return n.prog.applied.Load() }

// CommittedIndex returns the last committed index the node knows of.
func (n *Node) CommittedIndex() uint64 { return n.prog.committed.Load() }

// Err returns the fatal error that stopped the node, if any.
func (n *Node) Err() error {
	if e, ok := n.err.Load().(error); ok {
		return e
	}
	return nil
}

// fail records a fatal error and stops the node: a WAL or snapshot write that
// failed leaves raft's promises unkept, so the node must not go on (etcd
// panics here).
func (n *Node) fail(err error) {
	n.err.CompareAndSwap(nil, err)
	n.loops.stopOnce.Do(func() { close(n.loops.stopc) })
}

// RaftStatus returns raft's status (progress of followers on a leader).
func (n *Node) RaftStatus() raft.Status {
	return n.raft.status()
}

// FirstIndex is the first index still in the raft log (after compaction).
func (n *Node) FirstIndex() uint64 {
	i, _ := n.raft.storage.FirstIndex()
	return i
}

// SnapshotIndex is the index of the newest snapshot the node holds in raft's
// storage: a disk snapshot, or (RaftLogCompaction "3.6") a snapshot to memory.
func (n *Node) SnapshotIndex() uint64 {
	s, _ := n.raft.storage.Snapshot()
	return s.Metadata.Index
}

// WALStats returns the WAL's counters (fsyncs for puts-per-fsync figures).
func (n *Node) WALStats() wal.Stats { return n.raft.w.Stats() }

// IsLearner reports whether this node is a learner.
func (n *Node) IsLearner() bool { return n.prog.isLearner.Load() }

// Options returns the node's options, defaults filled in.
func (n *Node) Options() NodeOptions { return n.opts }

// Done is closed when the node stops: Stop, a fatal error (Err), or its
// removal from the cluster.
func (n *Node) Done() <-chan struct{} { return n.loops.stopc }

// BackendSizes returns the backend's size on disk and the part of it in use
// (ErrStopped once the store is closed).
func (n *Node) BackendSizes() (size, inUse int64, err error) {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return 0, 0, ErrStopped
	}
	be := n.kv.store.Backend()
	return be.Size(), be.SizeInUse(), nil
}

// BackendSnapshot writes the backend's image to w (the v3 API's Snapshot),
// timed in etcd_disk_backend_snapshot_duration_seconds.
func (n *Node) BackendSnapshot(w io.Writer) (int64, error) {
	n.kv.mu.RLock()
	if n.kv.store == nil {
		n.kv.mu.RUnlock()
		return 0, ErrStopped
	}
	be := n.kv.store.Backend()
	n.kv.mu.RUnlock()
	start := n.clk.Now()
	size, err := be.Snapshot(w)
	n.m.BackendSnapshot.Observe(n.clk.Since(start).Seconds())
	return size, err
}

// BackendSize is the backend's size on disk.
func (n *Node) BackendSize() int64 {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return 0
	}
	return n.kv.store.Backend().Size()
}

// Hash returns the store's HashKV at rev (0: current) and its revision.
func (n *Node) Hash(rev int64) (mvcc.KeyValueHash, int64, error) {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return mvcc.KeyValueHash{}, 0, ErrStopped
	}
	return n.kv.store.HashByRev(rev)
}

// Rev returns the store's current revision.
func (n *Node) Rev() int64 {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return 0
	}
	return n.kv.store.Rev()
}

// CompactRev returns the store's compaction revision.
func (n *Node) CompactRev() int64 {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return 0
	}
	return n.kv.store.CompactRev()
}

// Transport returns the node's transport.
func (n *Node) Transport() transport.Transport { return n.raft.tr }

// Stop stops the node cleanly: loops end, the backend commits, the WAL syncs.
func (n *Node) Stop() error {
	n.loops.stopOnce.Do(func() { close(n.loops.stopc) })
	var errs []error
	// The transport first: it ends snapshot streams the loops may wait on.
	if n.raft.tr != nil {
		errs = append(errs, n.raft.tr.Close())
	}
	n.loops.wg.Wait()
	n.reqs.wait.failAll(ErrStopped)
	errs = append(errs, n.closeFiles())
	return errors.Join(errs...)
}

// Kill stops the node as a crash would for what matters: the engine is
// closed before the backend so pending (uncommitted) backend writes are lost,
// and only the raft WAL's synced records can bring them back on restart.
func (n *Node) Kill() {
	n.loops.stopOnce.Do(func() { close(n.loops.stopc) })
	if n.raft.tr != nil {
		_ = n.raft.tr.Close()
	}
	n.loops.wg.Wait()
	n.reqs.wait.failAll(ErrStopped)
	_ = n.kv.closeStore(true)
	if n.kv.lessor != nil {
		n.kv.lessor.Close()
	}
	if n.raft.w != nil {
		_ = n.raft.w.Close()
		n.raft.w = nil
	}
}

func (n *Node) closeFiles() error {
	var errs []error
	if n.kv.lessor != nil {
		n.kv.lessor.Close()
	}
	errs = append(errs, n.kv.closeStore(false))
	if n.raft.w != nil {
		errs = append(errs, n.raft.w.Close())
		n.raft.w = nil
	}
	return errors.Join(errs...)
}

func (n *Node) signal() {
	select {
	case n.loops.readyc <- struct{}{}:
	default:
	}
}

// --- transport.Handler ---

var _ transport.Handler = (*Node)(nil)

// Process steps a message from a peer into raft.
func (n *Node) Process(ctx context.Context, m raftpb.Message) error {
	select {
	case <-n.loops.stopc:
		return ErrStopped
	default:
	}
	// mb.mu inline, as raft.mu below (see state.go).
	n.mb.mu.RLock()
	removed := n.mb.removed[m.From]
	n.mb.mu.RUnlock()
	if removed {
		return ErrIDRemoved
	}
	if m.Type == raftpb.MsgHeartbeatResp {
		n.observeHeartbeatResp(&m)
	}
	n.raft.mu.Lock() // inline, as a proposal's (see state.go)
	err := n.raft.rn.Step(m)
	n.raft.mu.Unlock()
	n.signal()
	if errors.Is(err, raft.ErrStepPeerNotFound) || errors.Is(err, raft.ErrStepLocalMsg) {
		return nil
	}
	return err
}

// ProcessSnapshot saves the leader's backend image durably, then steps the
// MsgSnap: by the time raft hands the snapshot to the Ready loop, the image
// it refers to is on disk (etcd's rafthttp snapshot handler).
func (n *Node) ProcessSnapshot(ctx context.Context, m raftpb.Message, image io.Reader) error {
	if m.Snapshot == nil {
		return fmt.Errorf("%w: MsgSnap without a snapshot", ErrCorrupt)
	}
	start := n.clk.Now()
	_, size, err := n.raft.ss.ReceiveDBImage(image, m.Snapshot.Metadata.Index)
	if err != nil {
		return fmt.Errorf("cluster: receive snapshot image: %w", err)
	}
	n.emit(EventSnapshotReceived, n.clk.Since(start), "index=%d from=%x bytes=%d", m.Snapshot.Metadata.Index, m.From, size)
	return n.Process(ctx, m)
}

// ReportUnreachable tells raft a peer could not be reached.
func (n *Node) ReportUnreachable(id uint64) {
	n.raft.reportUnreachable(id)
}

// ReportSnapshot tells raft how a snapshot send ended.
func (n *Node) ReportSnapshot(id uint64, status raft.SnapshotStatus) {
	outcome := "finished"
	if status == raft.SnapshotFailure {
		outcome = "failed"
	} else {
		n.holdCompaction()
	}
	n.snaps.inflight.Add(-1)
	n.emit(EventSnapshotSent, 0, "to=%x %s", id, outcome)
	n.raft.reportSnapshot(id, status)
	n.signal()
}
