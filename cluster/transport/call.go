package transport

import (
	"context"
	"errors"
)

// Caller is an optional capability of a Transport, found by type assertion:
// one request and its reply between two members, outside raft. It carries
// what etcd's peer HTTP handlers carry for leases (/leases for a keepalive,
// /leases/internal for a time-to-live), which a follower forwards to the
// leader because only the leader's lessor knows expiries. Both transports
// implement it: the in-process network calls the peer's handler directly
// (partitions and isolation apply; link delay, jitter and loss do not), TCP
// opens one short-lived connection per call.
type Caller interface {
	// Call sends req to peer to and returns its reply. It fails with
	// ErrUnreachable when the peer is unknown, removed, cut off or down, and
	// with the context's error when ctx ends first. An error the peer's
	// handler returned comes back wrapped in ErrRemote with its text.
	Call(ctx context.Context, to uint64, req []byte) ([]byte, error)
}

// CallHandler is the optional receiving side of Caller, found by type
// assertion on the Handler: a transport whose handler lacks it answers every
// call with an ErrRemote error.
type CallHandler interface {
	// HandleCall answers one call from peer from. ctx ends when the
	// transport closes (or, in process, when the caller gives up); req is
	// the handler's to keep.
	HandleCall(ctx context.Context, from uint64, req []byte) ([]byte, error)
}

var (
	// ErrUnreachable: a call's peer is unknown, removed, partitioned away,
	// or could not be connected to.
	ErrUnreachable = errors.New("transport: peer unreachable")
	// ErrRemote wraps the text of an error returned by the peer's
	// CallHandler (or the peer's lack of one).
	ErrRemote = errors.New("transport: remote call failed")
)

// errNoCallHandler is the remote error of a node whose handler takes no
// calls.
var errNoCallHandler = errors.New("the peer does not take calls")
