package memory

import (
	"errors"
	"fmt"
	"sort"
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
func (o Options) Validate() error {
	var errs []error
	if o.Degree < minDegree || o.Degree > maxDegree {
		errs = append(errs, fmt.Errorf("%w for engine %s: degree=%d is outside [%d, %d]",
			engine.ErrBadOption, Name, o.Degree, minDegree, maxDegree))
	}
	return errors.Join(errs...)
}

// String is the normalized key=value form of every knob, so a result records
// the exact configuration; ParseOptions of it yields the same Options.
func (o Options) String() string {
	return "degree=" + strconv.Itoa(o.Degree)
}

// Knobs lists the options settable as key=value.
func Knobs() []engine.Knob {
	return []engine.Knob{
		{Key: "degree", Default: strconv.Itoa(DefaultDegree),
			Doc: fmt.Sprintf("B-tree degree, an integer in [%d, %d]", minDegree, maxDegree)},
	}
}

// ParseOptions turns a key=value map (from engine.ParseKV) into validated
// Options with defaults filled. Unknown keys and malformed values are reported
// together, wrapping engine.ErrBadOption.
func ParseOptions(kv map[string]string) (Options, error) {
	var o Options
	var errs []error
	knobs := Knobs()
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error messages
	for _, k := range keys {
		v := kv[k]
		switch k {
		case "degree":
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w for engine %s: degree=%q is not an integer",
					engine.ErrBadOption, Name, v))
				continue
			}
			if n == 0 {
				// 0 would silently mean "default"; a user who wrote it meant something else.
				errs = append(errs, fmt.Errorf("%w for engine %s: degree=0 is outside [%d, %d]",
					engine.ErrBadOption, Name, minDegree, maxDegree))
				continue
			}
			o.Degree = n
		default:
			errs = append(errs, fmt.Errorf("%w for engine %s: unknown option %q (accepted: %s)",
				engine.ErrBadOption, Name, k, engine.KnobList(knobs)))
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
