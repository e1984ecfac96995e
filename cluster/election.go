package cluster

import "time"

// Initial election tick advance, etcd 3.6's adjustTicks
// (server/etcdserver/server.go, started by EtcdServer.Start):
//
//   - A member that is the only member of its cluster (a fresh single-member
//     cluster, or one restarting) fast-forwards ElectionTicks-1 ticks at
//     once, whatever --initial-election-tick-advance says. Raft's randomized
//     election timeout is ElectionTicks + [0, ElectionTicks) ticks, so the
//     member campaigns (and, alone, wins) 1 to ElectionTicks ticks after it
//     starts instead of ElectionTicks to 2×ElectionTicks-1.
//   - With more members and the advance on (the default), it polls every
//     50ms, for up to 5s (rafthttp.ConnReadTimeout), until more than one
//     peer is active (rafthttp's ActivePeers() > 1), then fast-forwards
//     ElectionTicks-2 ticks (one short, in case the leader's message is slow
//     to arrive). With the advance off, or no peers active in time, it
//     leaves raft's ticks alone.
//
// etcdlab asks the transport for its active peers through activePeerCounter:
// the in-process network implements it (a joined, reachable peer is
// connected); the TCP transport, which dials a peer only when it first has a
// message for it, does not, so a cluster of processes does not advance its
// ticks when it has more than one member.
const (
	tickAdvancePoll    = 50 * time.Millisecond
	tickAdvanceMaxWait = 5 * time.Second
)

// activePeerCounter is the optional transport capability the multi-member
// tick advance needs.
type activePeerCounter interface {
	ActivePeers() int
}

// adjustTicks runs once, in StartNode before the node's loops start. A
// single member advances at once, before raft's Ready loop has run: the
// loop then handles the bootstrap's (or a restart's) committed entries
// before its first tick, so raft never reaches its election timeout with
// conf changes still unapplied (it would refuse to campaign and start the
// timeout over). A member of a larger cluster waits for its peers on a
// goroutine of its own.
func (n *Node) adjustTicks() {
	if n.mb.count() == 1 {
		n.advanceTicks(n.opts.ElectionTicks - 1)
		return
	}
	if n.opts.NoInitialElectionTickAdvance {
		return
	}
	ap, ok := n.raft.tr.(activePeerCounter)
	if !ok {
		return
	}
	n.loops.wg.Add(1)
	go func() {
		defer n.loops.wg.Done()
		poll := n.clk.NewTicker(tickAdvancePoll)
		defer poll.Stop()
		for i := 0; i < int(tickAdvanceMaxWait/tickAdvancePoll); i++ {
			select {
			case <-poll.C():
			case <-n.loops.stopc:
				return
			}
			if ap.ActivePeers() > 1 {
				n.advanceTicks(n.opts.ElectionTicks - 2)
				return
			}
		}
	}()
}

// advanceTicks ticks raft k times at once (etcd's raftNode.advanceTicks)
// and wakes the Ready loop for whatever the ticks produced.
func (n *Node) advanceTicks(k int) {
	n.raft.tick(k)
	n.stats.ticksAdvanced.Add(int64(k))
	n.signal()
}
