package pebble

import (
	"errors"
	"fmt"
	"sort"
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
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: pebble %s: %s", engine.ErrBadOption, key, fmt.Sprintf(format, args...)))
	}
	if o.CacheSize <= 0 {
		bad("cache-size", "%d must be > 0", o.CacheSize)
	}
	if o.MemTableSize <= 0 || o.MemTableSize > maxMemTableSize {
		bad("memtable-size", "%d must be in [1, %d]", o.MemTableSize, int64(maxMemTableSize))
	}
	if o.L0CompactionThreshold <= 0 {
		bad("l0-compaction-threshold", "%d must be > 0", o.L0CompactionThreshold)
	}
	if o.L0StopWritesThreshold <= 0 {
		bad("l0-stop-writes-threshold", "%d must be > 0", o.L0StopWritesThreshold)
	} else if o.L0StopWritesThreshold < o.L0CompactionThreshold {
		bad("l0-stop-writes-threshold", "%d must be >= l0-compaction-threshold (%d)",
			o.L0StopWritesThreshold, o.L0CompactionThreshold)
	}
	if o.BytesPerSync <= 0 || o.BytesPerSync > 1<<30 {
		bad("bytes-per-sync", "%d must be in [1, 1GiB]", o.BytesPerSync)
	}
	switch o.WAL {
	case WALSynced, WALUnsynced, WALDisabled:
	default:
		bad("wal", "%q is not one of synced, unsynced, disabled", o.WAL)
	}
	if o.MaxConcurrentCompactions <= 0 || o.MaxConcurrentCompactions > 64 {
		bad("max-concurrent-compactions", "%d must be in [1, 64]", o.MaxConcurrentCompactions)
	}
	if o.LBaseMaxBytes <= 0 {
		bad("lbase-max-bytes", "%d must be > 0", o.LBaseMaxBytes)
	}
	if o.FS == nil {
		errs = append(errs, fmt.Errorf("%w: pebble: FS is nil (call EnsureDefaults)", engine.ErrBadOption))
	}
	return errors.Join(errs...)
}

// String lists every knob as space-separated key=value pairs sorted by key;
// ParseOptions(engine.ParseKV(Name, strings.Fields(s), Knobs())) gives o back
// (FS excepted, it is not a knob).
func (o Options) String() string {
	kv := map[string]string{
		"cache-size":                 engine.FormatBytes(o.CacheSize),
		"memtable-size":              engine.FormatBytes(o.MemTableSize),
		"l0-compaction-threshold":    strconv.Itoa(o.L0CompactionThreshold),
		"l0-stop-writes-threshold":   strconv.Itoa(o.L0StopWritesThreshold),
		"bytes-per-sync":             engine.FormatBytes(o.BytesPerSync),
		"wal":                        string(o.WAL),
		"max-concurrent-compactions": strconv.Itoa(o.MaxConcurrentCompactions),
		"lbase-max-bytes":            engine.FormatBytes(o.LBaseMaxBytes),
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + kv[k]
	}
	return strings.Join(parts, " ")
}

const sizeForms = "a byte count like 8388608 or 8MiB (suffixes B, KiB, MiB, GiB, TiB)"

// Knobs lists every option settable as key=value, with its default.
func Knobs() []engine.Knob {
	return []engine.Knob{
		{Key: "cache-size", Default: engine.FormatBytes(DefaultCacheSize), Doc: "block cache size; " + sizeForms},
		{Key: "memtable-size", Default: engine.FormatBytes(DefaultMemTableSize), Doc: "memtable size (flush unit), at most 4GiB-1; " + sizeForms},
		{Key: "l0-compaction-threshold", Default: strconv.Itoa(DefaultL0CompactionThreshold), Doc: "L0 sublevels that trigger an L0 compaction; integer >= 1"},
		{Key: "l0-stop-writes-threshold", Default: strconv.Itoa(DefaultL0StopWritesThreshold), Doc: "L0 sublevels at which writes stall; integer >= l0-compaction-threshold"},
		{Key: "bytes-per-sync", Default: engine.FormatBytes(DefaultBytesPerSync), Doc: "sstable writeback interval (sync_file_range); " + sizeForms},
		{Key: "wal", Default: string(DefaultWAL), Doc: "pebble WAL: synced (Commit(true) fsyncs), unsynced (never fsyncs), disabled (no WAL; durable only after a flush)"},
		{Key: "max-concurrent-compactions", Default: strconv.Itoa(DefaultMaxConcurrentCompactions), Doc: "upper bound of concurrent compactions; integer in [1, 64]"},
		{Key: "lbase-max-bytes", Default: engine.FormatBytes(DefaultLBaseMaxBytes), Doc: "maximum size of the base level; " + sizeForms},
	}
}

// ParseOptions turns key=value pairs (from engine.ParseKV) into Options with
// defaults applied. Every malformed or invalid value is reported at once,
// wrapping engine.ErrBadOption and naming the key and the accepted values.
func ParseOptions(kv map[string]string) (Options, error) {
	var o Options
	var errs []error
	bad := func(key, val, accepted string) {
		errs = append(errs, fmt.Errorf("%w: pebble %s=%q: want %s", engine.ErrBadOption, key, val, accepted))
	}
	size := func(key string, dst *int64) {
		if v, ok := kv[key]; ok {
			n, err := engine.ParseBytes(v)
			if err != nil || n <= 0 {
				bad(key, v, "a positive "+sizeForms)
				return
			}
			*dst = n
		}
	}
	integer := func(key string, dst *int) {
		if v, ok := kv[key]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				bad(key, v, "a positive integer")
				return
			}
			*dst = n
		}
	}
	known := map[string]bool{}
	for _, k := range Knobs() {
		known[k.Key] = true
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			errs = append(errs, fmt.Errorf("%w: pebble: unknown option %q (accepted: %s)",
				engine.ErrBadOption, k, engine.KnobList(Knobs())))
		}
	}
	size("cache-size", &o.CacheSize)
	size("memtable-size", &o.MemTableSize)
	integer("l0-compaction-threshold", &o.L0CompactionThreshold)
	integer("l0-stop-writes-threshold", &o.L0StopWritesThreshold)
	size("bytes-per-sync", &o.BytesPerSync)
	if v, ok := kv["wal"]; ok {
		switch m := WALMode(v); m {
		case WALSynced, WALUnsynced, WALDisabled:
			o.WAL = m
		default:
			bad("wal", v, "one of synced, unsynced, disabled")
		}
	}
	integer("max-concurrent-compactions", &o.MaxConcurrentCompactions)
	size("lbase-max-bytes", &o.LBaseMaxBytes)
	o.EnsureDefaults()
	if len(errs) == 0 {
		// Range and cross-field checks only on well-formed values, so that a
		// malformed value is not reported twice.
		if err := o.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Options{}, errors.Join(errs...)
	}
	return o, nil
}
