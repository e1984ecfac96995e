package v3rpc

import (
	"context"
	"errors"
	"io"

	"etcdlab/lease"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// leaseServer is etcd's Lease service (api/v3rpc/lease.go) over a node.
type leaseServer struct {
	le     Lessor
	hdr    header
	errMap []ErrorMapping
	// stopping ends keepalive streams when the server stops (nil: never).
	stopping <-chan struct{}
}

var _ pb.LeaseServer = (*leaseServer)(nil)

func (s *leaseServer) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	resp, err := s.le.LeaseGrant(ctx, r)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	if resp == nil {
		return nil, noResponse("lease grant")
	}
	resp.Header = s.hdr.fill(resp.Header)
	return resp, nil
}

func (s *leaseServer) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	resp, err := s.le.LeaseRevoke(ctx, r)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	if resp == nil {
		return nil, noResponse("lease revoke")
	}
	resp.Header = s.hdr.fill(resp.Header)
	return resp, nil
}

// LeaseTimeToLive answers a lease that does not exist with TTL -1, not an
// error, as etcd does.
func (s *leaseServer) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	resp, err := s.le.LeaseTimeToLive(ctx, r)
	if errors.Is(err, lease.ErrLeaseNotFound) {
		resp, err = &pb.LeaseTimeToLiveResponse{Header: &pb.ResponseHeader{}, ID: r.ID, TTL: -1}, nil
	}
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	if resp == nil {
		return nil, noResponse("lease time-to-live")
	}
	resp.Header = s.hdr.fill(resp.Header)
	return resp, nil
}

func (s *leaseServer) LeaseLeases(ctx context.Context, r *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	resp, err := s.le.LeaseLeases(ctx, r)
	if errors.Is(err, lease.ErrLeaseNotFound) {
		resp, err = &pb.LeaseLeasesResponse{Header: &pb.ResponseHeader{}, Leases: []*pb.LeaseStatus{}}, nil
	}
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	if resp == nil {
		return nil, noResponse("lease leases")
	}
	resp.Header = s.hdr.fill(resp.Header)
	return resp, nil
}

// LeaseKeepAlive renews a lease per request, answering TTL 0 for a lease
// that does not exist; the stream ends with the first other error (etcd's
// leaseKeepAlive). A stream the client or the server ends returns etcd's
// errors for it.
func (s *leaseServer) LeaseKeepAlive(stream pb.Lease_LeaseKeepAliveServer) error {
	errc := make(chan error, 1)
	go func() { errc <- s.keepAlive(stream) }()
	select {
	case err := <-errc:
		return err
	case <-stream.Context().Done():
		// etcd: the only server-side cancellation is "no leader".
		err := stream.Context().Err()
		if errors.Is(err, context.Canceled) {
			err = rpctypes.ErrGRPCNoLeader
		}
		return err
	case <-s.stopping:
		return rpctypes.ErrGRPCStopped
	}
}

func (s *leaseServer) keepAlive(stream pb.Lease_LeaseKeepAliveServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// The header is made before the renew, so its revision is at most
		// the one at which the lease was renewed (etcd's comment: a lease
		// revoked at rev 3 must not look renewed at rev 4).
		resp := &pb.LeaseKeepAliveResponse{ID: req.ID, Header: s.hdr.fill(nil)}
		ttl, err := s.le.LeaseRenew(stream.Context(), req.ID)
		if errors.Is(err, lease.ErrLeaseNotFound) {
			ttl, err = 0, nil
		}
		if err != nil {
			return ToGRPCError(err, s.errMap...)
		}
		resp.TTL = ttl
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}
