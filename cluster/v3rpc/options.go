package v3rpc

import (
	"errors"
	"fmt"
	"os"
)

// Defaults are etcd's (--max-request-bytes, --max-txn-ops, the gRPC overhead
// etcd adds to the receive limit, the snapshot send buffer).
const (
	DefaultMaxRequestBytes    = 1536 * 1024 // 1.5 MiB
	DefaultMaxTxnOps          = 128
	GRPCOverheadBytes         = 512 * 1024
	DefaultSnapshotChunkBytes = 32 * 1024
)

// ErrBadOption reports an invalid Options field.
var ErrBadOption = errors.New("v3rpc: bad option")

// ErrorMapping maps a node's sentinel (matched with errors.Is) to the gRPC
// error a client must see (one of rpctypes' ErrGRPC*).
type ErrorMapping struct {
	Err  error
	GRPC error
}

// Options configures the served API. The zero value, after EnsureDefaults,
// is etcd's configuration.
type Options struct {
	// MaxRequestBytes bounds the size of a request; a larger one gets
	// "etcdserver: request is too large". The gRPC receive limit is this plus
	// GRPCOverheadBytes. Default 1.5 MiB. It must match the node's limit.
	MaxRequestBytes int
	// MaxTxnOps bounds the compares and the ops of each branch of a txn.
	// Default 128. It must match the node's limit.
	MaxTxnOps int
	// SnapshotChunkBytes is the blob size of each snapshot message. Default
	// 32 KiB, etcd's.
	SnapshotChunkBytes int
	// SnapshotSpoolDir holds the temporary copy of a streamed snapshot.
	// Default os.TempDir().
	SnapshotSpoolDir string
	// Errors are checked before the built-in table by ToGRPCError; a node
	// lists its sentinels here when their messages are not etcd's.
	Errors []ErrorMapping
}

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxTxnOps == 0 {
		o.MaxTxnOps = DefaultMaxTxnOps
	}
	if o.SnapshotChunkBytes == 0 {
		o.SnapshotChunkBytes = DefaultSnapshotChunkBytes
	}
	if o.SnapshotSpoolDir == "" {
		o.SnapshotSpoolDir = os.TempDir()
	}
}

// Validate reports every invalid field at once.
func (o Options) Validate() error {
	var errs []error
	if o.MaxRequestBytes < 1 {
		errs = append(errs, fmt.Errorf("%w: max request bytes %d must be at least 1", ErrBadOption, o.MaxRequestBytes))
	}
	if o.MaxTxnOps < 1 {
		errs = append(errs, fmt.Errorf("%w: max txn ops %d must be at least 1", ErrBadOption, o.MaxTxnOps))
	}
	if o.SnapshotChunkBytes < 1 {
		errs = append(errs, fmt.Errorf("%w: snapshot chunk bytes %d must be at least 1", ErrBadOption, o.SnapshotChunkBytes))
	}
	if o.SnapshotSpoolDir == "" {
		errs = append(errs, fmt.Errorf("%w: snapshot spool dir is empty", ErrBadOption))
	}
	for i, m := range o.Errors {
		if m.Err == nil || m.GRPC == nil {
			errs = append(errs, fmt.Errorf("%w: error mapping %d has a nil error", ErrBadOption, i))
		}
	}
	return errors.Join(errs...)
}

// String renders the options for result files.
func (o Options) String() string {
	return fmt.Sprintf("max-request-bytes=%d max-txn-ops=%d snapshot-chunk-bytes=%d snapshot-spool-dir=%s error-mappings=%d",
		o.MaxRequestBytes, o.MaxTxnOps, o.SnapshotChunkBytes, o.SnapshotSpoolDir, len(o.Errors))
}
