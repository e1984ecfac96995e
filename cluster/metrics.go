package cluster

import (
	"strconv"
	"sync/atomic"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/cluster/metrics"
)

// Metrics returns the node's Prometheus figures (etcd's names), in a
// registry of the node's own.
func (n *Node) Metrics() *metrics.Metrics { return n.m }

// state is the node's metrics.Source: figures the node keeps anyway, read
// at scrape time only.
func (n *Node) state() metrics.State {
	st := metrics.State{
		ID:             n.id,
		Leader:         n.prog.lead.Load(),
		CommittedIndex: n.prog.committed.Load(),
		AppliedIndex:   n.prog.applied.Load(),
		QuotaBytes:     n.opts.QuotaBytes,
	}
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return st
	}
	b := n.kv.store.Backend()
	st.StoreOK = true
	st.DBSize, st.DBSizeInUse = b.Size(), b.SizeInUse()
	st.Keys = n.kv.store.Keys()
	st.Rev, st.CompactRev = n.kv.store.Rev(), n.kv.store.CompactRev()
	st.Engine = b.Stats().Engine
	return st
}

// countRequest adds a request's operations to etcd's mvcc counters as
// etcd's metricsTxnWrite does at the end of each txn: a range, put or delete
// counts one; a txn counts its executed branch's operations (nested txns
// included) and, with more than one, one txn. etcd also counts the ranges
// its compares read; etcdlab does not. O(operations), and only atomic adds.
func (n *Node) countRequest(put, del, rng int, txn bool) {
	if put > 0 {
		n.m.Puts.Add(float64(put))
	}
	if del > 0 {
		n.m.Deletes.Add(float64(del))
	}
	if rng > 0 {
		n.m.Ranges.Add(float64(rng))
	}
	if txn && put+del+rng > 1 {
		n.m.Txns.Inc()
	}
}

// countTxn counts the operations of the branch a txn executed.
func (n *Node) countTxn(r *pb.TxnRequest, resp *pb.TxnResponse) {
	if resp == nil {
		return
	}
	p, d, g := txnOps(r, resp)
	n.countRequest(p, d, g, true)
}

func txnOps(r *pb.TxnRequest, resp *pb.TxnResponse) (put, del, rng int) {
	ops := r.Failure
	if resp.Succeeded {
		ops = r.Success
	}
	for i, op := range ops {
		switch x := op.Request.(type) {
		case *pb.RequestOp_RequestPut:
			put++
		case *pb.RequestOp_RequestDeleteRange:
			del++
		case *pb.RequestOp_RequestRange:
			rng++
		case *pb.RequestOp_RequestTxn:
			if i < len(resp.Responses) {
				if sub := resp.Responses[i].GetResponseTxn(); sub != nil {
					p, d, g := txnOps(x.RequestTxn, sub)
					put, del, rng = put+p, del+d, rng+g
				}
			}
		}
	}
	return put, del, rng
}

// noteHeartbeats records when the leader sent each follower a heartbeat;
// the follower's response (observeHeartbeatResp) closes the round trip.
// Called by the Ready loop for the heartbeats it sends.
func (n *Node) noteHeartbeat(to uint64) {
	now := n.clk.Now().UnixNano()
	if v, ok := n.hbSent.Load(to); ok {
		v.(*atomic.Int64).Store(now)
		return
	}
	a := new(atomic.Int64)
	a.Store(now)
	n.hbSent.Store(to, a)
}

// observeHeartbeatResp feeds etcd_network_peer_round_trip_time_seconds from
// a heartbeat's response. etcd measures the round trip with a separate
// prober every few seconds; etcdlab times raft's own heartbeats, so the
// figure also holds the follower's Ready loop (its WAL write, when the
// response shares a Ready with entries) — see docs/differences-from-etcd.md.
func (n *Node) observeHeartbeatResp(m *raftpb.Message) {
	v, ok := n.hbSent.Load(m.From)
	if !ok {
		return
	}
	sent := v.(*atomic.Int64).Swap(0)
	if sent == 0 {
		return // a second response to one heartbeat, or none sent
	}
	d := n.clk.Now().UnixNano() - sent
	if d < 0 {
		return
	}
	n.m.PeerRTT.WithLabelValues(strconv.FormatUint(m.From, 16)).Observe(float64(d) / 1e9)
}
