package bbolt

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"sort"
	"strconv"
	"strings"
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
// (they mean the default); call EnsureDefaults first to validate the result.
func (o Options) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: bbolt %s: %s", engine.ErrBadOption, key, fmt.Sprintf(format, args...)))
	}
	if o.InitialMmapSize < 0 || o.InitialMmapSize > math.MaxInt {
		bad("initial-mmap-size", "%d out of range (want a positive byte count such as 64MiB or 10GiB)", o.InitialMmapSize)
	}
	switch o.FreelistType {
	case "", "map", "array":
	default:
		bad("freelist-type", "%q is not one of array, map", o.FreelistType)
	}
	if o.SeqFillPercent != 0 && !(o.SeqFillPercent > 0.1 && o.SeqFillPercent <= 1.0) {
		bad("seq-fill-percent", "%v is not in (0.1, 1.0]", o.SeqFillPercent)
	}
	if o.PageSize != 0 && (o.PageSize < 1024 || o.PageSize > 65536 || bits.OnesCount(uint(o.PageSize)) != 1) {
		bad("page-size", "%d is not a power of two from 1024 to 65536", o.PageSize)
	}
	if o.Timeout < 0 {
		bad("timeout", "%s is negative (want a positive duration such as 1s)", o.Timeout)
	}
	return errors.Join(errs...)
}

// String renders o as space-separated key=value pairs sorted by key; the
// result, split with strings.Fields and fed to engine.ParseKV and
// ParseOptions, gives o back (with defaults applied).
func (o Options) String() string {
	kv := map[string]string{
		"initial-mmap-size": engine.FormatBytes(o.InitialMmapSize),
		"freelist-type":     o.FreelistType,
		"no-sync":           strconv.FormatBool(o.NoSync),
		"no-freelist-sync":  strconv.FormatBool(!o.SyncFreelist),
		"seq-fill-percent":  strconv.FormatFloat(o.SeqFillPercent, 'g', -1, 64),
		"page-size":         engine.FormatBytes(int64(o.PageSize)),
		"mlock":             strconv.FormatBool(o.Mlock),
		"timeout":           o.Timeout.String(),
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

// Knobs lists every option key with its default and a one-line description.
func Knobs() []engine.Knob {
	return []engine.Knob{
		{Key: "initial-mmap-size", Default: engine.FormatBytes(DefaultInitialMmapSize),
			Doc: "initial mmap size in bytes (integer or with KiB/MiB/GiB/TiB or KB/MB/GB/TB suffix); a commit that outgrows it remaps and waits for open views"},
		{Key: "freelist-type", Default: DefaultFreelistType,
			Doc: "bbolt freelist implementation: map or array"},
		{Key: "no-sync", Default: "false",
			Doc: "bool; true makes every commit skip fsync, even a synced one (etcd --unsafe-no-fsync)"},
		{Key: "no-freelist-sync", Default: "true",
			Doc: "bool; true keeps the freelist off disk and rebuilds it on open (etcd's setting)"},
		{Key: "seq-fill-percent", Default: strconv.FormatFloat(DefaultSeqFillPercent, 'g', -1, 64),
			Doc: "page fill percent for sequential buckets and for the copy made by Reclaim, in (0.1,1.0]"},
		{Key: "page-size", Default: strconv.Itoa(os.Getpagesize()),
			Doc: "page size in bytes for a new file, a power of two from 1024 to 65536 (default: OS page size)"},
		{Key: "mlock", Default: "false",
			Doc: "bool; lock the mapped file in memory"},
		{Key: "timeout", Default: DefaultTimeout.String(),
			Doc: "how long Open waits for the file lock (Go duration, > 0)"},
	}
}

// ParseOptions turns key=value pairs (from engine.ParseKV) into Options with
// defaults applied. Every malformed or out-of-range value is reported at once,
// each error wrapping engine.ErrBadOption and naming the key and what it accepts.
func ParseOptions(kv map[string]string) (Options, error) {
	var o Options
	var errs []error
	bad := func(key, val, want string, err error) {
		detail := ""
		if err != nil {
			detail = " (" + err.Error() + ")"
		}
		errs = append(errs, fmt.Errorf("%w: bbolt %s=%q: want %s%s", engine.ErrBadOption, key, val, want, detail))
	}
	known := make(map[string]bool)
	for _, k := range Knobs() {
		known[k.Key] = true
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error order
	for _, key := range keys {
		val := kv[key]
		switch key {
		case "initial-mmap-size":
			n, err := engine.ParseBytes(val)
			if err != nil || n <= 0 || n > math.MaxInt {
				bad(key, val, "a positive byte count such as 67108864, 64MiB or 10GiB", err)
				continue
			}
			o.InitialMmapSize = n
		case "freelist-type":
			if val != "map" && val != "array" {
				bad(key, val, "one of array, map", nil)
				continue
			}
			o.FreelistType = val
		case "no-sync", "no-freelist-sync", "mlock":
			b, err := strconv.ParseBool(val)
			if err != nil {
				bad(key, val, "a bool (true or false)", nil)
				continue
			}
			switch key {
			case "no-sync":
				o.NoSync = b
			case "no-freelist-sync":
				o.SyncFreelist = !b
			default:
				o.Mlock = b
			}
		case "seq-fill-percent":
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || !(f > 0.1 && f <= 1.0) {
				bad(key, val, "a number in (0.1, 1.0]", nil)
				continue
			}
			o.SeqFillPercent = f
		case "page-size":
			n, err := engine.ParseBytes(val)
			if err != nil || n < 1024 || n > 65536 || bits.OnesCount64(uint64(n)) != 1 {
				bad(key, val, "a power of two from 1024 to 65536 such as 4096 or 16KiB", err)
				continue
			}
			o.PageSize = int(n)
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				bad(key, val, "a positive Go duration such as 1s or 500ms", nil)
				continue
			}
			o.Timeout = d
		default:
			if !known[key] {
				errs = append(errs, fmt.Errorf("%w: bbolt: unknown option %q (accepted: %s)",
					engine.ErrBadOption, key, engine.KnobList(Knobs())))
			}
		}
	}
	if len(errs) > 0 {
		return Options{}, errors.Join(errs...)
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return Options{}, err
	}
	return o, nil
}
