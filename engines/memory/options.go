package memory

import (
	"fmt"
	"strconv"

	"etcdlab/engines/engine"
)

// Name is the engine's registered name.
const Name = "memory"

// DefaultDegree is the B-tree degree used when Options.Degree is 0. 32 is what
// google/btree's own benchmarks and etcd's treeIndex use.
const DefaultDegree = 32

// Limits on Options.Degree: google/btree needs at least 2; beyond 1024 nodes
// are so wide that every copy-on-write copies kilobytes of pointers.
const (
	minDegree = 2
	maxDegree = 1024
)

// Options configure the memory engine. The zero value is valid and means the
// defaults.
type Options struct {
	// Degree is the B-tree degree (every node holds Degree-1 to 2*Degree-1
	// entries). Default DefaultDegree.
	Degree int
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Degree == 0 {
		o.Degree = DefaultDegree
	}
}

// Validate reports every invalid field at once. It expects EnsureDefaults to
// have run.
func (o Options) Validate() error { return optionTable().Validate(&o) }

// String is the normalized key=value form of every knob, so a result records
// the exact configuration; ParseOptions of it yields the same Options.
func (o Options) String() string { return optionTable().String(&o) }

// Knobs lists the options settable as key=value.
func Knobs() []engine.Knob { return optionTable().Knobs() }

// ParseOptions turns a key=value map (from engine.ParseKV) into validated
// Options with defaults filled. Unknown keys and malformed values are reported
// together, wrapping engine.ErrBadOption.
func ParseOptions(kv map[string]string) (Options, error) {
	return engine.Parse(optionTable(), kv)
}

// optionTable is the engine's one knob. A degree of 0 given as an option is
// refused like any out-of-range value: it would silently mean "default".
func optionTable() engine.Table[Options] {
	inRange := fmt.Sprintf("[%d, %d]", minDegree, maxDegree)
	return engine.Table[Options]{Engine: Name, Fields: []engine.Field[Options]{
		{Key: "degree", Default: strconv.Itoa(DefaultDegree),
			Doc:   "B-tree degree, an integer in " + inRange,
			Want:  "an integer in " + inRange,
			Value: engine.Int(func(o *Options) *int { return &o.Degree }, func(n int) bool { return n >= minDegree && n <= maxDegree })},
	}}
}

// ImageFile is where the engine keeps its image in its data dir (written on
// Close and Sync); it marks the dir as the memory engine's.
const ImageFile = "memory.img"

// Detect returns ImageFile when names (a data dir's entries) hold it.
func Detect(names []string) string {
	for _, n := range names {
		if n == ImageFile {
			return n
		}
	}
	return ""
}
