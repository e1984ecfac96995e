package backend

import (
	"errors"
	"fmt"
	"time"

	"etcdlab/internal/clock"
)

// Defaults are etcd's (--backend-batch-interval, --backend-batch-limit).
const (
	DefaultBatchInterval = 100 * time.Millisecond
	DefaultBatchLimit    = 10000
)

// Config configures a Backend. The zero value, after EnsureDefaults, is etcd's
// configuration.
type Config struct {
	// BatchInterval is the longest time a write waits before it is committed.
	// Default 100ms.
	BatchInterval time.Duration
	// BatchLimit is the number of pending operations that triggers a commit.
	// Default 10000.
	BatchLimit int
	// NoSync makes commits skip fsync. Default false: every commit is synced,
	// as etcd's bbolt commits are.
	NoSync bool
	// Clock drives the batch interval. Default clock.Real().
	Clock clock.Clock
	// OnCommit, if set, is called after every engine commit (for the events
	// timeline). It runs with the write lock held: keep it cheap.
	OnCommit func(CommitInfo)
}

// CommitInfo describes one engine commit.
type CommitInfo struct {
	Start    time.Time
	Duration time.Duration
	Ops      int    // operations in the committed batch, hook records included
	Reason   string // "interval", "limit", "delete", "force", "close"
	Err      error
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.BatchInterval == 0 {
		c.BatchInterval = DefaultBatchInterval
	}
	if c.BatchLimit == 0 {
		c.BatchLimit = DefaultBatchLimit
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.BatchInterval < 0 {
		errs = append(errs, fmt.Errorf("backend: batch interval %v is negative", c.BatchInterval))
	}
	if c.BatchLimit < 0 {
		errs = append(errs, fmt.Errorf("backend: batch limit %d is negative", c.BatchLimit))
	}
	return errors.Join(errs...)
}

// String renders the configuration for result files.
func (c Config) String() string {
	return fmt.Sprintf("batch-interval=%v batch-limit=%d no-sync=%t", c.BatchInterval, c.BatchLimit, c.NoSync)
}
