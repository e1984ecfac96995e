package lease

import (
	"errors"
	"fmt"
	"math"
	"time"

	"etcdlab/internal/clock"
)

// Defaults are etcd 3.6's (server/lease/lessor.go; MinLeaseTTL from etcd's
// default --election-timeout 1000ms and --heartbeat-interval 100ms).
const (
	DefaultRevokeRate           = 1000
	DefaultCheckInterval        = 500 * time.Millisecond
	DefaultExpiredRetryInterval = 3 * time.Second
	DefaultElectionTicks        = 10
	DefaultHeartbeat            = 100 * time.Millisecond
	// DefaultExpiredChanLen is the buffer of ExpiredLeasesC (etcd's 16).
	DefaultExpiredChanLen = 16
)

// MaxLeaseTTL is the largest TTL Grant accepts, in seconds (etcd's).
const MaxLeaseTTL = 9000000000

// MinTTL is etcd's minimum lease TTL in seconds for a raft configuration
// (server.go: ceil(((3*electionTicks)/2) * heartbeat)): a lease must outlive
// a leader election, or a leader change would expire it.
func MinTTL(electionTicks int, heartbeat time.Duration) int64 {
	d := time.Duration((3*electionTicks)/2) * heartbeat
	return int64(math.Ceil(d.Seconds()))
}

// Config configures a Lessor. The zero value, after EnsureDefaults, is etcd's.
type Config struct {
	// MinLeaseTTL is the least TTL granted, in seconds. Default
	// MinTTL(DefaultElectionTicks, DefaultHeartbeat) = 2.
	MinLeaseTTL int64
	// RevokeRate bounds the expired leases offered per second. Default 1000.
	RevokeRate int
	// CheckInterval is the period of the expiry check. Default 500ms.
	CheckInterval time.Duration
	// ExpiredRetryInterval is how long an offered lease waits before it is
	// offered again if it has not been revoked. Default 3s.
	ExpiredRetryInterval time.Duration
	// ExpiredChanLen is the buffer of ExpiredLeasesC. Default 16.
	ExpiredChanLen int
	// Clock drives expiry. Default clock.Real().
	Clock clock.Clock
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.MinLeaseTTL == 0 {
		c.MinLeaseTTL = MinTTL(DefaultElectionTicks, DefaultHeartbeat)
	}
	if c.RevokeRate == 0 {
		c.RevokeRate = DefaultRevokeRate
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = DefaultCheckInterval
	}
	if c.ExpiredRetryInterval == 0 {
		c.ExpiredRetryInterval = DefaultExpiredRetryInterval
	}
	if c.ExpiredChanLen == 0 {
		c.ExpiredChanLen = DefaultExpiredChanLen
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.MinLeaseTTL < 1 || c.MinLeaseTTL > MaxLeaseTTL {
		errs = append(errs, fmt.Errorf("%w: min lease TTL %d must be in [1, %d]", ErrBadConfig, c.MinLeaseTTL, int64(MaxLeaseTTL)))
	}
	if c.RevokeRate < 2 {
		errs = append(errs, fmt.Errorf("%w: revoke rate %d must be at least 2 (half is revoked per check)", ErrBadConfig, c.RevokeRate))
	}
	if c.CheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("%w: check interval %v must be positive", ErrBadConfig, c.CheckInterval))
	}
	if c.ExpiredRetryInterval <= 0 {
		errs = append(errs, fmt.Errorf("%w: expired retry interval %v must be positive", ErrBadConfig, c.ExpiredRetryInterval))
	}
	if c.ExpiredChanLen < 0 {
		errs = append(errs, fmt.Errorf("%w: expired chan len %d is negative", ErrBadConfig, c.ExpiredChanLen))
	}
	return errors.Join(errs...)
}

// Sentinel errors; the texts after the prefix are etcd's.
var (
	ErrNotPrimary       = errors.New("lease: not a primary lessor")
	ErrLeaseNotFound    = errors.New("lease: lease not found")
	ErrLeaseExists      = errors.New("lease: lease already exists")
	ErrLeaseTTLTooLarge = errors.New("lease: too large lease TTL")
	ErrBadConfig        = errors.New("lease: bad config")
	ErrCorrupt          = errors.New("lease: corrupt lease record")
	ErrClosed           = errors.New("lease: lessor closed")
)
