package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/v3rpc"
	"etcdlab/mvcc"
)

// The client and the node serve the requests of their consumers: etcd's v3
// services (v3rpc.KV and v3rpc.Lessor, through server.V3Backend) and the
// runner (bench.KV, a subset, checked in bench).
var (
	_ v3rpc.KV     = (*Client)(nil)
	_ v3rpc.KV     = (*cluster.Node)(nil)
	_ v3rpc.Lessor = (*Client)(nil)
	_ v3rpc.Lessor = (*cluster.Node)(nil)
)

// Policy chooses the endpoint for each request.
type Policy int

// Balancer policies.
const (
	PolicyLeader     Policy = iota // every request to the leader
	PolicyRoundRobin               // endpoints in turn
	PolicyRandom                   // a seeded random endpoint
)

func (p Policy) String() string {
	switch p {
	case PolicyLeader:
		return "leader"
	case PolicyRoundRobin:
		return "round-robin"
	case PolicyRandom:
		return "random"
	}
	return fmt.Sprintf("policy(%d)", int(p))
}

// ClientOptions configures a client.
type ClientOptions struct {
	// Policy is the balancer policy. Default PolicyLeader.
	Policy Policy
	// Endpoints restricts the client to these node IDs. Default: every
	// initial member.
	Endpoints []uint64
	// Seed drives PolicyRandom.
	Seed uint64
	// MaxRetries bounds retries after a leader change or an unavailable
	// endpoint. Default 10.
	MaxRetries int
}

// EnsureDefaults fills unset fields.
func (o *ClientOptions) EnsureDefaults() {
	if o.MaxRetries == 0 {
		o.MaxRetries = 10
	}
}

// Validate reports every problem at once.
func (o ClientOptions) Validate() error {
	var errs []error
	if o.Policy < PolicyLeader || o.Policy > PolicyRandom {
		errs = append(errs, fmt.Errorf("%w: unknown balancer policy %d", cluster.ErrBadOption, int(o.Policy)))
	}
	if o.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxRetries %d is negative", cluster.ErrBadOption, o.MaxRetries))
	}
	return errors.Join(errs...)
}

// Client sends requests to a cluster's nodes through a balancer, retrying on
// leader change. A write is retried only when the error proves it was never
// proposed (no leader, not leader, too many requests); a read is retried on
// any unavailability. Safe for concurrent use.
type Client struct {
	c    *Cluster
	opts ClientOptions
	mu   sync.Mutex
	rng  *rand.Rand
	next int
	lead uint64
}

// Client returns a new client of the cluster. Invalid options (see
// ClientOptions.Validate) are an error.
func (c *Cluster) NewClient(opts ClientOptions) (*Client, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return c.Client(opts), nil
}

// Client returns a new client of the cluster with opts defaulted; an unknown
// policy behaves as PolicyLeader (use NewClient to have it reported).
func (c *Cluster) Client(opts ClientOptions) *Client {
	opts.EnsureDefaults()
	if opts.Policy < PolicyLeader || opts.Policy > PolicyRandom {
		opts.Policy = PolicyLeader
	}
	if len(opts.Endpoints) == 0 {
		for _, p := range c.peers {
			opts.Endpoints = append(opts.Endpoints, p.ID)
		}
	}
	return &Client{c: c, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
}

// pick chooses a node for one attempt.
func (cl *Client) pick(attempt int) (*cluster.Node, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	switch cl.opts.Policy {
	case PolicyLeader:
		if cl.lead != 0 && attempt == 0 {
			if n := cl.c.Node(cl.lead); n != nil && n.IsLeader() {
				return n, nil
			}
		}
		cl.lead = cl.c.Leader()
		if cl.lead != 0 {
			if n := cl.c.Node(cl.lead); n != nil {
				return n, nil
			}
		}
		// No leader: wait (the caller backs off) rather than hand the
		// request to a follower whose leader may be dead, where it would sit
		// until the request timeout.
		return nil, cluster.ErrNoLeader
	case PolicyRoundRobin, PolicyRandom:
		for i := 0; i < len(cl.opts.Endpoints); i++ {
			var id uint64
			if cl.opts.Policy == PolicyRandom {
				id = cl.opts.Endpoints[cl.rng.IntN(len(cl.opts.Endpoints))]
			} else {
				id = cl.opts.Endpoints[cl.next%len(cl.opts.Endpoints)]
				cl.next++
			}
			if n := cl.c.Node(id); n != nil {
				return n, nil
			}
		}
	}
	return nil, cluster.ErrNoLeader
}

// retryable says whether err allows another attempt; write is set for
// mutations, which must not be repeated unless they were surely not proposed.
func retryable(err error, write bool) bool {
	switch {
	case errors.Is(err, cluster.ErrNoLeader), errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrTooManyRequests):
		return true
	case write:
		return false
	case errors.Is(err, cluster.ErrLeaderChanged), errors.Is(err, cluster.ErrStopped), errors.Is(err, cluster.ErrTimeout):
		return true
	}
	return false
}

func (cl *Client) backoff(ctx context.Context, attempt int) error {
	d := cl.c.opts.Node.TickInterval
	if d == 0 {
		d = cluster.DefaultTickInterval
	}
	// Linear backoff in ticks: ten retries span about five election
	// timeouts, enough for a new leader to be elected.
	t := cl.c.opts.Clock.NewTimer(d * time.Duration(min(attempt, 10)))
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func do[T any](cl *Client, ctx context.Context, write bool, f func(n *cluster.Node) (T, error)) (T, error) {
	var zero T
	var err error
	for attempt := 0; attempt <= cl.opts.MaxRetries; attempt++ {
		if attempt > 0 {
			if berr := cl.backoff(ctx, attempt); berr != nil {
				return zero, errors.Join(err, berr)
			}
		}
		var n *cluster.Node
		n, err = cl.pick(attempt)
		if err != nil {
			continue
		}
		var r T
		r, err = f(n)
		if err == nil || !retryable(err, write) {
			return r, err
		}
	}
	return zero, err
}

// Put writes a key.
func (cl *Client) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	return do(cl, ctx, true, func(n *cluster.Node) (*pb.PutResponse, error) { return n.Put(ctx, r) })
}

// Range reads keys (r.Serializable chooses the consistency).
func (cl *Client) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	return do(cl, ctx, false, func(n *cluster.Node) (*pb.RangeResponse, error) { return n.Range(ctx, r) })
}

// DeleteRange deletes keys.
func (cl *Client) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	return do(cl, ctx, true, func(n *cluster.Node) (*pb.DeleteRangeResponse, error) { return n.DeleteRange(ctx, r) })
}

// Txn runs a transaction.
func (cl *Client) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	return do(cl, ctx, !cluster.TxnReadOnly(r), func(n *cluster.Node) (*pb.TxnResponse, error) { return n.Txn(ctx, r) })
}

// Compact compacts the key history.
func (cl *Client) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	return do(cl, ctx, true, func(n *cluster.Node) (*pb.CompactionResponse, error) { return n.Compact(ctx, r) })
}

// AlarmList lists the cluster's alarms.
func (cl *Client) AlarmList(ctx context.Context) ([]*pb.AlarmMember, error) {
	return do(cl, ctx, false, func(n *cluster.Node) ([]*pb.AlarmMember, error) { return n.AlarmList(), nil })
}

// AlarmDisarm disarms the given alarms (every raised alarm when am is nil).
func (cl *Client) AlarmDisarm(ctx context.Context, am *pb.AlarmMember) error {
	var list []*pb.AlarmMember
	if am != nil {
		list = []*pb.AlarmMember{am}
	} else {
		var err error
		if list, err = cl.AlarmList(ctx); err != nil {
			return err
		}
	}
	for _, a := range list {
		req := &pb.AlarmRequest{Action: pb.AlarmRequest_DEACTIVATE, MemberID: a.MemberID, Alarm: a.Alarm}
		if _, err := do(cl, ctx, true, func(n *cluster.Node) (*pb.AlarmResponse, error) { return n.Alarm(ctx, req) }); err != nil {
			return err
		}
	}
	return nil
}

func (cl *Client) leaderDo(ctx context.Context, f func(n *cluster.Node) (*cluster.MemberResponse, error)) (*cluster.MemberResponse, error) {
	return do(cl, ctx, true, func(n *cluster.Node) (*cluster.MemberResponse, error) {
		if !n.IsLeader() {
			if l := cl.c.Node(cl.c.Leader()); l != nil {
				n = l
			}
		}
		return f(n)
	})
}

// MemberAdd adds a member (a learner when learner is set).
func (cl *Client) MemberAdd(ctx context.Context, id uint64, addr string, learner bool) (*cluster.MemberResponse, error) {
	return cl.leaderDo(ctx, func(n *cluster.Node) (*cluster.MemberResponse, error) { return n.AddMember(ctx, id, addr, learner) })
}

// MemberPromote promotes a learner that has caught up.
func (cl *Client) MemberPromote(ctx context.Context, id uint64) (*cluster.MemberResponse, error) {
	return cl.leaderDo(ctx, func(n *cluster.Node) (*cluster.MemberResponse, error) { return n.PromoteMember(ctx, id) })
}

// MemberRemove removes a member.
func (cl *Client) MemberRemove(ctx context.Context, id uint64) (*cluster.MemberResponse, error) {
	return cl.leaderDo(ctx, func(n *cluster.Node) (*cluster.MemberResponse, error) { return n.RemoveMember(ctx, id) })
}

// LeaseGrant grants a lease (r.ID 0: the node picks one; a retry after a
// leader change keeps the ID picked, so it cannot grant twice).
func (cl *Client) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	return do(cl, ctx, true, func(n *cluster.Node) (*pb.LeaseGrantResponse, error) { return n.LeaseGrant(ctx, r) })
}

// LeaseRevoke revokes a lease and deletes its keys.
func (cl *Client) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	return do(cl, ctx, true, func(n *cluster.Node) (*pb.LeaseRevokeResponse, error) { return n.LeaseRevoke(ctx, r) })
}

// LeaseRenew is one keepalive: the lease's TTL, or lease.ErrLeaseNotFound.
// A node that does not lead forwards it to the leader.
func (cl *Client) LeaseRenew(ctx context.Context, id int64) (int64, error) {
	return do(cl, ctx, false, func(n *cluster.Node) (int64, error) { return n.LeaseRenew(ctx, id) })
}

// LeaseTimeToLive reports a lease from the leader's lessor.
func (cl *Client) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	return do(cl, ctx, false, func(n *cluster.Node) (*pb.LeaseTimeToLiveResponse, error) { return n.LeaseTimeToLive(ctx, r) })
}

// LeaseLeases lists the leases a member knows.
func (cl *Client) LeaseLeases(ctx context.Context, r *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	return do(cl, ctx, false, func(n *cluster.Node) (*pb.LeaseLeasesResponse, error) { return n.LeaseLeases(ctx, r) })
}

// NewWatchStream opens a watch stream on the member the balancer picks (as
// etcd, served from that member's store). The stream is bound to that
// member: it ends with it, and does not move on a leader change as etcd's
// client does (use the gRPC API for that). Close it when done.
func (cl *Client) NewWatchStream(ctx context.Context) (*mvcc.WatchStream, uint64, error) {
	var id uint64
	ws, err := do(cl, ctx, false, func(n *cluster.Node) (*mvcc.WatchStream, error) {
		id = n.ID()
		return n.NewWatchStream()
	})
	if err != nil {
		return nil, 0, err
	}
	return ws, id, nil
}
