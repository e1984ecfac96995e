package mvcc

import (
	"errors"
	"fmt"
	"time"

	"etcdlab/engines/engine"
	"etcdlab/internal/clock"
)

// Defaults are etcd's (--max-txn-ops, --max-request-bytes,
// --compaction-batch-limit, --compaction-sleep-interval, restoreChunkKeys).
const (
	DefaultMaxTxnOps               = 128
	DefaultMaxRequestBytes         = 1536 * 1024 // 1.5 MiB
	DefaultCompactionBatchLimit    = 1000
	DefaultCompactionSleepInterval = 10 * time.Millisecond
	DefaultRestoreChunkKeys        = 10000
)

// Config configures a Store. The zero value, after EnsureDefaults, is etcd's.
type Config struct {
	// MaxTxnOps bounds the compares and the ops of each branch of a txn,
	// nested txns included. Default 128.
	MaxTxnOps int
	// MaxRequestBytes bounds the marshalled size of a request. Default 1.5 MiB.
	MaxRequestBytes int
	// CompactionBatchLimit is the number of key-bucket entries a compaction
	// examines per backend commit. Default 1000.
	CompactionBatchLimit int
	// CompactionSleepInterval is the pause between compaction batches, which
	// lets writers in. Default 10ms.
	CompactionSleepInterval time.Duration
	// RestoreChunkKeys is the number of key-bucket entries read per chunk when
	// the index is rebuilt on open. Default 10000.
	RestoreChunkKeys int
	// Clock times the restore and paces compaction. Default clock.Real().
	Clock clock.Clock
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.MaxTxnOps == 0 {
		c.MaxTxnOps = DefaultMaxTxnOps
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.CompactionBatchLimit == 0 {
		c.CompactionBatchLimit = DefaultCompactionBatchLimit
	}
	if c.CompactionSleepInterval == 0 {
		c.CompactionSleepInterval = DefaultCompactionSleepInterval
	}
	if c.RestoreChunkKeys == 0 {
		c.RestoreChunkKeys = DefaultRestoreChunkKeys
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxTxnOps < 1 {
		errs = append(errs, fmt.Errorf("%w: max txn ops %d must be at least 1", ErrBadConfig, c.MaxTxnOps))
	}
	if c.MaxRequestBytes < 1 {
		errs = append(errs, fmt.Errorf("%w: max request bytes %d must be at least 1", ErrBadConfig, c.MaxRequestBytes))
	}
	if c.CompactionBatchLimit < 1 {
		errs = append(errs, fmt.Errorf("%w: compaction batch limit %d must be at least 1", ErrBadConfig, c.CompactionBatchLimit))
	}
	if c.CompactionSleepInterval < 0 {
		errs = append(errs, fmt.Errorf("%w: compaction sleep interval %v is negative", ErrBadConfig, c.CompactionSleepInterval))
	}
	if c.RestoreChunkKeys < 1 {
		errs = append(errs, fmt.Errorf("%w: restore chunk keys %d must be at least 1", ErrBadConfig, c.RestoreChunkKeys))
	}
	return errors.Join(errs...)
}

// String renders the configuration for result files.
func (c Config) String() string {
	return fmt.Sprintf("max-txn-ops=%d max-request-bytes=%d compaction-batch-limit=%d compaction-sleep-interval=%v restore-chunk-keys=%d",
		c.MaxTxnOps, c.MaxRequestBytes, c.CompactionBatchLimit, c.CompactionSleepInterval, c.RestoreChunkKeys)
}

// KeyBucket is etcd's `key` bucket: revision bytes to a marshalled
// mvccpb.KeyValue, appended in revision order.
func KeyBucket() engine.Bucket { return engine.Bucket{ID: 1, Name: "key", Sequential: true} }

// MetaBucket is etcd's `meta` bucket: consistent index, term and the
// compaction revisions.
func MetaBucket() engine.Bucket { return engine.Bucket{ID: 2, Name: "meta"} }

// Meta keys, named as in etcd's schema.
const (
	MetaConsistentIndex     = "consistent_index"
	MetaTerm                = "term"
	MetaScheduledCompactRev = "scheduledCompactRev"
	MetaFinishedCompactRev  = "finishedCompactRev"
)
