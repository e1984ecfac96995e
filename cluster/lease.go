package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster/transport"
	"etcdlab/lease"
)

// Leases, as etcd's server (server/etcdserver/v3_server.go, server.go):
//
//   - LeaseGrant and LeaseRevoke go through raft and are applied on every
//     member; a grant with ID 0 gets an ID from the node's request-ID
//     generator (etcd's idutil: member ID, time, counter), positive.
//   - Only the leader's lessor is primary: it is promoted when the leader
//     applies the empty entry of its term (every lease extended by the
//     election timeout) and demoted when the node stops leading. Its expired
//     leases are revoked through raft by leaseRevokeLoop, at most
//     maxPendingRevokes proposals at a time, after checking leadership.
//   - A keepalive (LeaseRenew) and a TimeToLive are answered by the leader;
//     a follower forwards them over the transport's Caller (etcd forwards
//     over its peer HTTP API).
//   - Quota: a grant costs leaseOverhead; refused before proposing when it
//     does not fit, and under the NOSPACE alarm at apply.

// Figures from etcd.
const (
	// leaseOverhead is the quota cost of a lease (storage/quota.go).
	leaseOverhead = 64
	// maxPendingRevokes bounds the revoke proposals in flight (server.go).
	maxPendingRevokes = 16
	// applyTimeout bounds the wait for the applied index before a renew or a
	// time-to-live is answered (v3_server.go, leasehttp).
	applyTimeout = time.Second
	// forwardRetry is the pause between attempts to forward a renew to the
	// leader (v3_server.go LeaseRenew).
	forwardRetry = 50 * time.Millisecond
)

func (n *Node) electionTimeout() time.Duration {
	return time.Duration(n.opts.ElectionTicks) * n.opts.TickInterval
}

// LeaseGrant grants a lease through raft; r.ID 0 asks the node to choose
// one (and r.ID is set to it, as etcd does).
func (n *Node) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	for r.ID == int64(lease.NoLease) {
		r.ID = int64(n.reqs.nextID() & (1<<63 - 1))
	}
	if err := n.checkQuota(ctx, leaseOverhead); err != nil {
		return nil, err
	}
	return proposeFor[*pb.LeaseGrantResponse](ctx, n, &pb.InternalRaftRequest{LeaseGrant: r})
}

// LeaseRevoke revokes a lease through raft: every member deletes its keys
// in one txn.
func (n *Node) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	return proposeFor[*pb.LeaseRevokeResponse](ctx, n, &pb.InternalRaftRequest{LeaseRevoke: r})
}

func (n *Node) applyLeaseGrant(r *pb.LeaseGrantRequest) result {
	if n.mb.alarmActive(pb.AlarmType_NOSPACE) {
		return result{err: ErrNoSpace} // etcd's capped applier
	}
	ok := n.quotaAvailable(leaseOverhead)
	info, err := n.kv.lessor.Grant(lease.ID(r.ID), r.TTL)
	if err != nil {
		return result{err: err}
	}
	resp := &pb.LeaseGrantResponse{Header: &pb.ResponseHeader{Revision: n.kv.store.Rev()}, ID: int64(info.ID), TTL: info.TTL}
	if !ok {
		n.raiseNoSpaceAsync()
		return result{resp: resp, err: ErrNoSpace}
	}
	return result{resp: resp}
}

func (n *Node) applyLeaseRevoke(r *pb.LeaseRevokeRequest) result {
	_, err := n.kv.lessor.Revoke(lease.ID(r.ID))
	if err != nil {
		return result{err: err}
	}
	return result{resp: &pb.LeaseRevokeResponse{Header: &pb.ResponseHeader{Revision: n.kv.store.Rev()}}}
}

// LeaseLeases lists this member's leases (etcd serves it locally).
func (n *Node) LeaseLeases(_ context.Context, _ *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	ids := n.kv.lessor.Leases()
	out := make([]*pb.LeaseStatus, len(ids))
	for i, id := range ids {
		out[i] = &pb.LeaseStatus{ID: int64(id)}
	}
	return &pb.LeaseLeasesResponse{Header: &pb.ResponseHeader{Revision: n.Rev()}, Leases: out}, nil
}

// isActive: the raft loop ticked within the last 3 ticks (etcd's isActive).
func (n *Node) isActive() bool {
	last := n.prog.lastTick.Load()
	return last != 0 && n.clk.Now().UnixNano()-last < int64(3*n.opts.TickInterval)
}

// ensureLeadership checks that this node still leads (etcd's
// ensureLeadership): at once if its raft loop is ticking, otherwise by a
// ReadIndex round.
func (n *Node) ensureLeadership(ctx context.Context) bool {
	if !n.IsLeader() {
		return false
	}
	if n.isActive() {
		return true
	}
	if err := n.linearizableReadNotify(ctx); err != nil {
		return false
	}
	return n.IsLeader()
}

// waitAppliedIndex waits until the node has applied what it knows to be
// committed, at most applyTimeout (etcd's waitAppliedIndex).
func (n *Node) waitAppliedIndex(ctx context.Context) error {
	t := n.clk.NewTimer(applyTimeout)
	defer t.Stop()
	select {
	case <-n.prog.applyWait.wait(n.prog.committed.Load()):
		return nil
	case <-t.C():
		return ErrTimeoutWaitAppliedIndex
	case <-ctx.Done():
		return ctx.Err()
	case <-n.loops.stopc:
		return ErrStopped
	}
}

// renewLocal renews on this node's lessor. Renewing an expired lease waits
// for its revoke or a demotion; ctx bounds that wait here.
func (n *Node) renewLocal(ctx context.Context, id int64) (int64, error) {
	type res struct {
		ttl int64
		err error
	}
	ch := make(chan res, 1)
	go func() {
		ttl, err := n.kv.lessor.Renew(lease.ID(id))
		ch <- res{ttl, err}
	}()
	select {
	case r := <-ch:
		return r.ttl, r.err
	case <-ctx.Done():
		return -1, ctx.Err()
	case <-n.loops.stopc:
		return -1, ErrStopped
	}
}

// LeaseRenew is a keepalive: the leader renews the lease on its primary
// lessor; a follower (or a leader not yet promoted) forwards it to the
// leader, retrying every forwardRetry until RequestTimeout (etcd's
// LeaseRenew). A lease that does not exist gives lease.ErrLeaseNotFound.
func (n *Node) LeaseRenew(ctx context.Context, id int64) (int64, error) {
	if n.IsLeader() {
		if !n.ensureLeadership(ctx) {
			return -1, lease.ErrNotPrimary
		}
		if err := n.waitAppliedIndex(ctx); err != nil {
			return 0, err
		}
		ttl, err := n.renewLocal(ctx, id)
		if err == nil {
			return ttl, nil
		}
		if !errors.Is(err, lease.ErrNotPrimary) {
			return -1, err
		}
	}
	req, _ := (&pb.LeaseKeepAliveRequest{ID: id}).Marshal()
	var ttl int64
	err := n.forward(ctx, callLeaseRenew, req, func(b []byte) error {
		var resp pb.LeaseKeepAliveResponse
		if err := resp.Unmarshal(b); err != nil {
			return fmt.Errorf("%w: forwarded renew reply: %v", ErrCorrupt, err)
		}
		ttl = resp.TTL
		return nil
	})
	if err != nil {
		return -1, err
	}
	return ttl, nil
}

// LeaseTimeToLive reports a lease's remaining and granted TTL (and keys),
// from the leader's lessor: a follower forwards it (etcd's
// leaseTimeToLive). A leader whose lessor is not primary yet answers
// ErrLeaderChanged, as etcd does for a demoted lease.
func (n *Node) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	if n.IsLeader() {
		if err := n.waitAppliedIndex(ctx); err != nil {
			return nil, err
		}
		info, err := n.kv.lessor.TimeToLive(lease.ID(r.ID), r.Keys)
		if errors.Is(err, lease.ErrNotPrimary) {
			return nil, ErrLeaderChanged
		}
		if err != nil {
			return nil, err
		}
		return ttlResponse(info), nil
	}
	req, _ := r.Marshal()
	var resp pb.LeaseTimeToLiveResponse
	err := n.forward(ctx, callLeaseTimeToLive, req, func(b []byte) error {
		if err := resp.Unmarshal(b); err != nil {
			return fmt.Errorf("%w: forwarded time-to-live reply: %v", ErrCorrupt, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &resp, nil
}

func ttlResponse(info lease.Info) *pb.LeaseTimeToLiveResponse {
	return &pb.LeaseTimeToLiveResponse{Header: &pb.ResponseHeader{}, ID: int64(info.ID), TTL: info.TTL, GrantedTTL: info.GrantedTTL, Keys: info.Keys}
}

// Forwarded calls: [kind][marshalled request] → [code][marshalled reply or
// error text].
const (
	callLeaseRenew      byte = 1
	callLeaseTimeToLive byte = 2
)

const (
	callOK byte = iota
	callLeaseNotFound
	callNotPrimary
	callApplyTimeout
	callFailed
)

// forward sends a lease call to the leader until it answers or the lease is
// not found, for at most RequestTimeout (etcd retries its peer HTTP call the
// same way). With this node as the leader (a lessor not yet promoted), the
// call is handled locally, as etcd's self-addressed HTTP call would be.
func (n *Node) forward(ctx context.Context, kind byte, req []byte, decode func([]byte) error) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := n.clk.NewTimer(n.opts.RequestTimeout)
	defer deadline.Stop()
	timedOut := make(chan struct{})
	go func() {
		select {
		case <-deadline.C():
			close(timedOut)
			cancel()
		case <-cctx.Done():
		}
	}()
	msg := append([]byte{kind}, req...)
	for cctx.Err() == nil {
		lead, err := n.waitLeader(cctx)
		if err != nil {
			break
		}
		var reply []byte
		if lead == n.id {
			reply, err = n.HandleCall(cctx, n.id, msg)
		} else if c, ok := n.raft.tr.(transport.Caller); ok {
			reply, err = c.Call(cctx, lead, msg)
		} else {
			err = fmt.Errorf("%w: the transport cannot forward to the leader", transport.ErrUnreachable)
		}
		if err == nil && len(reply) > 0 {
			switch reply[0] {
			case callOK:
				return decode(reply[1:])
			case callLeaseNotFound:
				return lease.ErrLeaseNotFound
			}
		}
		t := n.clk.NewTimer(forwardRetry)
		select {
		case <-t.C():
		case <-cctx.Done():
		}
		t.Stop()
	}
	select {
	case <-timedOut:
		return ErrTimeout
	default:
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	select {
	case <-n.loops.stopc:
		return ErrStopped
	default:
	}
	return ErrCanceled
}

// waitLeader returns the leader, waiting an election timeout at a time while
// there is none (etcd's waitLeader).
func (n *Node) waitLeader(ctx context.Context) (uint64, error) {
	for {
		if lead := n.Leader(); lead != 0 {
			return lead, nil
		}
		t := n.clk.NewTimer(n.electionTimeout())
		select {
		case <-t.C():
		case <-n.loops.stopc:
			t.Stop()
			return 0, ErrStopped
		case <-ctx.Done():
			t.Stop()
			return 0, ErrNoLeader
		}
	}
}

var _ transport.CallHandler = (*Node)(nil)

// HandleCall answers a lease call forwarded by a member (etcd's leasehttp
// handler): it waits for the applied index first, then renews or reports
// the lease on this node's lessor.
func (n *Node) HandleCall(ctx context.Context, _ uint64, req []byte) ([]byte, error) {
	if len(req) == 0 {
		return nil, fmt.Errorf("%w: empty call", ErrCorrupt)
	}
	answer := func(b []byte, err error) ([]byte, error) {
		switch {
		case err == nil:
			return append([]byte{callOK}, b...), nil
		case errors.Is(err, lease.ErrLeaseNotFound):
			return []byte{callLeaseNotFound}, nil
		case errors.Is(err, lease.ErrNotPrimary):
			return []byte{callNotPrimary}, nil
		case errors.Is(err, ErrTimeoutWaitAppliedIndex):
			return []byte{callApplyTimeout}, nil
		}
		return append([]byte{callFailed}, err.Error()...), nil
	}
	switch req[0] {
	case callLeaseRenew:
		var r pb.LeaseKeepAliveRequest
		if err := r.Unmarshal(req[1:]); err != nil {
			return nil, fmt.Errorf("%w: renew call: %v", ErrCorrupt, err)
		}
		if err := n.waitAppliedIndex(ctx); err != nil {
			return answer(nil, err)
		}
		ttl, err := n.renewLocal(ctx, r.ID)
		if err != nil {
			return answer(nil, err)
		}
		return answer((&pb.LeaseKeepAliveResponse{ID: r.ID, TTL: ttl}).Marshal())
	case callLeaseTimeToLive:
		var r pb.LeaseTimeToLiveRequest
		if err := r.Unmarshal(req[1:]); err != nil {
			return nil, fmt.Errorf("%w: time-to-live call: %v", ErrCorrupt, err)
		}
		if err := n.waitAppliedIndex(ctx); err != nil {
			return answer(nil, err)
		}
		info, err := n.kv.lessor.TimeToLive(lease.ID(r.ID), r.Keys)
		if err != nil {
			return answer(nil, err)
		}
		return answer(ttlResponse(info).Marshal())
	}
	return nil, fmt.Errorf("%w: unknown call kind %d", ErrCorrupt, req[0])
}

// leaseRevokeLoop proposes the revocation of the leases the primary lessor
// found expired (etcd's run loop and revokeExpiredLeases).
func (n *Node) leaseRevokeLoop() {
	defer n.loops.wg.Done()
	expired := n.kv.lessor.ExpiredLeasesC()
	for {
		select {
		case ids := <-expired:
			n.loops.wg.Add(1)
			go func() {
				defer n.loops.wg.Done()
				n.revokeExpiredLeases(ids)
			}()
		case <-n.loops.stopc:
			return
		}
	}
}

// revokeExpiredLeases revokes ids through raft, maxPendingRevokes at a
// time, if this node still leads: a leader whose loop was held up may have
// lost leadership without knowing it (etcd issue 15247).
func (n *Node) revokeExpiredLeases(ids []lease.ID) {
	start := n.clk.Now()
	ctx, cancel := n.stopContext()
	defer cancel()
	if !n.ensureLeadership(ctx) {
		n.emit(EventLeaseExpiry, 0, "skipped %d expired leases: this member is not the leader", len(ids))
		return
	}
	sem := make(chan struct{}, maxPendingRevokes)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for _, id := range ids {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := n.LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: int64(id)}); err != nil && !errors.Is(err, lease.ErrLeaseNotFound) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	n.emit(EventLeaseExpiry, n.clk.Since(start), "revoked %d expired leases, %d failed", len(ids)-int(failed.Load()), failed.Load())
}
