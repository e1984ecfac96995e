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

	// Watch defaults are etcd 3.6's constants (watchable_store.go:
	// chanBufLen, maxWatchersPerSync, watchResyncPeriod, the victim loop's
	// 10ms; watcher_group.go: watchBatchMaxRevs; v3rpc:
	// progressReportInterval, --experimental-watch-progress-notify-interval).
	DefaultWatchChanBufLen             = 128
	DefaultWatchMaxWatchersPerSync     = 512
	DefaultWatchSyncInterval           = 100 * time.Millisecond
	DefaultWatchVictimInterval         = 10 * time.Millisecond
	DefaultWatchBatchMaxRevs           = 1000
	DefaultWatchProgressNotifyInterval = 10 * time.Minute
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
	// Clock times the restore and paces compaction and the watch loops.
	// Default clock.Real().
	Clock clock.Clock

	// WatchChanBufLen is the buffer, in responses, of a WatchStream's
	// channel; a watcher whose channel is full becomes a victim. Default 128.
	WatchChanBufLen int
	// WatchMaxWatchersPerSync bounds the unsynced watchers one sync catches
	// up. Default 512.
	WatchMaxWatchersPerSync int
	// WatchSyncInterval is the pause between syncs of unsynced watchers when
	// the last sync caught everyone up (otherwise the next one starts after
	// a pause as long as the last took). Default 100ms.
	WatchSyncInterval time.Duration
	// WatchVictimInterval is how often blocked watchers are retried.
	// Default 10ms.
	WatchVictimInterval time.Duration
	// WatchBatchMaxRevs bounds the distinct revisions of one response of a
	// catching-up watcher. Default 1000.
	WatchBatchMaxRevs int
	// WatchSyncMaxRevs bounds the revisions one sync reads from the backend.
	// 0 (the default) reads every revision from the lowest unsynced one to
	// the current one, as etcd does; a watcher far behind then costs a read
	// of its whole backlog per WatchBatchMaxRevs revisions delivered.
	WatchSyncMaxRevs int
	// WatchSyncStopWhenFull stops a sync's read of the key bucket once
	// every watcher of the sync has WatchBatchMaxRevs revisions of events:
	// what follows would be left out of every response, so the responses are
	// the same, and catching up a backlog of N revisions reads about N
	// records instead of N²/(2 × WatchBatchMaxRevs). Default false: every
	// sync reads from the lowest unsynced revision to the current one (or
	// to WatchSyncMaxRevs), as etcd 3.6 does, so that etcdlab's catch-up
	// costs what etcd's do; set it to measure the bounded read.
	WatchSyncStopWhenFull bool
	// WatchProgressNotifyInterval is the period of progress notifications to
	// watchers created with ProgressNotify. Default 10m.
	WatchProgressNotifyInterval time.Duration

	// OnCompacted, if set, is called from the compaction's goroutine when
	// the background part of a compaction ends (finished or stopped), with
	// its figures: the timed event etcd logs as "finished scheduled
	// compaction". It must not call back into the store.
	OnCompacted func(CompactionStats)

	// Lessor, if set, is the lease manager puts and deletes attach keys to
	// and detach them from, and that a put's lease is looked up in when it is
	// applied. Nil: no leases exist, and a put naming one fails with
	// ErrLeaseNotFound.
	Lessor Lessor
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
	if c.WatchChanBufLen == 0 {
		c.WatchChanBufLen = DefaultWatchChanBufLen
	}
	if c.WatchMaxWatchersPerSync == 0 {
		c.WatchMaxWatchersPerSync = DefaultWatchMaxWatchersPerSync
	}
	if c.WatchSyncInterval == 0 {
		c.WatchSyncInterval = DefaultWatchSyncInterval
	}
	if c.WatchVictimInterval == 0 {
		c.WatchVictimInterval = DefaultWatchVictimInterval
	}
	if c.WatchBatchMaxRevs == 0 {
		c.WatchBatchMaxRevs = DefaultWatchBatchMaxRevs
	}
	if c.WatchProgressNotifyInterval == 0 {
		c.WatchProgressNotifyInterval = DefaultWatchProgressNotifyInterval
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
	for _, f := range []struct {
		name string
		v    int
	}{{"watch chan buf len", c.WatchChanBufLen}, {"watch max watchers per sync", c.WatchMaxWatchersPerSync}, {"watch batch max revs", c.WatchBatchMaxRevs}} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%w: %s %d must be at least 1", ErrBadConfig, f.name, f.v))
		}
	}
	if c.WatchSyncMaxRevs < 0 {
		errs = append(errs, fmt.Errorf("%w: watch sync max revs %d is negative", ErrBadConfig, c.WatchSyncMaxRevs))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"watch sync interval", c.WatchSyncInterval}, {"watch victim interval", c.WatchVictimInterval}, {"watch progress notify interval", c.WatchProgressNotifyInterval}} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%w: %s %v must be positive", ErrBadConfig, f.name, f.v))
		}
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
