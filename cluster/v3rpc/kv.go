package v3rpc

import (
	"context"

	"etcdlab/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// header fills response headers as etcd's header.fill.
type header struct{ h Headers }

func (h header) fill(rh *pb.ResponseHeader) *pb.ResponseHeader {
	if rh == nil {
		rh = &pb.ResponseHeader{}
	}
	info := h.h.Header()
	rh.ClusterId = info.ClusterID
	rh.MemberId = info.MemberID
	rh.RaftTerm = info.RaftTerm
	if rh.Revision == 0 {
		rh.Revision = info.Revision
	}
	return rh
}

// kvServer is etcd's KV service: check the request, hand it to the node, map
// the error, fill the header.
type kvServer struct {
	kv     KV
	hdr    header
	check  mvcc.Config // only MaxTxnOps and MaxRequestBytes are used
	errMap []ErrorMapping
}

var _ pb.KVServer = (*kvServer)(nil)

func (s *kvServer) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := s.check.ValidateRange(r); err != nil {
		return nil, ToGRPCError(err)
	}
	resp, err := s.kv.Range(ctx, r)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	if resp == nil {
		return nil, noResponse("range")
	}
	resp.Header = s.hdr.fill(resp.Header)
	return resp, nil
}

func (s *kvServer) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := s.check.ValidatePut(r); err != nil {
		return nil, ToGRPCError(err)
	}
	resp, err := s.kv.Put(ctx, r)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	if resp == nil {
		return nil, noResponse("put")
	}
	resp.Header = s.hdr.fill(resp.Header)
	return resp, nil
}

func (s *kvServer) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if err := s.check.ValidateDeleteRange(r); err != nil {
		return nil, ToGRPCError(err)
	}
	resp, err := s.kv.DeleteRange(ctx, r)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	if resp == nil {
		return nil, noResponse("delete-range")
	}
	resp.Header = s.hdr.fill(resp.Header)
	return resp, nil
}

func (s *kvServer) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	// Too many ops, empty keys, malformed ops and duplicate keys, as etcd's
	// checkTxnRequest and checkIntervals, before anything is proposed.
	if err := checkTxnBudget(r, s.check.MaxTxnOps); err != nil {
		return nil, err
	}
	if err := s.check.ValidateTxn(r); err != nil {
		return nil, ToGRPCError(err)
	}
	resp, err := s.kv.Txn(ctx, r)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	if resp == nil {
		return nil, noResponse("txn")
	}
	resp.Header = s.hdr.fill(resp.Header)
	return resp, nil
}

func (s *kvServer) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	resp, err := s.kv.Compact(ctx, r)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	if resp == nil {
		return nil, noResponse("compaction")
	}
	resp.Header = s.hdr.fill(resp.Header)
	return resp, nil
}

// checkTxnBudget applies etcd's checkTxnRequest op budget, which mvcc's
// validation (a flat MaxTxnOps per level) does not: a txn may hold at most
// budget compares and ops per branch, and a txn nested in it gets the budget
// its parent left (budget minus the parent's largest count).
func checkTxnBudget(r *pb.TxnRequest, budget int) error {
	opc := max(len(r.Compare), len(r.Success), len(r.Failure))
	if opc > budget {
		return rpctypes.ErrGRPCTooManyOps
	}
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			if t := op.GetRequestTxn(); t != nil {
				if err := checkTxnBudget(t, budget-opc); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// noResponse answers a node that returned neither a response nor an error: a
// node bug, reported instead of crashing the server.
func noResponse(what string) error {
	return status.Error(codes.Internal, "etcdlab: the node returned no "+what+" response")
}
