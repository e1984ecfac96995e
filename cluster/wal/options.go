package wal

import (
	"errors"
	"fmt"
	"time"

	"etcdlab/internal/clock"
)

// Defaults, matching etcd.
const (
	// DefaultSegmentSize is etcd's SegmentSizeBytes.
	DefaultSegmentSize int64 = 64 * 1000 * 1000
	// DefaultMaxSegments is etcd's --max-wals.
	DefaultMaxSegments = 5
	// DefaultSlowSync is etcd's warnSyncDuration.
	DefaultSlowSync = time.Second
	// minSegmentSize keeps a segment able to hold its header records.
	minSegmentSize = 512
)

// Options configures a WAL. The zero value means all defaults.
type Options struct {
	// SegmentSize is the size at which a segment is cut and to which new
	// segments are preallocated. Default DefaultSegmentSize (64,000,000).
	SegmentSize int64
	// MaxSegments is how many segment files to keep on disk; older ones are
	// deleted once released (see ReleaseLockTo). Default 5; negative keeps
	// every segment.
	MaxSegments int
	// SlowSync is the sync duration above which an EventSlowSync is emitted.
	// Default 1s.
	SlowSync time.Duration
	// Clock measures sync latency. Default clock.Real().
	Clock clock.Clock
	// OnEvent, if set, receives slow syncs, cuts, repairs and purges. It is
	// called with the WAL's lock held and must not call back into the WAL.
	OnEvent func(Event)
	// OnSync, if set, is called after every fdatasync of a segment with its
	// duration and the bytes it made durable (etcd's WAL fsync histogram
	// and write-bytes gauge are fed from here). It is called with the WAL's
	// lock held, on the Ready loop's path: keep it to an atomic update.
	OnSync func(d time.Duration, bytes int64)
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.MaxSegments == 0 {
		o.MaxSegments = DefaultMaxSegments
	}
	if o.SlowSync == 0 {
		o.SlowSync = DefaultSlowSync
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
}

// Validate reports every problem with the options at once.
func (o *Options) Validate() error {
	var errs []error
	if o.SegmentSize < minSegmentSize {
		errs = append(errs, fmt.Errorf("%w: SegmentSize %d below minimum %d", ErrBadOption, o.SegmentSize, minSegmentSize))
	}
	if o.SlowSync < 0 {
		errs = append(errs, fmt.Errorf("%w: SlowSync %v is negative", ErrBadOption, o.SlowSync))
	}
	if o.Clock == nil {
		errs = append(errs, fmt.Errorf("%w: Clock is nil", ErrBadOption))
	}
	return errors.Join(errs...)
}

// String records the configuration in key=value form, for results.
func (o Options) String() string {
	return fmt.Sprintf("segment-size=%d max-segments=%d slow-sync=%v", o.SegmentSize, o.MaxSegments, o.SlowSync)
}

// EventKind classifies an Event.
type EventKind int

// Event kinds.
const (
	EventSlowSync EventKind = iota + 1 // a sync took longer than Options.SlowSync
	EventCut                           // a new segment was started
	EventRepair                        // a torn tail was repaired
	EventPurge                         // an old segment was deleted
)

func (k EventKind) String() string {
	switch k {
	case EventSlowSync:
		return "slow-sync"
	case EventCut:
		return "cut"
	case EventRepair:
		return "repair"
	case EventPurge:
		return "purge"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports something an operator should know about.
type Event struct {
	Kind     EventKind
	File     string        // segment concerned (base name)
	Duration time.Duration // for EventSlowSync
	Offset   int64         // for EventRepair: where the segment was truncated
}
