package faults

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrBadSchedule marks a fault schedule that cannot run.
var ErrBadSchedule = errors.New("faults: bad schedule")

// Fault kinds.
const (
	KillLeader        = "kill-leader"
	KillFollower      = "kill-follower"
	Restart           = "restart"
	PartitionLeader   = "partition-leader"
	PartitionFollower = "partition-follower"
	Heal              = "heal"
	Delay             = "delay"
	Loss              = "loss"
	SlowDisk          = "slow-disk"
	FillDisk          = "fill-disk"
)

// Targets of the disk faults.
const (
	TargetLeader   = "leader"
	TargetFollower = "follower"
	TargetAll      = "all"
)

// Where a fill-disk fault fails writes.
const (
	DiskWAL    = "wal"
	DiskEngine = "engine"
)

// Kinds lists the fault kinds.
func Kinds() []string {
	return []string{KillLeader, KillFollower, Restart, PartitionLeader, PartitionFollower, Heal, Delay, Loss, SlowDisk, FillDisk}
}

// Fault is one entry of a schedule.
type Fault struct {
	Kind string `yaml:"kind"`
	// Target is the disk faults' node choice: leader, follower or all.
	Target string `yaml:"target,omitempty"`
	// Value is the kind's argument as written (see the package doc).
	Value string `yaml:"value,omitempty"`
	// At is the offset from the start of the measured phase.
	At time.Duration `yaml:"at"`
	// For is how long the fault lasts; 0: until restart/heal or the end.
	For time.Duration `yaml:"for,omitempty"`

	// Parsed from Value by Parse and Validate.
	LinkDelay    time.Duration `yaml:"-"` // delay
	LossRate     float64       `yaml:"-"` // loss
	SyncLatency  time.Duration `yaml:"-"` // slow-disk
	WriteLatency time.Duration `yaml:"-"` // slow-disk
	Disk         string        `yaml:"-"` // fill-disk: wal or engine
}

// Instant reports whether the entry is an action rather than a fault with
// a duration (restart, heal).
func (f Fault) Instant() bool { return f.Kind == Restart || f.Kind == Heal }

// Kills, Partitions and Disk faults by kind.
func (f Fault) Kills() bool      { return f.Kind == KillLeader || f.Kind == KillFollower }
func (f Fault) Partitions() bool { return f.Kind == PartitionLeader || f.Kind == PartitionFollower }
func (f Fault) Links() bool      { return f.Partitions() || f.Kind == Delay || f.Kind == Loss }
func (f Fault) OnDisk() bool     { return f.Kind == SlowDisk || f.Kind == FillDisk }

// String renders the entry in the schedule syntax.
func (f Fault) String() string {
	var b strings.Builder
	b.WriteString(f.Kind)
	if f.Target != "" {
		b.WriteString(":" + f.Target)
	}
	if f.Value != "" {
		b.WriteString("=" + f.Value)
	}
	b.WriteString("@" + f.At.String())
	if f.For > 0 {
		b.WriteString("+" + f.For.String())
	}
	return b.String()
}

// Schedule is a run's faults, ordered by At.
type Schedule []Fault

// String renders the schedule in the syntax Parse reads.
func (s Schedule) String() string {
	parts := make([]string, len(s))
	for i, f := range s {
		parts[i] = f.String()
	}
	return strings.Join(parts, ",")
}

// Parse reads the schedule syntax (see the package doc) and checks each
// entry on its own; Validate checks the schedule against a run. Every
// problem is reported at once. The empty string is the empty schedule.
func Parse(spec string) (Schedule, error) {
	var s Schedule
	var errs []error
	for _, item := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == ';' }) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		f, err := parseItem(item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s = append(s, f)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := s.normalize(); err != nil {
		return nil, err
	}
	return s, nil
}

func parseItem(item string) (Fault, error) {
	bad := func(format string, a ...any) (Fault, error) {
		return Fault{}, fmt.Errorf("%w: %q: "+format, append([]any{ErrBadSchedule, item}, a...)...)
	}
	head, timing, ok := strings.Cut(item, "@")
	if !ok {
		return bad("no @time: want kind[:target][=value]@at[+for], e.g. kill-leader@5s+3s")
	}
	var f Fault
	if h, v, ok := strings.Cut(head, "="); ok {
		head, f.Value = h, strings.TrimSpace(v)
	}
	if k, t, ok := strings.Cut(head, ":"); ok {
		head, f.Target = k, strings.TrimSpace(t)
	}
	f.Kind = strings.TrimSpace(head)
	at, dur, hasFor := strings.Cut(timing, "+")
	var err error
	if f.At, err = time.ParseDuration(strings.TrimSpace(at)); err != nil {
		return bad("start %q is not a duration (give a unit: 5s, 1500ms)", at)
	}
	if hasFor {
		if f.For, err = time.ParseDuration(strings.TrimSpace(dur)); err != nil {
			return bad("length %q is not a duration (give a unit: 3s)", dur)
		}
		if f.For <= 0 {
			return bad("length %v must be > 0 (leave +for out for a fault that lasts)", f.For)
		}
	}
	return f, nil
}

// yamlFile is the YAML form of a schedule.
type yamlFile struct {
	Faults []Fault `yaml:"faults"`
}

// ParseYAML reads a schedule from YAML: a list of faults under "faults".
func ParseYAML(data []byte) (Schedule, error) {
	var y yamlFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSchedule, err)
	}
	s := Schedule(y.Faults)
	if err := s.normalize(); err != nil {
		return nil, err
	}
	return s, nil
}

// Resolve reads arg as a YAML file when one of that name exists, else as
// the schedule syntax.
func Resolve(arg string) (Schedule, error) {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		data, err := os.ReadFile(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadSchedule, err)
		}
		s, err := ParseYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arg, err)
		}
		return s, nil
	}
	return Parse(arg)
}

// normalize fills defaults, parses values, checks each entry and the order
// of restarts and heals, and sorts by At (stable: entries at the same time
// run in the order given).
func (s Schedule) normalize() error {
	var errs []error
	for i := range s {
		if err := s[i].normalize(); err != nil {
			errs = append(errs, err)
		}
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].At < s[j].At })
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// A restart needs a kill before it that lasts (no +for); a heal a link
	// fault that lasts.
	kills, links := 0, 0
	for _, f := range s {
		switch {
		case f.Kills() && f.For == 0:
			kills++
		case f.Links() && f.For == 0:
			links++
		case f.Kind == Restart:
			if kills == 0 {
				errs = append(errs, fmt.Errorf("%w: %s: no kill without +for before it to undo", ErrBadSchedule, f))
			}
			kills = 0
		case f.Kind == Heal:
			if links == 0 {
				errs = append(errs, fmt.Errorf("%w: %s: no partition, delay or loss without +for before it to undo", ErrBadSchedule, f))
			}
			links = 0
		}
	}
	return errors.Join(errs...)
}

func (f *Fault) normalize() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: "+format, append([]any{ErrBadSchedule, f}, a...)...))
	}
	if f.At < 0 {
		bad("starts at %v: must be >= 0 (offset from the start of the measured phase)", f.At)
	}
	if f.For < 0 {
		bad("lasts %v: must be > 0, or left out", f.For)
	}
	noValue := func() {
		if f.Value != "" {
			bad("%s takes no value", f.Kind)
		}
	}
	noTarget := func() {
		if f.Target != "" {
			bad("%s takes no target (its name says which node it hits)", f.Kind)
		}
	}
	switch f.Kind {
	case KillLeader, KillFollower, PartitionLeader, PartitionFollower:
		noValue()
		noTarget()
	case Restart, Heal:
		noValue()
		noTarget()
		if f.For > 0 {
			bad("%s is instant: it takes no +for", f.Kind)
		}
	case Delay:
		noTarget()
		d, err := time.ParseDuration(f.Value)
		if err != nil || d <= 0 {
			bad("delay needs a positive duration value, e.g. delay=20ms")
		}
		f.LinkDelay = d
	case Loss:
		noTarget()
		p, err := strconv.ParseFloat(f.Value, 64)
		if err != nil || !(p > 0 && p <= 1) {
			bad("loss needs a share of messages dropped in (0, 1], e.g. loss=0.1")
		}
		f.LossRate = p
	case SlowDisk:
		if f.Target == "" {
			f.Target = TargetAll
		}
		syncS, writeS, _ := strings.Cut(f.Value, "/")
		sl, err1 := time.ParseDuration(syncS)
		wl := time.Duration(0)
		var err2 error
		if writeS != "" {
			wl, err2 = time.ParseDuration(writeS)
		}
		if f.Value == "" || err1 != nil || err2 != nil || sl < 0 || wl < 0 || sl+wl == 0 {
			bad("slow-disk needs an fsync latency and optionally a write latency, e.g. slow-disk=20ms or slow-disk=20ms/1ms")
		}
		f.SyncLatency, f.WriteLatency = sl, wl
	case FillDisk:
		if f.Target == "" {
			f.Target = TargetLeader
		}
		if f.Value == "" {
			f.Value = DiskWAL
		}
		if f.Value != DiskWAL && f.Value != DiskEngine {
			bad("fill-disk value %q: accepted %s (the raft WAL) or %s (the storage engine)", f.Value, DiskWAL, DiskEngine)
		}
		f.Disk = f.Value
	case "":
		bad("no kind (accepted: %s)", strings.Join(Kinds(), ", "))
	default:
		bad("unknown kind %q (accepted: %s)", f.Kind, strings.Join(Kinds(), ", "))
	}
	if f.OnDisk() {
		switch f.Target {
		case TargetLeader, TargetFollower, TargetAll:
		default:
			bad("target %q: accepted %s, %s, %s", f.Target, TargetLeader, TargetFollower, TargetAll)
		}
	}
	return errors.Join(errs...)
}

// Env is what Validate checks a schedule against: the run's layer, node
// count, whether it runs against --endpoints, and its measured duration
// (0 for a run by op count).
type Env struct {
	Layer     string
	Nodes     int
	Endpoints bool
	Duration  time.Duration
}

// Validate reports, at once, every entry that makes no sense for the run.
func (s Schedule) Validate(env Env) error {
	if len(s) == 0 {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadSchedule}, a...)...))
	}
	if env.Layer != "cluster" {
		bad("faults need the cluster layer (this run is on the %s layer: there is no node to kill, link to cut or WAL to fill)", env.Layer)
		return errors.Join(errs...)
	}
	if env.Endpoints {
		bad("faults are not supported with --endpoints yet: they need the in-process cluster (kill and restart of separately started nodes would need a process supervisor)")
		return errors.Join(errs...)
	}
	for _, f := range s {
		switch {
		case (f.Kills() || f.Partitions()) && env.Nodes < 2:
			bad("%s on %d node: there is no other node to take over or to cut it off from; give --nodes 3 or more", f, env.Nodes)
		case (f.Kind == Delay || f.Kind == Loss) && env.Nodes < 2:
			bad("%s on %d node: a single node has no links", f, env.Nodes)
		case f.OnDisk() && f.Target == TargetFollower && env.Nodes < 2:
			bad("%s on %d node: there is no follower", f, env.Nodes)
		}
		if env.Duration > 0 && f.At >= env.Duration {
			bad("%s starts at or after the end of the measured phase (%v)", f, env.Duration)
		}
	}
	return errors.Join(errs...)
}
