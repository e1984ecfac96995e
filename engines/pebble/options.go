package pebble

import (
	"errors"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"etcdlab/engines/engine"
)

// WALMode says how the engine uses pebble's own write-ahead log. Whether the
// storage engine keeps its WAL under etcd's raft WAL is a research question,
// so it is a knob to measure, not a hidden choice.
type WALMode string

const (
	// WALSynced: Commit(true) uses pebble.Sync (the WAL is fdatasynced before
	// Commit returns) and Commit(false) uses pebble.NoSync.
	WALSynced WALMode = "synced"
	// WALUnsynced: every commit uses pebble.NoSync and returns once its
	// record is in pebble's WAL writer buffer, which a background goroutine
	// writes out soon after: a process crash can lose the last commits (the
	// cluster's SIGKILL test shows it), a machine crash everything since the
	// last WAL sync. Sync (a WAL fdatasync) makes them durable.
	WALUnsynced WALMode = "unsynced"
	// WALDisabled sets pebble's Options.DisableWAL: commits go to the memtable
	// only and become durable when a flush writes them to an sstable. Data
	// committed since the last flush is lost on ANY crash, process or machine;
	// Close flushes, so a clean shutdown loses nothing. The raft WAL above the
	// engine is then the only source of durability and must be replayed.
	WALDisabled WALMode = "disabled"
)

// Defaults, each pebble v2.1.7's own default for the matching pebble option
// (see pebble's Options.EnsureDefaults), so that "pebble with defaults" means
// what pebble engineers expect.
const (
	DefaultCacheSize                = 8 << 20   // pebble cacheDefaultSize
	DefaultMemTableSize             = 4 << 20   // pebble MemTableSize default (4 MiB in v2.1.7, not 64 MiB)
	DefaultL0CompactionThreshold    = 4         // pebble L0CompactionThreshold
	DefaultL0StopWritesThreshold    = 12        // pebble L0StopWritesThreshold
	DefaultBytesPerSync             = 512 << 10 // pebble BytesPerSync
	DefaultWAL                      = WALSynced
	DefaultMaxConcurrentCompactions = 1        // pebble CompactionConcurrencyRange default (1, 1)
	DefaultLBaseMaxBytes            = 64 << 20 // pebble LBaseMaxBytes
)

// maxMemTableSize is pebble's limit (MemTableSize must be < 4 GiB on 64-bit).
const maxMemTableSize = 4<<30 - 1

// Options configures the pebble engine. A zero field means its default; call
// EnsureDefaults to fill them in and Validate to check the result.
type Options struct {
	// CacheSize is the block cache size in bytes. Default 8 MiB.
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes; a full memtable is
	// flushed to an L0 sstable. Default 4 MiB.
	MemTableSize int64
	// L0CompactionThreshold is the L0 read amplification (sublevels) that
	// triggers an L0 compaction. Default 4.
	L0CompactionThreshold int
	// L0StopWritesThreshold is the L0 read amplification at which writes stall
	// until compactions catch up. Default 12; must be >= L0CompactionThreshold.
	L0StopWritesThreshold int
	// BytesPerSync makes pebble ask the kernel to write back sstable data every
	// this many bytes (sync_file_range), smoothing I/O. Default 512 KiB.
	BytesPerSync int64
	// WAL is the pebble WAL mode (synced, unsynced, disabled). Default synced.
	WAL WALMode
	// MaxConcurrentCompactions is the upper bound of pebble's
	// CompactionConcurrencyRange; pebble runs one compaction normally and raises
	// the concurrency up to this bound under L0 read amplification or
	// compaction debt. Default 1 (pebble's default; this machine has 2 cores).
	MaxConcurrentCompactions int
	// LBaseMaxBytes is the maximum size of the base level (the level L0
	// compacts into). Default 64 MiB.
	LBaseMaxBytes int64
	// FS is the file system pebble uses; nil means vfs.Default (the OS). Tests
	// pass vfs.NewMem() or vfs.NewCrashableMem(). Not a knob.
	FS vfs.FS
}

// EnsureDefaults fills every zero field with its default.
func (o *Options) EnsureDefaults() {
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.L0CompactionThreshold == 0 {
		o.L0CompactionThreshold = DefaultL0CompactionThreshold
	}
	if o.L0StopWritesThreshold == 0 {
		o.L0StopWritesThreshold = DefaultL0StopWritesThreshold
	}
	if o.BytesPerSync == 0 {
		o.BytesPerSync = DefaultBytesPerSync
	}
	if o.WAL == "" {
		o.WAL = DefaultWAL
	}
	if o.MaxConcurrentCompactions == 0 {
		o.MaxConcurrentCompactions = DefaultMaxConcurrentCompactions
	}
	if o.LBaseMaxBytes == 0 {
		o.LBaseMaxBytes = DefaultLBaseMaxBytes
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
}

// Validate reports every problem of o at once (call EnsureDefaults first; a
// zero field is reported as invalid). Each problem wraps engine.ErrBadOption.
func (o *Options) Validate() error {
	t := optionTable()
	errs := []error{t.Validate(o)}
	if o.L0StopWritesThreshold > 0 && o.L0StopWritesThreshold < o.L0CompactionThreshold {
		errs = append(errs, t.Problem("l0-stop-writes-threshold", "%d must be >= l0-compaction-threshold (%d)",
			o.L0StopWritesThreshold, o.L0CompactionThreshold))
	}
	if o.FS == nil {
		errs = append(errs, t.Problem("FS", "nil (call EnsureDefaults)"))
	}
	return errors.Join(errs...)
}

// String lists every knob as space-separated key=value pairs sorted by key;
// ParseOptions(engine.ParseKV(Name, strings.Fields(s), Knobs())) gives o back
// (FS excepted, it is not a knob).
func (o Options) String() string { return optionTable().String(&o) }

// Knobs lists every option settable as key=value, with its default.
func Knobs() []engine.Knob { return optionTable().Knobs() }

// ParseOptions turns key=value pairs (from engine.ParseKV) into Options with
// defaults applied. Every malformed or invalid value is reported at once,
// wrapping engine.ErrBadOption and naming the key and the accepted values.
func ParseOptions(kv map[string]string) (Options, error) {
	return engine.Parse(optionTable(), kv)
}

const sizeForms = "a byte count like 8388608 or 8MiB (suffixes B, KiB, MiB, GiB, TiB)"

// optionTable is the engine's knobs: key, default, doc, what each accepts,
// and the field of Options it sets.
func optionTable() engine.Table[Options] {
	positive := func(n int64) bool { return n > 0 }
	size := func(key, doc, limit string, ptr func(*Options) *int64, def int64, valid func(int64) bool) engine.Field[Options] {
		return engine.Field[Options]{Key: key, Default: engine.FormatBytes(def), Doc: doc + "; " + sizeForms,
			Want: "a positive " + strings.TrimPrefix(sizeForms, "a ") + limit, Value: engine.Bytes(ptr, valid)}
	}
	integer := func(key, doc, want string, ptr func(*Options) *int, def int, valid func(int) bool) engine.Field[Options] {
		return engine.Field[Options]{Key: key, Default: strconv.Itoa(def), Doc: doc, Want: want, Value: engine.Int(ptr, valid)}
	}
	return engine.Table[Options]{Engine: Name, Fields: []engine.Field[Options]{
		size("cache-size", "block cache size", "", func(o *Options) *int64 { return &o.CacheSize }, DefaultCacheSize, positive),
		size("memtable-size", "memtable size (flush unit), at most 4GiB-1", ", at most 4GiB-1", func(o *Options) *int64 { return &o.MemTableSize }, DefaultMemTableSize,
			func(n int64) bool { return n > 0 && n <= maxMemTableSize }),
		integer("l0-compaction-threshold", "L0 sublevels that trigger an L0 compaction; integer >= 1", "a positive integer",
			func(o *Options) *int { return &o.L0CompactionThreshold }, DefaultL0CompactionThreshold, func(n int) bool { return n > 0 }),
		integer("l0-stop-writes-threshold", "L0 sublevels at which writes stall; integer >= l0-compaction-threshold", "a positive integer",
			func(o *Options) *int { return &o.L0StopWritesThreshold }, DefaultL0StopWritesThreshold, func(n int) bool { return n > 0 }),
		size("bytes-per-sync", "sstable writeback interval (sync_file_range)", ", at most 1GiB", func(o *Options) *int64 { return &o.BytesPerSync }, DefaultBytesPerSync,
			func(n int64) bool { return n > 0 && n <= 1<<30 }),
		{Key: "wal", Default: string(DefaultWAL),
			Doc:   "pebble WAL: synced (Commit(true) fsyncs), unsynced (never fsyncs), disabled (no WAL; durable only after a flush)",
			Value: engine.OneOf(func(o *Options) *WALMode { return &o.WAL }, WALSynced, WALUnsynced, WALDisabled)},
		integer("max-concurrent-compactions", "upper bound of concurrent compactions; integer in [1, 64]", "an integer in [1, 64]",
			func(o *Options) *int { return &o.MaxConcurrentCompactions }, DefaultMaxConcurrentCompactions, func(n int) bool { return n >= 1 && n <= 64 }),
		size("lbase-max-bytes", "maximum size of the base level", "", func(o *Options) *int64 { return &o.LBaseMaxBytes }, DefaultLBaseMaxBytes, positive),
	}}
}

// CurrentFile is the file pebble always writes in its data dir (beside
// MANIFEST-*, OPTIONS-* and the sstables and WAL files).
const CurrentFile = "CURRENT"

// Detect returns the entry of names (a data dir's entries) that marks the
// dir as pebble's: CURRENT or a MANIFEST-* file.
func Detect(names []string) string {
	for _, n := range names {
		if n == CurrentFile || strings.HasPrefix(n, "MANIFEST-") && len(n) > len("MANIFEST-") {
			return n
		}
	}
	return ""
}
