package mvcc

import "errors"

// Sentinel errors. Messages match etcd's so that a client sees the same text;
// wrapped errors add context and are tested with errors.Is.
var (
	// ErrCompacted: the requested revision is older than the compacted one.
	ErrCompacted = errors.New("mvcc: required revision has been compacted")
	// ErrFutureRev: the requested revision is newer than the current one.
	ErrFutureRev = errors.New("mvcc: required revision is a future revision")
	// ErrRevisionNotFound: a key has no live revision at the one asked.
	ErrRevisionNotFound = errors.New("mvcc: revision not found")
	// ErrBadRevision: a key of the key bucket is not a valid revision encoding.
	ErrBadRevision = errors.New("mvcc: malformed revision key")
	// ErrCorrupt: a stored record cannot be decoded.
	ErrCorrupt = errors.New("mvcc: corrupt stored record")
	// ErrClosed: the store was used after Close.
	ErrClosed = errors.New("mvcc: store closed")
	// ErrBadConfig: a Config field is out of range.
	ErrBadConfig = errors.New("mvcc: bad config")

	// ErrTooManyOps: a txn has more compares or ops per branch than MaxTxnOps.
	ErrTooManyOps = errors.New("etcdserver: too many operations in txn request")
	// ErrDuplicateKey: a txn writes the same key twice.
	ErrDuplicateKey = errors.New("etcdserver: duplicate key given in txn request")
	// ErrRequestTooLarge: the marshalled request exceeds MaxRequestBytes.
	ErrRequestTooLarge = errors.New("etcdserver: request is too large")
	// ErrEmptyKey: a request or op names no key.
	ErrEmptyKey = errors.New("etcdserver: key is not provided")
	// ErrKeyNotFound: ignore_value on an absent key, or an empty request op.
	ErrKeyNotFound = errors.New("etcdserver: key not found")
	// ErrValueProvided: ignore_value set together with a value.
	ErrValueProvided = errors.New("etcdserver: value is provided")
	// ErrLeaseProvided: ignore_lease set together with a lease.
	ErrLeaseProvided = errors.New("etcdserver: lease is provided")
	// ErrLeaseNotFound: a put names a lease; etcdlab grants none, so every
	// lease is unknown, exactly as on an etcd server without leases.
	ErrLeaseNotFound = errors.New("etcdserver: requested lease not found")
)
