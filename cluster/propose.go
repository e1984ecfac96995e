package cluster

import (
	"context"
	"errors"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3"
)

// compactResult carries a compaction's answer and the channel closed when
// the background deletion ends.
type compactResult struct {
	resp *pb.CompactionResponse
	done <-chan struct{}
}

// propose replicates one request and waits for its own result by request ID
// (etcd's processInternalRaftRequestOnce).
func (n *Node) propose(ctx context.Context, r *pb.InternalRaftRequest) (result, error) {
	select {
	case <-n.loops.stopc:
		return result{}, ErrStopped
	default:
	}
	if n.prog.isLearner.Load() {
		return result{}, ErrLearnerRead // etcd: learners serve only serializable reads
	}
	if ci, ai := n.prog.committed.Load(), n.prog.applied.Load(); ci > ai+DefaultMaxGapApplied {
		return result{}, ErrTooManyRequests
	}
	id := n.reqs.nextID()
	r.Header = &pb.RequestHeader{ID: id}
	data, err := r.Marshal()
	if err != nil {
		return result{}, fmt.Errorf("cluster: marshal request: %w", err)
	}
	if len(data) > n.opts.MaxRequestBytes {
		return result{}, ErrRequestTooLarge
	}
	ch := n.reqs.wait.register(id)
	// raft.mu inline, as before the split (see state.go).
	n.raft.mu.Lock()
	err = n.raft.rn.Propose(data)
	n.raft.mu.Unlock()
	if err != nil {
		n.reqs.wait.cancel(id)
		n.m.ProposalsFailed.Inc()
		return result{}, mapProposeErr(n, err)
	}
	n.stats.proposals.Add(1)
	n.m.ProposalsPending.Inc()
	defer n.m.ProposalsPending.Dec()
	n.signal()
	return n.waitResult(ctx, id, ch)
}

func (n *Node) waitResult(ctx context.Context, id uint64, ch chan result) (result, error) {
	timer := n.clk.NewTimer(n.opts.RequestTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-timer.C():
		n.reqs.wait.cancel(id)
		n.m.ProposalsFailed.Inc()
		return result{}, ErrTimeout
	case <-ctx.Done():
		n.reqs.wait.cancel(id)
		n.m.ProposalsFailed.Inc()
		return result{}, ctx.Err()
	case <-n.loops.stopc:
		n.reqs.wait.cancel(id)
		return result{}, ErrStopped
	}
}

func mapProposeErr(n *Node, err error) error {
	if errors.Is(err, raft.ErrProposalDropped) {
		if n.Leader() == 0 {
			return ErrNoLeader
		}
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	}
	return err
}

// proposeFor proposes req and waits for the response of type T that apply
// produced for it (or the error apply returned).
func proposeFor[T any](ctx context.Context, n *Node, req *pb.InternalRaftRequest) (T, error) {
	res, err := n.propose(ctx, req)
	if err != nil {
		var zero T
		return zero, err
	}
	resp, _ := res.resp.(T)
	return resp, res.err
}

// Put replicates a put.
func (n *Node) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := n.kv.vcfg.ValidatePut(r); err != nil {
		return nil, err
	}
	if err := n.checkQuota(ctx, costPut(r)); err != nil {
		return nil, err
	}
	return proposeFor[*pb.PutResponse](ctx, n, &pb.InternalRaftRequest{Put: r})
}

// DeleteRange replicates a delete.
func (n *Node) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if err := n.kv.vcfg.ValidateDeleteRange(r); err != nil {
		return nil, err
	}
	return proposeFor[*pb.DeleteRangeResponse](ctx, n, &pb.InternalRaftRequest{DeleteRange: r})
}

// Txn runs a transaction: a read-only one is served like a Range (through
// ReadIndex unless every range is serializable), a mutating one is validated
// before it is proposed, so that no node can fail it half way.
func (n *Node) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := n.kv.vcfg.ValidateTxn(r); err != nil {
		return nil, err
	}
	if TxnReadOnly(r) {
		if !txnSerializable(r) {
			if err := n.linearizableReadNotify(ctx); err != nil {
				return nil, err
			}
		}
		n.kv.mu.RLock()
		defer n.kv.mu.RUnlock()
		if n.kv.store == nil {
			return nil, ErrStopped
		}
		resp, err := n.kv.store.Txn(r)
		n.countTxn(r, resp)
		return resp, err
	}
	if err := n.checkQuota(ctx, costTxn(r)); err != nil {
		return nil, err
	}
	return proposeFor[*pb.TxnResponse](ctx, n, &pb.InternalRaftRequest{Txn: r})
}

// Compact replicates a compaction; with Physical set it returns after the
// deletion has finished on this node.
func (n *Node) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	res, err := n.propose(ctx, &pb.InternalRaftRequest{Compaction: r})
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, res.err
	}
	cr := res.resp.(compactResult)
	if r.Physical {
		select {
		case <-cr.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-n.loops.stopc:
			return nil, ErrStopped
		}
	}
	return cr.resp, nil
}

// Range reads keys: serializable from the local store at once, otherwise
// after a ReadIndex round confirms the state is current.
func (n *Node) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := n.kv.vcfg.ValidateRange(r); err != nil {
		return nil, err
	}
	if !r.Serializable {
		if err := n.linearizableReadNotify(ctx); err != nil {
			return nil, err
		}
	}
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return nil, ErrStopped
	}
	resp, err := n.kv.store.Range(r)
	if err == nil {
		n.m.Ranges.Inc()
	}
	return resp, err
}

// TxnReadOnly reports whether r only reads (ranges, and nested txns that
// only range): such a txn is served as a read, and a client may retry it.
func TxnReadOnly(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			switch x := op.Request.(type) {
			case *pb.RequestOp_RequestRange:
			case *pb.RequestOp_RequestTxn:
				if !TxnReadOnly(x.RequestTxn) {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

func txnSerializable(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			switch x := op.Request.(type) {
			case *pb.RequestOp_RequestRange:
				if !x.RequestRange.Serializable {
					return false
				}
			case *pb.RequestOp_RequestTxn:
				if !txnSerializable(x.RequestTxn) {
					return false
				}
			}
		}
	}
	return true
}
