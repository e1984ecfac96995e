package v3rpc

import (
	"context"
	"fmt"
	"net"
	"net/url"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// clusterServer is etcd's Cluster service over a node.
type clusterServer struct {
	c      Cluster
	hdr    header
	errMap []ErrorMapping
}

var _ pb.ClusterServer = (*clusterServer)(nil)

func (s *clusterServer) MemberAdd(ctx context.Context, r *pb.MemberAddRequest) (*pb.MemberAddResponse, error) {
	if err := checkPeerURLs(r.PeerURLs); err != nil {
		return nil, rpctypes.ErrGRPCMemberBadURLs
	}
	m, members, err := s.c.MemberAdd(ctx, r.PeerURLs, r.IsLearner)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	return &pb.MemberAddResponse{Header: s.hdr.fill(nil), Member: m, Members: members}, nil
}

func (s *clusterServer) MemberRemove(ctx context.Context, r *pb.MemberRemoveRequest) (*pb.MemberRemoveResponse, error) {
	members, err := s.c.MemberRemove(ctx, r.ID)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	return &pb.MemberRemoveResponse{Header: s.hdr.fill(nil), Members: members}, nil
}

func (s *clusterServer) MemberPromote(ctx context.Context, r *pb.MemberPromoteRequest) (*pb.MemberPromoteResponse, error) {
	members, err := s.c.MemberPromote(ctx, r.ID)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	return &pb.MemberPromoteResponse{Header: s.hdr.fill(nil), Members: members}, nil
}

func (s *clusterServer) MemberList(ctx context.Context, r *pb.MemberListRequest) (*pb.MemberListResponse, error) {
	members, err := s.c.MemberList(ctx, r.Linearizable)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	return &pb.MemberListResponse{Header: s.hdr.fill(nil), Members: members}, nil
}

func (s *clusterServer) MemberUpdate(context.Context, *pb.MemberUpdateRequest) (*pb.MemberUpdateResponse, error) {
	return nil, notServed("cluster MemberUpdate")
}

// checkPeerURLs accepts what etcd's types.NewURLs accepts: at least one URL,
// each http, https, unix or unixs, with host:port for http(s), and no path.
func checkPeerURLs(urls []string) error {
	if len(urls) == 0 {
		return fmt.Errorf("no peer URL given")
	}
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			return err
		}
		switch u.Scheme {
		case "http", "https":
			if _, _, err := net.SplitHostPort(u.Host); err != nil {
				return fmt.Errorf("peer URL %q: host must be host:port", s)
			}
		case "unix", "unixs":
		default:
			return fmt.Errorf("peer URL %q: scheme must be http, https, unix or unixs", s)
		}
		if u.Path != "" {
			return fmt.Errorf("peer URL %q: must not have a path", s)
		}
	}
	return nil
}
