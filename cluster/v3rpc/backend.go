package v3rpc

import (
	"context"
	"io"

	"etcdlab/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// KV is what the KV service needs from a node. Requests reach it already
// checked (see doc.go); the node routes writes through raft, serves a Range or
// read-only Txn locally when every range is serializable and after a
// ReadIndex wait otherwise, and returns responses with Header.Revision set
// (the API layer fills the other header fields). Errors may be mvcc or node
// sentinels; ToGRPCError maps them.
type KV interface {
	Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error)
	Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error)
	DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error)
	Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error)
	// Compact compacts at r.Revision; with r.Physical it returns only once
	// the compaction has removed the old revisions from the backend.
	Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error)
}

// Status is the node's part of a StatusResponse (etcd's maintenance Status).
type Status struct {
	// Leader is the member ID of the raft leader, 0 when there is none (the
	// response then carries "etcdserver: no leader" in Errors, as etcd's).
	Leader uint64
	// RaftIndex is the committed index, RaftAppliedIndex the applied one.
	RaftIndex        uint64
	RaftAppliedIndex uint64
	RaftTerm         uint64
	// DbSize is the backend's size on disk, DbSizeInUse the live part of it,
	// DbSizeQuota the space quota (0: none).
	DbSize      int64
	DbSizeInUse int64
	DbSizeQuota int64
	IsLearner   bool
	// Version is the server version reported to clients; empty means the
	// etcd API version this package speaks (api/v3 version.Version).
	Version string
	// StorageVersion is reported as is (etcd reports its schema version).
	StorageVersion string
}

// Maintenance is what the Maintenance service needs from a node.
type Maintenance interface {
	Status(ctx context.Context) (Status, error)
	// Alarms lists (GET), raises (ACTIVATE) or clears (DEACTIVATE) alarms,
	// cluster-wide, through raft for the last two; the response lists the
	// alarms concerned. Status also calls it with GET to report active alarms.
	Alarms(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error)
	// Defragment reclaims the backend's free space on this member.
	Defragment(ctx context.Context) error
	// HashKV is etcd's HashKV on this member: the hash of the key bucket up
	// to rev (0: current), the compaction revision, and the revision hashed.
	HashKV(ctx context.Context, rev int64) (hash uint32, compactRev, hashRev int64, err error)
	// Snapshot writes a consistent image of the backend to w and returns its
	// size in bytes.
	Snapshot(ctx context.Context, w io.Writer) (int64, error)
}

// Cluster is what the Cluster service needs from a node. Membership changes
// go through raft as conf changes and return once applied; members lists the
// membership after the change.
type Cluster interface {
	// MemberList lists the members; linearizable asks for a ReadIndex wait
	// first, as etcd's MemberList with linearizable=true.
	MemberList(ctx context.Context, linearizable bool) ([]*pb.Member, error)
	MemberAdd(ctx context.Context, peerURLs []string, learner bool) (added *pb.Member, members []*pb.Member, err error)
	MemberRemove(ctx context.Context, id uint64) (members []*pb.Member, err error)
	MemberPromote(ctx context.Context, id uint64) (members []*pb.Member, err error)
}

// HeaderInfo is what etcd puts in every ResponseHeader.
type HeaderInfo struct {
	ClusterID uint64
	MemberID  uint64
	RaftTerm  uint64
	// Revision is the store's current revision; it fills a header whose
	// revision the node left at 0, as etcd's header.fill does.
	Revision int64
}

// Headers gives the header fields; it is called once per response, so it
// must be cheap and must not block.
type Headers interface {
	Header() HeaderInfo
}

// Watchable is what the Watch service needs: a watch stream on the member's
// local store (etcd serves watches from any member, not linearizable),
// whose responses go to deliver on the stream's goroutine. The service
// closes the stream when the gRPC stream ends.
type Watchable interface {
	NewWatchStreamFunc(deliver func(mvcc.WatchResponse) bool) (*mvcc.WatchStream, error)
}

// Lessor is what the Lease service needs from a node (etcd's
// etcdserver.Lessor). Grant and Revoke go through raft; LeaseRenew (one
// keepalive) and LeaseTimeToLive are answered by the leader, a follower
// forwarding them; a lease that does not exist gives lease.ErrLeaseNotFound.
// LeaseLeases lists the member's leases locally.
type Lessor interface {
	LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error)
	LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error)
	// LeaseRenew renews lease id and returns its TTL in seconds.
	LeaseRenew(ctx context.Context, id int64) (int64, error)
	LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error)
	LeaseLeases(ctx context.Context, r *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error)
}

// Backend is everything Register needs: one node implements it all.
type Backend interface {
	KV
	Maintenance
	Cluster
	Headers
	Watchable
	Lessor
}
