package v3rpc

import (
	"errors"
	"fmt"
	"math"
	"net"

	"etcdlab/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
)

// ErrNilBackend: Register or NewServer was given no backend.
var ErrNilBackend = errors.New("v3rpc: nil backend")

// Register registers etcd's KV, Maintenance and Cluster services over b on s,
// and Watch, Lease and Auth as services that answer Unimplemented. s should
// be created with ServerOptions(opts) so that the request size limits are
// etcd's.
func Register(s *grpc.Server, b Backend, opts Options) error {
	if b == nil {
		return ErrNilBackend
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	hdr := header{b}
	pb.RegisterKVServer(s, &kvServer{
		kv:     b,
		hdr:    hdr,
		check:  mvcc.Config{MaxTxnOps: opts.MaxTxnOps, MaxRequestBytes: opts.MaxRequestBytes},
		errMap: opts.Errors,
	})
	pb.RegisterMaintenanceServer(s, &maintenanceServer{m: b, hdr: hdr, opts: opts, errMap: opts.Errors})
	pb.RegisterClusterServer(s, &clusterServer{c: b, hdr: hdr, errMap: opts.Errors})
	pb.RegisterWatchServer(s, watchServer{})
	pb.RegisterLeaseServer(s, leaseServer{})
	pb.RegisterAuthServer(s, authServer{})
	return nil
}

// ServerOptions are the gRPC server options etcd sets for its client port:
// receive limit = request limit + gRPC overhead, unbounded send size and
// concurrent streams.
func ServerOptions(opts Options) []grpc.ServerOption {
	opts.EnsureDefaults()
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(opts.MaxRequestBytes + GRPCOverheadBytes),
		grpc.MaxSendMsgSize(math.MaxInt32),
		grpc.MaxConcurrentStreams(math.MaxUint32),
	}
}

// Server is a gRPC server serving etcd's v3 API over one backend.
type Server struct {
	g *grpc.Server
}

// NewServer builds a gRPC server with ServerOptions(opts) plus extra and
// registers every service over b.
func NewServer(b Backend, opts Options, extra ...grpc.ServerOption) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	g := grpc.NewServer(append(ServerOptions(opts), extra...)...)
	if err := Register(g, b, opts); err != nil {
		return nil, err
	}
	return &Server{g: g}, nil
}

// GRPC returns the underlying gRPC server.
func (s *Server) GRPC() *grpc.Server { return s.g }

// Serve accepts connections on lis until Stop; it returns nil after Stop.
func (s *Server) Serve(lis net.Listener) error {
	if err := s.g.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("v3rpc: serving on %s: %w", lis.Addr(), err)
	}
	return nil
}

// Stop closes the listeners and every connection at once.
func (s *Server) Stop() { s.g.Stop() }

// GracefulStop stops accepting and waits for the RPCs in flight.
func (s *Server) GracefulStop() { s.g.GracefulStop() }
