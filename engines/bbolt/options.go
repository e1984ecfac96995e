package bbolt

import (
	"math"
	"math/bits"
	"os"
	"strconv"
	"time"

	"etcdlab/engines/engine"
)

// Name is the engine's registered name.
const Name = "bbolt"

// Defaults. The etcd ones are the values etcd 3.6 passes to bolt.Open
// (server/storage/backend/backend.go), so that a default bbolt engine behaves
// like an etcd backend.
const (
	// DefaultInitialMmapSize is etcd's initial mmap size: large enough that
	// commits practically never remap, because a remap waits for every open
	// read transaction.
	DefaultInitialMmapSize int64 = 10 << 30
	// DefaultFreelistType is etcd 3.6's freelist type.
	DefaultFreelistType = "map"
	// DefaultSeqFillPercent is the fill percent etcd uses for its key bucket,
	// whose keys (revisions) are appended in increasing order.
	DefaultSeqFillPercent = 0.9
	// DefaultTimeout bounds the wait for the file lock so that opening a db
	// another engine or process holds fails clearly instead of hanging.
	DefaultTimeout = time.Second
)

// Options configure a bbolt engine. The zero value means "all defaults";
// EnsureDefaults fills in every unset field.
type Options struct {
	// InitialMmapSize is the initial size of the memory mapping, in bytes.
	// Default 10 GiB (etcd). A commit that grows the data past the mapping has
	// to remap, which waits for all open views to close.
	InitialMmapSize int64
	// FreelistType is "map" (hash map, etcd 3.6's default) or "array".
	// Default "map".
	FreelistType string
	// NoSync makes every commit skip fsync, even Commit(true), and also skips
	// the fsync bbolt does when it grows the file (etcd's
	// --unsafe-no-fsync sets both). Default false.
	NoSync bool
	// SyncFreelist writes the freelist to disk in every commit. Default false,
	// that is no-freelist-sync=true as in etcd: the freelist is rebuilt by
	// scanning the file on open instead.
	SyncFreelist bool
	// SeqFillPercent is the page fill percent for buckets marked Sequential,
	// in (0.1, 1.0]. Default 0.9 (etcd's key bucket). Other buckets use
	// bbolt's default of 0.5.
	SeqFillPercent float64
	// PageSize is the page size for a new file, in bytes: a power of two from
	// 1024 to 65536. Default the OS page size. An existing file keeps the
	// page size it was created with.
	PageSize int
	// Mlock locks the mapped file in memory. Default false.
	Mlock bool
	// Timeout is how long Open waits for the file lock. Default 1s; it must be
	// positive (bbolt treats 0 as "wait forever").
	Timeout time.Duration
}

// EnsureDefaults fills every unset (zero) field with its default.
func (o *Options) EnsureDefaults() {
	if o.InitialMmapSize == 0 {
		o.InitialMmapSize = DefaultInitialMmapSize
	}
	if o.FreelistType == "" {
		o.FreelistType = DefaultFreelistType
	}
	if o.SeqFillPercent == 0 {
		o.SeqFillPercent = DefaultSeqFillPercent
	}
	if o.PageSize == 0 {
		o.PageSize = os.Getpagesize()
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
}

// Validate reports every problem with o at once. Zero fields are accepted
// (they mean the default).
func (o Options) Validate() error {
	o.EnsureDefaults()
	return optionTable().Validate(&o)
}

// String renders o as space-separated key=value pairs sorted by key; the
// result, split with strings.Fields and fed to engine.ParseKV and
// ParseOptions, gives o back (with defaults applied).
func (o Options) String() string { return optionTable().String(&o) }

// Knobs lists every option key with its default and a one-line description.
func Knobs() []engine.Knob { return optionTable().Knobs() }

// ParseOptions turns key=value pairs (from engine.ParseKV) into Options with
// defaults applied. Every malformed or out-of-range value is reported at once,
// each error wrapping engine.ErrBadOption and naming the key and what it accepts.
func ParseOptions(kv map[string]string) (Options, error) {
	return engine.Parse(optionTable(), kv)
}

// optionTable is the engine's knobs: key, default, doc, what each accepts,
// and the field of Options it sets.
func optionTable() engine.Table[Options] {
	return engine.Table[Options]{Engine: Name, Fields: []engine.Field[Options]{
		{Key: "initial-mmap-size", Default: engine.FormatBytes(DefaultInitialMmapSize),
			Doc:   "initial mmap size in bytes (integer or with KiB/MiB/GiB/TiB or KB/MB/GB/TB suffix); a commit that outgrows it remaps and waits for open views",
			Want:  "a positive byte count such as 67108864, 64MiB or 10GiB",
			Value: engine.Bytes(func(o *Options) *int64 { return &o.InitialMmapSize }, func(n int64) bool { return n > 0 && n <= math.MaxInt })},
		{Key: "freelist-type", Default: DefaultFreelistType,
			Doc:   "bbolt freelist implementation: map or array",
			Value: engine.OneOf(func(o *Options) *string { return &o.FreelistType }, "array", "map")},
		{Key: "no-sync", Default: "false",
			Doc:   "bool; true makes every commit skip fsync, even a synced one (etcd --unsafe-no-fsync)",
			Value: engine.Bool(func(o *Options) *bool { return &o.NoSync })},
		{Key: "no-freelist-sync", Default: "true",
			Doc:   "bool; true keeps the freelist off disk and rebuilds it on open (etcd's setting)",
			Value: engine.Negated(func(o *Options) *bool { return &o.SyncFreelist })},
		{Key: "seq-fill-percent", Default: strconv.FormatFloat(DefaultSeqFillPercent, 'g', -1, 64),
			Doc:   "page fill percent for sequential buckets and for the copy made by Reclaim, in (0.1,1.0]",
			Want:  "a number in (0.1, 1.0]",
			Value: engine.Float(func(o *Options) *float64 { return &o.SeqFillPercent }, func(f float64) bool { return f > 0.1 && f <= 1.0 })},
		{Key: "page-size", Default: strconv.Itoa(os.Getpagesize()),
			Doc:   "page size in bytes for a new file, a power of two from 1024 to 65536 (default: OS page size)",
			Want:  "a power of two from 1024 to 65536 such as 4096 or 16KiB",
			Value: engine.Bytes(func(o *Options) *int { return &o.PageSize }, func(n int) bool { return n >= 1024 && n <= 65536 && bits.OnesCount(uint(n)) == 1 })},
		{Key: "mlock", Default: "false",
			Doc:   "bool; lock the mapped file in memory",
			Value: engine.Bool(func(o *Options) *bool { return &o.Mlock })},
		{Key: "timeout", Default: DefaultTimeout.String(),
			Doc:   "how long Open waits for the file lock (Go duration, > 0)",
			Want:  "a positive Go duration such as 1s or 500ms",
			Value: engine.Duration(func(o *Options) *time.Duration { return &o.Timeout }, func(d time.Duration) bool { return d > 0 })},
	}}
}

// DataFile is the engine's one file in its data dir, named as in etcd's
// member/snap/db; it marks the dir as bbolt's.
const DataFile = "db"

// Detect returns DataFile when names (a data dir's entries) hold it.
func Detect(names []string) string {
	for _, n := range names {
		if n == DataFile {
			return n
		}
	}
	return ""
}
