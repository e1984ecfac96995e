package v3rpc

import (
	"context"
	"errors"

	"etcdlab/lease"
	"etcdlab/mvcc"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// sentinelTable maps the sentinels v3rpc can import to etcd's gRPC errors.
// Order matters for joined errors (mvcc's validation joins every problem):
// the first match wins, in the order etcd's key.go checks.
var sentinelTable = []ErrorMapping{
	{mvcc.ErrEmptyKey, rpctypes.ErrGRPCEmptyKey},
	{mvcc.ErrKeyNotFound, rpctypes.ErrGRPCKeyNotFound},
	{mvcc.ErrValueProvided, rpctypes.ErrGRPCValueProvided},
	{mvcc.ErrLeaseProvided, rpctypes.ErrGRPCLeaseProvided},
	{mvcc.ErrTooManyOps, rpctypes.ErrGRPCTooManyOps},
	{mvcc.ErrDuplicateKey, rpctypes.ErrGRPCDuplicateKey},
	{mvcc.ErrRequestTooLarge, rpctypes.ErrGRPCRequestTooLarge},
	{mvcc.ErrLeaseNotFound, rpctypes.ErrGRPCLeaseNotFound},
	{mvcc.ErrCompacted, rpctypes.ErrGRPCCompacted},
	{mvcc.ErrFutureRev, rpctypes.ErrGRPCFutureRev},
	{mvcc.ErrClosed, rpctypes.ErrGRPCStopped},
	{lease.ErrLeaseNotFound, rpctypes.ErrGRPCLeaseNotFound},
	{lease.ErrLeaseExists, rpctypes.ErrGRPCLeaseExist},
	{lease.ErrLeaseTTLTooLarge, rpctypes.ErrGRPCLeaseTTLTooLarge},
	// As etcd's togRPCError: a request whose context ended.
	{context.Canceled, rpctypes.ErrGRPCCanceled},
	{context.DeadlineExceeded, rpctypes.ErrGRPCDeadlineExceeded},
}

// messageTable maps etcd's exact error texts to its gRPC errors. It is the
// fallback for sentinels v3rpc cannot import (the raft node's): a node error
// whose message is one of these, anywhere in its wrap chain, maps to the
// gRPC error etcd's togRPCError gives the etcd error of that text.
var messageTable = func() map[string]error {
	m := make(map[string]error)
	// etcd's server errors (etcdserver/errors) carry the same text as their
	// gRPC counterparts.
	for _, e := range []error{
		rpctypes.ErrGRPCNoSpace,
		rpctypes.ErrGRPCNoLeader,
		rpctypes.ErrGRPCNotLeader,
		rpctypes.ErrGRPCLeaderChanged,
		rpctypes.ErrGRPCNotCapable,
		rpctypes.ErrGRPCStopped,
		rpctypes.ErrGRPCTimeout,
		rpctypes.ErrGRPCTimeoutDueToLeaderFail,
		rpctypes.ErrGRPCTimeoutDueToConnectionLost,
		rpctypes.ErrGRPCTimeoutWaitAppliedIndex,
		rpctypes.ErrGRPCUnhealthy,
		rpctypes.ErrGRPCCorrupt,
		rpctypes.ErrGRPCNotSupportedForLearner,
		rpctypes.ErrGRPCBadLeaderTransferee,
		rpctypes.ErrGRPCRequestTooLarge,
		rpctypes.ErrGRPCRequestTooManyRequests,
		rpctypes.ErrGRPCLearnerNotReady,
		rpctypes.ErrGRPCMemberNotEnoughStarted,
		rpctypes.ErrGRPCCompacted,
		rpctypes.ErrGRPCFutureRev,
		rpctypes.ErrGRPCTooManyOps,
		rpctypes.ErrGRPCDuplicateKey,
		rpctypes.ErrGRPCEmptyKey,
		rpctypes.ErrGRPCKeyNotFound,
		rpctypes.ErrGRPCValueProvided,
		rpctypes.ErrGRPCLeaseProvided,
		rpctypes.ErrGRPCLeaseNotFound,
		rpctypes.ErrGRPCLeaseExist,
		rpctypes.ErrGRPCLeaseTTLTooLarge,
		rpctypes.ErrGRPCMemberNotFound,
		rpctypes.ErrGRPCMemberExist,
		rpctypes.ErrGRPCPeerURLExist,
		rpctypes.ErrGRPCMemberNotLearner,
		rpctypes.ErrGRPCTooManyLearners,
		rpctypes.ErrGRPCMemberBadURLs,
	} {
		m[rpctypes.ErrorDesc(e)] = e
	}
	// Texts whose etcd error differs from the gRPC one.
	for text, e := range map[string]error{
		// etcd's mvcc sentinels, before the server prefixes them.
		"mvcc: required revision has been compacted":   rpctypes.ErrGRPCCompacted,
		"mvcc: required revision is a future revision": rpctypes.ErrGRPCFutureRev,
		// etcdserver/errors.ErrCanceled (sic).
		"etcdserver: request cancelled": rpctypes.ErrGRPCCanceled,
		// etcd's membership package, and the variants etcdlab's node uses.
		"membership: ID removed":                          rpctypes.ErrGRPCMemberNotFound,
		"membership: ID not found":                        rpctypes.ErrGRPCMemberNotFound,
		"membership: member not found":                    rpctypes.ErrGRPCMemberNotFound,
		"membership: ID exists":                           rpctypes.ErrGRPCMemberExist,
		"membership: member ID already exist":             rpctypes.ErrGRPCMemberExist,
		"membership: peerURL exists":                      rpctypes.ErrGRPCPeerURLExist,
		"membership: can only promote a learner member":   rpctypes.ErrGRPCMemberNotLearner,
		"membership: too many learner members in cluster": rpctypes.ErrGRPCTooManyLearners,
	} {
		m[text] = e
	}
	return m
}()

// ToGRPCError maps a node's error to the gRPC error an etcd server would
// return for it, so that etcd clients react as they do with etcd. In order:
// nil stays nil; the extra mappings, then the built-in sentinels (mvcc's,
// context's), matched with errors.Is; an error already carrying a gRPC status
// keeps it; then etcd's exact message text of any error in the wrap chain
// (the fallback for sentinels v3rpc cannot import); anything else becomes
// codes.Unknown with the error's text, as etcd's togRPCError does.
func ToGRPCError(err error, extra ...ErrorMapping) error {
	if err == nil {
		return nil
	}
	for _, m := range extra {
		if errors.Is(err, m.Err) {
			return m.GRPC
		}
	}
	for _, m := range sentinelTable {
		if errors.Is(err, m.Err) {
			return m.GRPC
		}
	}
	// The first error in the chain carrying a status, itself, so that its message
	// reaches the client without the wrappers' text.
	var st interface {
		error
		GRPCStatus() *status.Status
	}
	if errors.As(err, &st) {
		return st
	}
	if g := byMessage(err); g != nil {
		return g
	}
	return status.Error(codes.Unknown, err.Error())
}

// byMessage walks the wrap tree (Unwrap() error and Unwrap() []error) and
// returns the mapping of the first error whose own text is etcd's.
func byMessage(err error) error {
	if err == nil {
		return nil
	}
	if g, ok := messageTable[err.Error()]; ok {
		return g
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return byMessage(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if g := byMessage(e); g != nil {
				return g
			}
		}
	}
	return nil
}
