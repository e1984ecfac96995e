package cluster

import "errors"

// Sentinel errors. Where etcd has the error, the message is etcd's, so a
// client of etcdlab sees the text an etcd client would.
var (
	ErrTimeout = errors.New("etcdserver: request timed out")
	// ErrTimeoutWaitAppliedIndex: a lease renew or time-to-live waited
	// too long for the applied index to reach the committed one.
	ErrTimeoutWaitAppliedIndex = errors.New("etcdserver: request timed out, waiting for the applied index took too long")
	// ErrCanceled: a forwarded lease request whose context ended (etcd's
	// text, sic).
	ErrCanceled          = errors.New("etcdserver: request cancelled")
	ErrTooManyRequests   = errors.New("etcdserver: too many requests")
	ErrNoLeader          = errors.New("etcdserver: no leader")
	ErrLeaderChanged     = errors.New("etcdserver: leader changed")
	ErrNoSpace           = errors.New("etcdserver: mvcc: database space exceeded")
	ErrRequestTooLarge   = errors.New("etcdserver: request is too large")
	ErrNotCapable        = errors.New("etcdserver: not capable")
	ErrUnhealthy         = errors.New("etcdserver: unhealthy cluster")
	ErrStopped           = errors.New("etcdserver: server stopped")
	ErrNotLeader         = errors.New("etcdserver: not leader")
	ErrLearnerNotReady   = errors.New("etcdserver: can only promote a learner member which is in sync with leader")
	ErrMemberNotFound    = errors.New("membership: member not found")
	ErrMemberExists      = errors.New("membership: member ID already exist")
	ErrIDRemoved         = errors.New("membership: ID removed")
	ErrMemberNotLearner  = errors.New("membership: can only promote a learner member")
	ErrPendingConfChange = errors.New("cluster: a membership change is already pending")
	ErrLearnerRead       = errors.New("etcdserver: rpc not supported for learner")
	ErrBadOption         = errors.New("cluster: bad option")
	ErrCorrupt           = errors.New("cluster: corrupt raft entry")
	ErrRemoved           = errors.New("etcdserver: the member has been permanently removed from the cluster")
	// ErrWALBehindBackend: the WAL ends before the index the backend has
	// applied, so it lost records that had been synced (see Node.open).
	ErrWALBehindBackend = errors.New("cluster: the WAL ends before the backend's applied index")
)
