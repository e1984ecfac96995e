package v3rpc

import (
	"errors"
	"fmt"
	"math"
	"net"
	"sync"

	"etcdlab/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
)

// ErrNilBackend: Register or NewServer was given no backend.
var ErrNilBackend = errors.New("v3rpc: nil backend")

// Register registers etcd's KV, Maintenance, Cluster, Watch and Lease
// services over b on s, and Auth as a service that answers Unimplemented. s
// should be created with ServerOptions(opts) so that the request size limits
// are etcd's.
func Register(s *grpc.Server, b Backend, opts Options) error {
	return register(s, b, opts, nil)
}

// register is Register with a channel whose closing ends every watch and
// lease keepalive stream (nil: only their clients end them).
func register(s *grpc.Server, b Backend, opts Options, stopping <-chan struct{}) error {
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
	pb.RegisterWatchServer(s, &watchServer{w: b, hdr: hdr, maxRequestBytes: opts.MaxRequestBytes + GRPCOverheadBytes, stopping: stopping})
	pb.RegisterLeaseServer(s, &leaseServer{le: b, hdr: hdr, errMap: opts.Errors, stopping: stopping})
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
	g        *grpc.Server
	stopping chan struct{}
	stopOnce sync.Once
}

// NewServer builds a gRPC server with ServerOptions(opts) plus extra and
// registers every service over b.
func NewServer(b Backend, opts Options, extra ...grpc.ServerOption) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	g := grpc.NewServer(append(ServerOptions(opts), extra...)...)
	stopping := make(chan struct{})
	if err := register(g, b, opts, stopping); err != nil {
		return nil, err
	}
	return &Server{g: g, stopping: stopping}, nil
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
func (s *Server) Stop() {
	s.endStreams()
	s.g.Stop()
}

// GracefulStop stops accepting and waits for the RPCs in flight; watch and
// lease keepalive streams, which never end by themselves, end at once with
// etcd's "etcdserver: server stopped" (clients move to another endpoint).
func (s *Server) GracefulStop() {
	s.endStreams()
	s.g.GracefulStop()
}

func (s *Server) endStreams() { s.stopOnce.Do(func() { close(s.stopping) }) }
