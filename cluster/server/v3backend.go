package server

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"etcdlab/cluster"
	"etcdlab/cluster/v3rpc"
	"etcdlab/mvcc"
)

// V3Backend serves etcd's v3 API (package v3rpc) from one node. The node
// itself already answers KV requests with v3rpc's signatures; V3Backend adds
// what a node alone does not know: the cluster ID, member names and client
// URLs, and the mapping of etcd's peer URLs to member IDs.
//
// Member IDs follow etcd's rule (membership.NewMember without a time): the
// first 8 bytes, big-endian, of SHA-1(sorted peer URLs joined, then the
// cluster token). So every process computes the same ID for a member from
// --initial-cluster alone, and MemberAdd with a peer URL gives the ID the
// added process will compute from its own flags. The cluster ID comes from
// the token (ClusterIDFromToken).
type V3Backend struct {
	n         *cluster.Node
	clusterID uint64
	token     string

	mu sync.RWMutex
	// names and clientURLs are what this process knows of members beyond
	// their raft address: names from --initial-cluster (and this member's
	// own), client URLs of this member only (etcd learns the others'
	// through published attributes, which etcdlab does not replicate).
	names      map[uint64]string
	clientURLs map[uint64][]string
}

var _ v3rpc.Backend = (*V3Backend)(nil)

// V3BackendConfig describes what the v3 API reports about the cluster.
type V3BackendConfig struct {
	// ClusterID goes in every response header.
	ClusterID uint64
	// Token is the --initial-cluster-token, used to derive the IDs of
	// members added through MemberAdd.
	Token string
	// Names maps member IDs to names (from --initial-cluster).
	Names map[uint64]string
	// ClientURLs are this member's advertised client URLs.
	ClientURLs []string
}

// NewV3Backend wraps n for v3rpc.Register.
func NewV3Backend(n *cluster.Node, cfg V3BackendConfig) *V3Backend {
	b := &V3Backend{
		n:          n,
		clusterID:  cfg.ClusterID,
		token:      cfg.Token,
		names:      make(map[uint64]string),
		clientURLs: make(map[uint64][]string),
	}
	for id, name := range cfg.Names {
		b.names[id] = name
	}
	if len(cfg.ClientURLs) > 0 {
		b.clientURLs[n.ID()] = append([]string(nil), cfg.ClientURLs...)
	}
	return b
}

// V3ErrorMappings maps the node's sentinels whose text is not etcd's (or
// whose etcd counterpart has another text) to etcd's gRPC errors, for
// v3rpc.Options.Errors.
func V3ErrorMappings() []v3rpc.ErrorMapping {
	return []v3rpc.ErrorMapping{
		{Err: cluster.ErrNoSpace, GRPC: rpctypes.ErrGRPCNoSpace},
		{Err: cluster.ErrNoLeader, GRPC: rpctypes.ErrGRPCNoLeader},
		{Err: cluster.ErrNotLeader, GRPC: rpctypes.ErrGRPCNotLeader},
		{Err: cluster.ErrLeaderChanged, GRPC: rpctypes.ErrGRPCLeaderChanged},
		{Err: cluster.ErrTimeout, GRPC: rpctypes.ErrGRPCTimeout},
		{Err: cluster.ErrStopped, GRPC: rpctypes.ErrGRPCStopped},
		{Err: cluster.ErrTooManyRequests, GRPC: rpctypes.ErrGRPCRequestTooManyRequests},
		{Err: cluster.ErrRequestTooLarge, GRPC: rpctypes.ErrGRPCRequestTooLarge},
		{Err: cluster.ErrLearnerRead, GRPC: rpctypes.ErrGRPCNotSupportedForLearner},
		{Err: cluster.ErrLearnerNotReady, GRPC: rpctypes.ErrGRPCLearnerNotReady},
		{Err: cluster.ErrMemberNotFound, GRPC: rpctypes.ErrGRPCMemberNotFound},
		{Err: cluster.ErrIDRemoved, GRPC: rpctypes.ErrGRPCMemberNotFound},
		{Err: cluster.ErrMemberExists, GRPC: rpctypes.ErrGRPCMemberExist},
		{Err: cluster.ErrMemberNotLearner, GRPC: rpctypes.ErrGRPCMemberNotLearner},
		{Err: cluster.ErrCorrupt, GRPC: rpctypes.ErrGRPCCorrupt},
		{Err: cluster.ErrTimeoutWaitAppliedIndex, GRPC: rpctypes.ErrGRPCTimeoutWaitAppliedIndex},
		{Err: cluster.ErrCanceled, GRPC: rpctypes.ErrGRPCCanceled},
	}
}

// MemberIDFromURLs is etcd's member ID of a member with these peer URLs in
// the cluster named token: SHA-1 of the sorted URLs joined, then the token;
// its first 8 bytes big-endian. A zero result (never seen in practice) is
// replaced by 1 because raft reserves ID 0.
func MemberIDFromURLs(peerURLs []string, token string) uint64 {
	us := append([]string(nil), peerURLs...)
	sort.Strings(us)
	h := sha1.Sum([]byte(strings.Join(us, "") + token))
	id := binary.BigEndian.Uint64(h[:8])
	if id == 0 {
		id = 1
	}
	return id
}

// ClusterIDFromToken is the cluster ID every member reports: the first 8
// bytes, big-endian, of SHA-1 of the cluster token. etcd hashes the initial
// member IDs instead and a joining member learns the result from its peers;
// etcdlab has no peer API to learn it from, so it derives the ID from what
// every member is given, the token, and all members (initial or added
// later) agree on it.
func ClusterIDFromToken(token string) uint64 {
	h := sha1.Sum([]byte("etcdlab-cluster/" + token))
	return binary.BigEndian.Uint64(h[:8])
}

// Range, Put, DeleteRange, Txn and Compact are the node's.

// Range reads through the node: serializable or linearizable as r says.
func (b *V3Backend) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	return b.n.Range(ctx, r)
}

// Put replicates a put.
func (b *V3Backend) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	return b.n.Put(ctx, r)
}

// DeleteRange replicates a delete.
func (b *V3Backend) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	return b.n.DeleteRange(ctx, r)
}

// Txn replicates a txn (a read-only one is served as a read).
func (b *V3Backend) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	return b.n.Txn(ctx, r)
}

// Compact replicates a compaction.
func (b *V3Backend) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	return b.n.Compact(ctx, r)
}

// NewWatchStream opens a watch stream on this member's store.
func (b *V3Backend) NewWatchStream() (*mvcc.WatchStream, error) { return b.n.NewWatchStream() }

// NewWatchStreamFunc opens a watch stream on this member's store whose
// responses go to deliver (Node.NewWatchStreamFunc).
func (b *V3Backend) NewWatchStreamFunc(deliver func(mvcc.WatchResponse) bool) (*mvcc.WatchStream, error) {
	return b.n.NewWatchStreamFunc(deliver)
}

// LeaseGrant grants a lease through raft.
func (b *V3Backend) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	return b.n.LeaseGrant(ctx, r)
}

// LeaseRevoke revokes a lease through raft.
func (b *V3Backend) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	return b.n.LeaseRevoke(ctx, r)
}

// LeaseRenew renews a lease on the leader (forwarded from a follower).
func (b *V3Backend) LeaseRenew(ctx context.Context, id int64) (int64, error) {
	return b.n.LeaseRenew(ctx, id)
}

// LeaseTimeToLive reports a lease from the leader (forwarded from a
// follower).
func (b *V3Backend) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	return b.n.LeaseTimeToLive(ctx, r)
}

// LeaseLeases lists this member's leases.
func (b *V3Backend) LeaseLeases(ctx context.Context, r *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	return b.n.LeaseLeases(ctx, r)
}

// Status reports the node's raft and backend figures.
func (b *V3Backend) Status(context.Context) (v3rpc.Status, error) {
	n := b.n
	st := v3rpc.Status{
		Leader:           n.Leader(),
		RaftIndex:        n.CommittedIndex(),
		RaftAppliedIndex: n.AppliedIndex(),
		RaftTerm:         n.Term(),
		IsLearner:        n.IsLearner(),
	}
	if q := n.Options().QuotaBytes; q > 0 {
		st.DbSizeQuota = q
	}
	size, inUse, err := n.BackendSizes()
	if err != nil {
		return v3rpc.Status{}, err
	}
	st.DbSize, st.DbSizeInUse = size, inUse
	return st, nil
}

// Alarms lists alarms locally (GET) or replicates a change.
func (b *V3Backend) Alarms(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	if r.Action == pb.AlarmRequest_GET {
		// etcd answers GET with every alarm, or those of one member/type.
		var out []*pb.AlarmMember
		for _, a := range b.n.AlarmList() {
			if (r.MemberID == 0 || a.MemberID == r.MemberID) && (r.Alarm == pb.AlarmType_NONE || a.Alarm == r.Alarm) {
				out = append(out, a)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].MemberID < out[j].MemberID })
		return &pb.AlarmResponse{Header: &pb.ResponseHeader{}, Alarms: out}, nil
	}
	return b.n.Alarm(ctx, r)
}

// Defragment defragments this member's backend.
func (b *V3Backend) Defragment(context.Context) error { return b.n.Defrag() }

// HashKV hashes this member's key bucket up to rev (0: current).
func (b *V3Backend) HashKV(_ context.Context, rev int64) (uint32, int64, int64, error) {
	h, hashRev, err := b.n.Hash(rev)
	if err != nil {
		return 0, 0, 0, err
	}
	return h.Hash, h.CompactRevision, hashRev, nil
}

// Snapshot writes this member's backend image to w.
func (b *V3Backend) Snapshot(_ context.Context, w io.Writer) (int64, error) {
	return b.n.BackendSnapshot(w)
}

// MemberList lists the members; linearizable waits for a ReadIndex round so
// that the list includes every applied change the leader knows of.
func (b *V3Backend) MemberList(ctx context.Context, linearizable bool) ([]*pb.Member, error) {
	if linearizable {
		if err := b.n.LinearizableRead(ctx); err != nil {
			return nil, err
		}
	}
	return b.pbMembers(b.n.Members()), nil
}

// MemberAdd adds a member with the ID its peer URLs give (MemberIDFromURLs)
// through the leader; on a follower it answers "not leader" (etcd forwards
// over its peer HTTP API, which etcdlab does not have; clients retry).
func (b *V3Backend) MemberAdd(ctx context.Context, peerURLs []string, learner bool) (*pb.Member, []*pb.Member, error) {
	addr, err := PeerAddr(peerURLs[0])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", rpctypes.ErrGRPCMemberBadURLs, err)
	}
	for _, m := range b.n.Members() {
		if m.Addr == addr {
			return nil, nil, rpctypes.ErrGRPCPeerURLExist
		}
	}
	id := MemberIDFromURLs(peerURLs, b.token)
	resp, err := b.n.AddMember(ctx, id, addr, learner)
	if err != nil {
		return nil, nil, err
	}
	added := &pb.Member{ID: id, PeerURLs: append([]string(nil), peerURLs...), IsLearner: learner}
	return added, b.pbMembers(resp.Members), nil
}

// MemberRemove removes a member through the leader.
func (b *V3Backend) MemberRemove(ctx context.Context, id uint64) ([]*pb.Member, error) {
	resp, err := b.n.RemoveMember(ctx, id)
	if err != nil {
		return nil, err
	}
	return b.pbMembers(resp.Members), nil
}

// MemberPromote promotes a caught-up learner through the leader.
func (b *V3Backend) MemberPromote(ctx context.Context, id uint64) ([]*pb.Member, error) {
	resp, err := b.n.PromoteMember(ctx, id)
	if err != nil {
		return nil, err
	}
	return b.pbMembers(resp.Members), nil
}

// Header gives the response header fields; cheap and non-blocking.
func (b *V3Backend) Header() v3rpc.HeaderInfo {
	return v3rpc.HeaderInfo{ClusterID: b.clusterID, MemberID: b.n.ID(), RaftTerm: b.n.Term(), Revision: b.n.Rev()}
}

func (b *V3Backend) pbMembers(ms []cluster.Member) []*pb.Member {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]*pb.Member, 0, len(ms))
	for _, m := range ms {
		pm := &pb.Member{ID: m.ID, Name: b.names[m.ID], IsLearner: m.Learner}
		if m.Addr != "" {
			pm.PeerURLs = []string{"http://" + m.Addr}
		}
		pm.ClientURLs = append([]string(nil), b.clientURLs[m.ID]...)
		out = append(out, pm)
	}
	return out
}

// PeerAddr checks an etcd URL and returns its host:port. etcdlab serves
// plain TCP (peers) and plain gRPC over HTTP/2 without TLS (clients), so
// only http:// is accepted: https would need certificates etcdlab does not
// take.
func PeerAddr(s string) (string, error) {
	if !strings.Contains(s, "://") {
		return "", fmt.Errorf("URL %q: scheme must be http (http://host:port)", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("URL %q: %w", s, err)
	}
	switch u.Scheme {
	case "http":
	case "https", "unixs":
		return "", fmt.Errorf("URL %q: TLS is not supported; use http://host:port", s)
	default:
		return "", fmt.Errorf("URL %q: scheme must be http (http://host:port)", s)
	}
	if u.Host == "" || u.Port() == "" {
		return "", fmt.Errorf("URL %q: must be http://host:port", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("URL %q: must be http://host:port with no path, query or user", s)
	}
	return u.Host, nil
}
