package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/spf13/pflag"

	"etcdlab/cluster/metrics"
	"etcdlab/engines"
	"etcdlab/engines/backend"
	"etcdlab/internal/clock"
	"etcdlab/mvcc"
)

// Defaults, etcd's unless noted.
const (
	DefaultTickInterval           = 100 * time.Millisecond // --heartbeat-interval
	DefaultHeartbeatTicks         = 1
	DefaultElectionTicks          = 10 // --election-timeout 1000ms
	DefaultSnapshotCount          = 10000
	DefaultSnapshotCatchUpEntries = 5000
	DefaultQuotaBytes             = 2 << 30 // --quota-backend-bytes
	DefaultMaxRequestBytes        = 1536 * 1024
	DefaultMaxGapApplied          = 5000 // maxGapBetweenApplyAndCommitIndex
	DefaultSlowApply              = 100 * time.Millisecond
	DefaultReadRetry              = 500 * time.Millisecond
	DefaultMaxSizePerMsg          = 1 << 20
	DefaultMaxInflightMsgs        = 512
	DefaultMaxUncommittedBytes    = 1 << 30
	DefaultEngine                 = "bbolt"
	DefaultRaftLogCompaction      = RaftLogCompaction36
)

// RaftLogCompaction rules (NodeOptions.RaftLogCompaction).
const (
	// RaftLogCompaction36 is etcd 3.6's rule: besides the disk snapshot
	// every SnapshotCount applied entries, a snapshot to memory (raft's
	// MemoryStorage only: no .snap file, no WAL marker, no backend commit)
	// every memorySnapshotCount (100) applied entries, and the raft log is
	// compacted after either, keeping SnapshotCatchUpEntries. The in-memory
	// log stays near SnapshotCatchUpEntries whatever SnapshotCount is.
	RaftLogCompaction36 = "3.6"
	// RaftLogCompaction35 is etcd 3.5's rule: the raft log is compacted
	// only at disk snapshots, so it grows to SnapshotCount +
	// SnapshotCatchUpEntries entries between them.
	RaftLogCompaction35 = "3.5"
)

// NodeOptions configures one node. The zero value, after EnsureDefaults, is
// etcd's configuration (with an in-memory nothing: ID, Dir, Peers and a
// transport must be given).
type NodeOptions struct {
	// ID is the node's raft ID (non-zero).
	ID uint64
	// Dir is the node's data directory: Dir/member/{wal,snap,engine}.
	Dir string
	// Peers are the IDs of the initial voters (bootstrap of a new cluster).
	// Ignored when Dir already holds a WAL. With Join set, the node starts
	// empty and waits for the leader to send it the log.
	Peers []Peer
	// Join starts a node added by a membership change (no bootstrap).
	Join bool
	// Engine names the storage engine (bbolt, pebble, memory). Default bbolt.
	Engine string
	// EngineOptions are "key=value" options for the engine.
	EngineOptions []string

	// TickInterval is one raft tick. Default 100ms.
	TickInterval time.Duration
	// HeartbeatTicks and ElectionTicks are raft's, in ticks. Defaults 1, 10.
	HeartbeatTicks, ElectionTicks int
	// SnapshotCount is the number of applied entries between snapshots.
	// Default 10000 (etcd 3.6).
	SnapshotCount uint64
	// SnapshotCatchUpEntries is how many entries the raft log keeps behind a
	// snapshot for slow followers. Default 5000.
	SnapshotCatchUpEntries uint64
	// RaftLogCompaction is when the in-memory raft log is compacted:
	// RaftLogCompaction36 ("3.6", default: also every 100 applied entries)
	// or RaftLogCompaction35 ("3.5": only at disk snapshots).
	RaftLogCompaction string
	// QuotaBytes is the backend quota; negative disables it. Default 2 GiB.
	QuotaBytes int64
	// MaxRequestBytes bounds a proposal. Default 1.5 MiB.
	MaxRequestBytes int
	// RequestTimeout bounds a proposal or a linearizable read. Default etcd's
	// 5s + 2 × election timeout.
	RequestTimeout time.Duration
	// ReadRetry is the interval at which an unanswered ReadIndex is re-sent.
	// Default 500ms.
	ReadRetry time.Duration
	// SlowApply is the apply duration above which EventSlowApply is emitted.
	// Default 100ms (--warning-apply-duration).
	SlowApply time.Duration
	// NoInitialElectionTickAdvance turns off etcd's
	// --initial-election-tick-advance (on by default, so the zero value is
	// etcd's default): a member of a multi-member cluster then waits a full
	// election timeout before its first campaign. A single-member cluster
	// fast-forwards its election ticks either way, as etcd's does
	// (election.go).
	NoInitialElectionTickAdvance bool
	// AutoCompactionMode is etcd's --auto-compaction-mode: "periodic"
	// (default) or "revision"; it says how AutoCompactionRetention reads.
	AutoCompactionMode string
	// AutoCompactionRetention is etcd's --auto-compaction-retention: in
	// periodic mode a duration ("5m") or a bare number of hours, in
	// revision mode a number of revisions; "0" (default) turns
	// auto-compaction off. See ParseCompactionRetention and autocompact.go.
	AutoCompactionRetention string
	// MaxSizePerMsg, MaxInflightMsgs and MaxUncommittedBytes are raft's.
	// Defaults 1 MiB, 512, 1 GiB.
	MaxSizePerMsg       uint64
	MaxInflightMsgs     int
	MaxUncommittedBytes uint64
	// Backend is etcd's batching layer above the engine (--backend-batch-
	// interval, --backend-batch-limit; defaults in package backend). The
	// node sets its Clock and OnCommit.
	Backend backend.Config
	// WALSegmentSize is the WAL segment size. Default 64,000,000.
	WALSegmentSize int64
	// FS is the filesystem for the WAL and snapshots. Default vfs.Default.
	FS vfs.FS
	// WrapEngine, if set, wraps the storage engine each time one is opened
	// (at start and when a snapshot image is installed): fault injection
	// through the engines.Engine interface. Default none.
	WrapEngine func(engines.Engine) engines.Engine
	// Clock drives ticks, timeouts and measurements. Default clock.Real().
	Clock clock.Clock
	// OnEvent receives the node's events (optional). It must not block.
	OnEvent func(Event)
	// Metrics receives the node's Prometheus figures under etcd's names.
	// Default: StartNode makes a set of its own (metrics.New, basic level),
	// with its own registry, so nodes in one process never share one; the
	// node's Metrics method returns it. Give one to choose the level.
	Metrics *metrics.Metrics

	// unsafeLocalLinearizableReads is a TEST-ONLY fault: linearizable reads
	// skip ReadIndex and are served from the local store at once, as a
	// serializable read would be. It exists so that the linearizability
	// test can show its checker catches stale reads; being unexported, it
	// can be set only from package cluster, and only a _test.go file does
	// (TestLinearizabilityHookTestOnly checks that).
	unsafeLocalLinearizableReads bool
	// openEngine, if set, replaces engines.Open for this node: TEST-ONLY,
	// so the machine-crash test can put pebble on the same crashable
	// in-memory file system as the WAL and snapshots. Unexported, so only
	// package cluster can set it.
	openEngine func(name, dir string, opts []string) (engines.Engine, error)
	// beforeApply, if set, is called by the apply goroutine before each
	// batch: TEST-ONLY, so a test can hold the applier and see that the
	// Ready loop goes on without it. Unexported, so only package cluster
	// can set it.
	beforeApply func()
	// onCompacted is the store's mvcc.Config.OnCompacted: StartNode sets
	// it to the node's compaction event (Node.compacted).
	onCompacted func(mvcc.CompactionStats)
}

// EnsureDefaults fills unset fields with their defaults.
func (o *NodeOptions) EnsureDefaults() {
	if o.Engine == "" {
		o.Engine = DefaultEngine
	}
	if o.TickInterval == 0 {
		o.TickInterval = DefaultTickInterval
	}
	if o.HeartbeatTicks == 0 {
		o.HeartbeatTicks = DefaultHeartbeatTicks
	}
	if o.ElectionTicks == 0 {
		o.ElectionTicks = DefaultElectionTicks
	}
	if o.SnapshotCount == 0 {
		o.SnapshotCount = DefaultSnapshotCount
	}
	if o.SnapshotCatchUpEntries == 0 {
		o.SnapshotCatchUpEntries = DefaultSnapshotCatchUpEntries
	}
	if o.RaftLogCompaction == "" {
		o.RaftLogCompaction = DefaultRaftLogCompaction
	}
	if o.QuotaBytes == 0 {
		o.QuotaBytes = DefaultQuotaBytes
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 5*time.Second + 2*time.Duration(o.ElectionTicks)*o.TickInterval
	}
	if o.ReadRetry == 0 {
		o.ReadRetry = DefaultReadRetry
	}
	if o.SlowApply == 0 {
		o.SlowApply = DefaultSlowApply
	}
	if o.AutoCompactionMode == "" {
		o.AutoCompactionMode = DefaultAutoCompactionMode
	}
	if o.AutoCompactionRetention == "" {
		o.AutoCompactionRetention = DefaultAutoCompactionRetention
	}
	if o.MaxSizePerMsg == 0 {
		o.MaxSizePerMsg = DefaultMaxSizePerMsg
	}
	if o.MaxInflightMsgs == 0 {
		o.MaxInflightMsgs = DefaultMaxInflightMsgs
	}
	if o.MaxUncommittedBytes == 0 {
		o.MaxUncommittedBytes = DefaultMaxUncommittedBytes
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Backend.Clock == nil {
		o.Backend.Clock = o.Clock
	}
	o.Backend.EnsureDefaults()
}

// ValidateTemplate reports every problem of o as a template for nodes whose
// ID and Dir are given later (a cluster's or a run's node options).
func (o NodeOptions) ValidateTemplate() error {
	o.ID, o.Dir = 1, "template"
	o.EnsureDefaults()
	return o.Validate()
}

// FlagLayers is the pflag annotation RegisterFlags puts on the knobs that
// only a replicated node reads (raft, snapshots, quota, auto-compaction):
// its value is the run layer that reads them, "cluster". The engine and
// mvcc layers read the engine and backend knobs only. Sweeps record it per
// swept parameter, so that a report can say when a knob swept on another
// layer changed nothing.
const FlagLayers = "etcdlab-layers"

// RegisterFlags binds the knobs that `etcdlab run`, `sweep` and `node` share
// to o's fields, under etcd's flag names, with the defaults above (and
// package backend's). The names these knobs had on `run` before they took
// etcd's stay as deprecated aliases: each prints one line naming the new
// flag. Flags for other knobs belong to the command that needs them.
func (o *NodeOptions) RegisterFlags(fl *pflag.FlagSet) {
	o.registerShared(fl)
	for old, name := range DeprecatedFlags() {
		f := fl.Lookup(name)
		fl.AddFlag(&pflag.Flag{Name: old, Value: f.Value, DefValue: f.DefValue, Usage: f.Usage, Deprecated: "use --" + name, Hidden: true,
			Annotations: f.Annotations})
	}
}

// registerShared binds the command-line knobs (RegisterFlags without the
// deprecated aliases).
func (o *NodeOptions) registerShared(fl *pflag.FlagSet) {
	fl.StringVar(&o.Engine, "engine", DefaultEngine, "storage engine: "+strings.Join(engines.Names(), ", "))
	fl.StringArrayVar(&o.EngineOptions, "engine-opt", nil, "engine option key=value (repeatable; see 'etcdlab engines')")
	fl.Uint64Var(&o.SnapshotCount, "snapshot-count", DefaultSnapshotCount, "applied entries between disk snapshots (cluster layer)")
	fl.Uint64Var(&o.SnapshotCatchUpEntries, "experimental-snapshot-catchup-entries", DefaultSnapshotCatchUpEntries, "entries the raft log keeps behind a snapshot for slow followers (cluster layer)")
	fl.StringVar(&o.RaftLogCompaction, "raft-log-compaction", DefaultRaftLogCompaction, "etcdlab's knob, not etcd's: when the raft log in memory is compacted: 3.6 (etcd 3.6: every 100 applied entries too) or 3.5 (etcd 3.5: at disk snapshots only) (cluster layer)")
	fl.Int64Var(&o.QuotaBytes, "quota-backend-bytes", DefaultQuotaBytes, "backend quota in bytes before NOSPACE (0: the default; negative: no quota, as etcd) (cluster layer)")
	fl.StringVar(&o.AutoCompactionMode, "auto-compaction-mode", DefaultAutoCompactionMode, "interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention. (cluster layer)")
	fl.StringVar(&o.AutoCompactionRetention, "auto-compaction-retention", DefaultAutoCompactionRetention, "auto compaction retention for mvcc key value store. 0 means disable auto compaction. (cluster layer)")
	fl.DurationVar(&o.Backend.BatchInterval, "backend-batch-interval", backend.DefaultBatchInterval, "longest time before the backend transaction is committed")
	fl.IntVar(&o.Backend.BatchLimit, "backend-batch-limit", backend.DefaultBatchLimit, "pending operations that force a backend commit")
	for _, name := range []string{"snapshot-count", "experimental-snapshot-catchup-entries", "raft-log-compaction", "quota-backend-bytes", "auto-compaction-mode", "auto-compaction-retention"} {
		_ = fl.SetAnnotation(name, FlagLayers, []string{"cluster"})
	}
}

// knobs returns a flag set bound to o's fields that holds every knob of the
// node template, in the order String renders them: the command-line knobs
// (RegisterFlags), then those a program sets but no command line of run or
// sweep takes (`etcdlab node` takes some under etcd's names and units).
// The identity (ID, Dir, Peers, Join) and the plumbing (FS, Clock, hooks,
// Metrics) are not knobs. Registering sets o's knobs to the flags'
// defaults: the command-line defaults, zero (EnsureDefaults' default) for
// the others.
func (o *NodeOptions) knobs() *pflag.FlagSet {
	fl := pflag.NewFlagSet("node-options", pflag.ContinueOnError)
	fl.SortFlags = false
	o.registerShared(fl)
	fl.BoolVar(&o.Backend.NoSync, "backend-no-sync", false, "commits skip fsync")
	fl.DurationVar(&o.TickInterval, "tick", 0, "one raft tick (etcd's --heartbeat-interval)")
	fl.IntVar(&o.HeartbeatTicks, "heartbeat-ticks", 0, "raft's heartbeat, in ticks")
	fl.IntVar(&o.ElectionTicks, "election-ticks", 0, "raft's election timeout, in ticks")
	fl.Var(notBool{&o.NoInitialElectionTickAdvance}, "initial-election-tick-advance", "fast-forward the election ticks at start")
	fl.IntVar(&o.MaxRequestBytes, "max-request-bytes", 0, "largest proposal")
	fl.DurationVar(&o.RequestTimeout, "request-timeout", 0, "bound on a proposal or a linearizable read")
	fl.DurationVar(&o.ReadRetry, "read-retry", 0, "interval at which an unanswered ReadIndex is re-sent")
	fl.DurationVar(&o.SlowApply, "warning-apply-duration", 0, "apply duration above which a slow-apply event is emitted")
	fl.Uint64Var(&o.MaxSizePerMsg, "max-size-per-msg", 0, "raft's MaxSizePerMsg")
	fl.IntVar(&o.MaxInflightMsgs, "max-inflight-msgs", 0, "raft's MaxInflightMsgs")
	fl.Uint64Var(&o.MaxUncommittedBytes, "max-uncommitted-bytes", 0, "raft's MaxUncommittedEntriesSize")
	fl.Int64Var(&o.WALSegmentSize, "wal-segment-size", 0, "WAL segment size (0: 64,000,000)")
	return fl
}

// notBool binds a flag to a field holding its negation
// (--initial-election-tick-advance, on by default, is
// NoInitialElectionTickAdvance, false by default).
type notBool struct{ p *bool }

func (b notBool) String() string   { return strconv.FormatBool(b.p == nil || !*b.p) }
func (b notBool) Type() string     { return "bool" }
func (b notBool) IsBoolFlag() bool { return true }
func (b notBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err == nil {
		*b.p = !v
	}
	return err
}

// DeprecatedFlags maps the old `run` names of the knobs RegisterFlags binds
// to their etcd names.
func DeprecatedFlags() map[string]string {
	return map[string]string{
		"snapshot-catchup-entries": "experimental-snapshot-catchup-entries",
		"quota-bytes":              "quota-backend-bytes",
		"batch-interval":           "backend-batch-interval",
		"batch-limit":              "backend-batch-limit",
	}
}

// CheckFlags reports, naming the flags, the values RegisterFlags accepts
// from a command line that have no meaning: a zero snapshot count or
// catch-up, a batch interval or limit that is not positive. Call it before
// EnsureDefaults (which would take a zero for the default).
func (o *NodeOptions) CheckFlags() error {
	var errs []error
	if o.SnapshotCount == 0 {
		errs = append(errs, fmt.Errorf("%w: --snapshot-count must be at least 1", ErrBadOption))
	}
	if o.SnapshotCatchUpEntries == 0 {
		errs = append(errs, fmt.Errorf("%w: --experimental-snapshot-catchup-entries must be at least 1", ErrBadOption))
	}
	if o.Backend.BatchInterval <= 0 {
		errs = append(errs, fmt.Errorf("%w: --backend-batch-interval %v: must be > 0", ErrBadOption, o.Backend.BatchInterval))
	}
	if o.Backend.BatchLimit <= 0 {
		errs = append(errs, fmt.Errorf("%w: --backend-batch-limit %d: must be > 0", ErrBadOption, o.Backend.BatchLimit))
	}
	return errors.Join(errs...)
}

// Validate reports every problem at once.
func (o NodeOptions) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadOption}, a...)...))
	}
	if o.ID == 0 {
		bad("ID must be non-zero")
	}
	if o.Dir == "" {
		bad("Dir must be set")
	}
	if _, err := engines.OptionsString(o.Engine, o.EngineOptions); err != nil {
		errs = append(errs, fmt.Errorf("%w: engine: %w", ErrBadOption, err))
	}
	if o.TickInterval < 0 {
		bad("TickInterval %v is negative", o.TickInterval)
	}
	if o.HeartbeatTicks < 0 || o.ElectionTicks < 0 {
		bad("HeartbeatTicks %d and ElectionTicks %d must be positive", o.HeartbeatTicks, o.ElectionTicks)
	}
	if o.ElectionTicks > 0 && o.HeartbeatTicks >= o.ElectionTicks {
		bad("ElectionTicks %d must exceed HeartbeatTicks %d", o.ElectionTicks, o.HeartbeatTicks)
	}
	switch o.RaftLogCompaction {
	case RaftLogCompaction36, RaftLogCompaction35:
	default:
		bad("raft-log-compaction %q: accepted %s (etcd 3.6, default), %s (etcd 3.5)", o.RaftLogCompaction, RaftLogCompaction36, RaftLogCompaction35)
	}
	if _, err := ParseCompactionRetention(o.AutoCompactionMode, o.AutoCompactionRetention); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrBadOption, err))
	}
	if o.MaxRequestBytes < 0 {
		bad("MaxRequestBytes %d is negative", o.MaxRequestBytes)
	}
	if o.RequestTimeout < 0 || o.ReadRetry < 0 || o.SlowApply < 0 {
		bad("durations must not be negative")
	}
	if o.MaxInflightMsgs < 0 || o.WALSegmentSize < 0 {
		bad("MaxInflightMsgs and WALSegmentSize must not be negative")
	}
	if err := o.Backend.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrBadOption, err))
	}
	for _, p := range o.Peers {
		if p.ID == 0 {
			bad("peer ID 0")
		}
	}
	return errors.Join(errs...)
}

// String renders the node template's knobs (every flag of knobs, the
// command-line knobs first) as space-separated name=value pairs under their
// flag names, a value Go-quoted when it is empty or holds a space, a quote
// or a character that needs escaping, a repeatable knob (engine-opt) once
// per value and not at all without one. ParseNodeOptions reads it back:
// String → ParseNodeOptions → String is the identity. Results record it
// (result.json config.node_options).
func (o NodeOptions) String() string {
	var c NodeOptions
	fl := c.knobs()
	c = o // the flags' values point into c: they read o's knobs now
	var parts []string
	fl.VisitAll(func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				parts = append(parts, f.Name+"="+quoteKnob(v))
			}
			return
		}
		parts = append(parts, f.Name+"="+quoteKnob(f.Value.String()))
	})
	return strings.Join(parts, " ")
}

func quoteKnob(v string) string {
	if q := strconv.Quote(v); v == "" || strings.ContainsRune(v, ' ') || q != `"`+v+`"` {
		return q
	}
	return v
}

// ParseNodeOptions reads String's form back into the node template's knobs.
// A knob s does not name keeps its flag default (RegisterFlags' for the
// command-line knobs, zero for the others, which EnsureDefaults fills);
// ID, Dir, Peers and the plumbing are left zero. An unknown name, a knob
// given twice (a repeatable one excepted) or a value its flag refuses is
// an error wrapping ErrBadOption.
func ParseNodeOptions(s string) (NodeOptions, error) {
	var o NodeOptions
	fl := o.knobs()
	seen := map[string]bool{}
	lists := map[string][]string{}
	var order []string
	for rest := strings.TrimLeft(s, " "); rest != ""; rest = strings.TrimLeft(rest, " ") {
		eq := strings.IndexByte(rest, '=')
		if sp := strings.IndexByte(rest, ' '); eq <= 0 || (sp >= 0 && sp < eq) {
			return NodeOptions{}, fmt.Errorf("%w: node options: %q is not name=value", ErrBadOption, strings.SplitN(rest, " ", 2)[0])
		}
		name, val := rest[:eq], rest[eq+1:]
		if strings.HasPrefix(val, `"`) {
			q, err := strconv.QuotedPrefix(val)
			if err != nil {
				return NodeOptions{}, fmt.Errorf("%w: node options: %s: bad quoted value %s", ErrBadOption, name, val)
			}
			rest = val[len(q):]
			val, _ = strconv.Unquote(q)
			if rest != "" && rest[0] != ' ' {
				return NodeOptions{}, fmt.Errorf("%w: node options: %s: text after the quoted value: %q", ErrBadOption, name, rest)
			}
		} else {
			end := strings.IndexByte(val, ' ')
			if end < 0 {
				end = len(val)
			}
			val, rest = val[:end], val[end:]
		}
		f := fl.Lookup(name)
		if f == nil {
			return NodeOptions{}, fmt.Errorf("%w: node options: unknown knob %q", ErrBadOption, name)
		}
		if _, ok := f.Value.(pflag.SliceValue); ok {
			if _, ok := lists[name]; !ok {
				order = append(order, name)
			}
			lists[name] = append(lists[name], val)
			continue
		}
		if seen[name] {
			return NodeOptions{}, fmt.Errorf("%w: node options: %s given twice", ErrBadOption, name)
		}
		seen[name] = true
		if err := fl.Set(name, val); err != nil {
			return NodeOptions{}, fmt.Errorf("%w: node options: %v", ErrBadOption, err)
		}
	}
	for _, name := range order {
		if err := fl.Lookup(name).Value.(pflag.SliceValue).Replace(lists[name]); err != nil {
			return NodeOptions{}, fmt.Errorf("%w: node options: %s: %v", ErrBadOption, name, err)
		}
	}
	return o, nil
}
