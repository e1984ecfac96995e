package workloads

import (
	"fmt"
	"math"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// K8s turns a keys.shape k8s workload into kube-apiserver's traffic as its
// etcd client (etcd's client/v3/kubernetes, used by
// k8s.io/apiserver/pkg/storage/etcd3) sends it. The generator's op kinds
// then stand for the apiserver's requests, which the runner's k8s driver
// (bench/k8s.go) issues:
//
//	txn_cas  update: OptimisticPut, a Txn If mod_revision(key) == the
//	         revision in the driver's cache Then Put Else Get(key); on a
//	         failed compare the revision of the Get is taken and the update
//	         retried (GuaranteedUpdate's loop)
//	insert   create: the same Txn with expected revision 0
//	delete   OptimisticDelete: the same Txn with a Delete
//	get      Get(key) at a recent revision (get_at_revision of them) or
//	         at the current one
//	range    List of one namespace of one resource: Ranges of page_size
//	         keys at the revision the first page pinned, continuing at the
//	         last key + "\x00", recorded as one op
//
// Beside the clients the driver writes the event resource's objects with
// leases, updates the leader-election objects, compacts periodically as the
// apiserver does, and watches each resource from its list's revision. Every
// period is in real seconds and divided by TimeScale.
type K8s struct {
	// TimeScale divides every period below (compaction, lease reuse, event
	// TTL, leader election): 10 makes a 5-minute compaction period 30 s.
	// Default 1 (real time).
	TimeScale float64 `yaml:"time_scale,omitempty"`
	// PageSize is a list's page limit. Default 500 (kube-apiserver's
	// paginated lists from clients such as kubectl and informers use 500).
	PageSize int64 `yaml:"page_size,omitempty"`
	// GetAtRevision is the fraction of gets that read at a recent revision
	// (the newest the driver has seen) rather than the current one
	// (linearizable gets only: a serializable one reads at its member's).
	// Default 8/13: etcd's robustness suite's Kubernetes traffic weighs Get
	// 5 and GetRev 8.
	GetAtRevision *float64 `yaml:"get_at_revision,omitempty"`
	// CompactionInterval is the apiserver's --etcd-compaction-interval in
	// seconds. Default 300 (k8s.io/apiserver storagebackend
	// DefaultCompactInterval, 5 minutes); negative: no compaction.
	CompactionInterval float64 `yaml:"compaction_interval,omitempty"`
	// CountPollPeriod is the apiserver's --etcd-count-metric-poll-period in
	// seconds: every period it counts each resource's objects (a Range of
	// the resource prefix with count_only, for apiserver_storage_objects).
	// Default 60 (1 minute); negative: no counts.
	CountPollPeriod float64 `yaml:"count_poll_period,omitempty"`
	// EventLeases writes every object of EventResource with a lease, as the
	// apiserver writes events (their TTL). Default true.
	EventLeases *bool `yaml:"event_leases,omitempty"`
	// EventResource is the resource whose objects carry leases. Default
	// "events".
	EventResource string `yaml:"event_resource,omitempty"`
	// EventTTL is the events' lease TTL in seconds. Default 3600
	// (kube-apiserver's --event-ttl, 1 h).
	EventTTL float64 `yaml:"event_ttl,omitempty"`
	// LeaseReuse is how long one lease is attached to new events, in
	// seconds, at most 5% of EventTTL (the apiserver's lease manager takes
	// the smaller). Default 60 (--lease-reuse-duration-seconds).
	LeaseReuse float64 `yaml:"lease_reuse,omitempty"`
	// LeaseMaxKeys caps the keys attached to one lease. Default 1000 (the
	// apiserver's lease manager's maxObjectCount).
	LeaseMaxKeys int `yaml:"lease_max_keys,omitempty"`
	// LeaderElection updates a few objects of the leases resource
	// periodically (kube-controller-manager's and kube-scheduler's leader
	// locks, renewed every 2 s by default).
	LeaderElection LeaderElection `yaml:"leader_election,omitempty"`
	// ListAndWatch lists each resource after the preload (filling the
	// driver's revision cache, as the watch cache is filled) and watches
	// each resource prefix from that list's revision. Default true.
	ListAndWatch *bool `yaml:"list_and_watch,omitempty"`
	// ValueSizes gives each resource its value size distribution; a
	// resource not named uses value_size. An entry replaces a base
	// preset's entry for that resource.
	ValueSizes map[string]ValueDist `yaml:"value_sizes,omitempty"`
}

// LeaderElection is the leader-election traffic of K8s.
type LeaderElection struct {
	// Objects is how many leader-election objects are updated. Default 2
	// (kube-controller-manager and kube-scheduler); negative: none.
	Objects int `yaml:"objects,omitempty"`
	// Interval is the seconds between two updates of one object. Default
	// 2 (client-go leaderelection's RetryPeriod in both components).
	Interval float64 `yaml:"interval,omitempty"`
	// Resource is the resource the objects live under, in namespace
	// kube-system. Default "leases".
	Resource string `yaml:"resource,omitempty"`
}

// ValueDist is a value size distribution: uniform in [Min, Max], except
// that a Tail fraction of values is uniform in [Max, TailMax] (pods with
// many containers, large annotations or managed fields).
type ValueDist struct {
	Min     int     `yaml:"min"`
	Max     int     `yaml:"max"`
	Tail    float64 `yaml:"tail,omitempty"`
	TailMax int     `yaml:"tail_max,omitempty"`
}

// Mean is the expected size in bytes.
func (d ValueDist) Mean() float64 {
	body := float64(d.Min+d.Max) / 2
	if d.Tail <= 0 {
		return body
	}
	return (1-d.Tail)*body + d.Tail*float64(d.Max+d.TailMax)/2
}

// largest is the biggest size d draws.
func (d ValueDist) largest() int {
	if d.Tail > 0 {
		return max(d.Max, d.TailMax)
	}
	return d.Max
}

// UnmarshalYAML accepts a number (fixed size) or {min, max, tail, tail_max},
// naming an unknown field and its line.
func (d *ValueDist) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var s Size
		if err := s.UnmarshalYAML(n); err != nil {
			return err
		}
		*d = ValueDist{Min: s.Min, Max: s.Max}
		return nil
	}
	type plain ValueDist
	var out plain
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i]; k.Value {
			case "min", "max", "tail", "tail_max":
			default:
				return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: field %s not found in value size (want min, max, tail, tail_max)", k.Line, k.Value)}}
			}
		}
	}
	if err := n.Decode(&out); err != nil {
		return err
	}
	*d = ValueDist(out)
	return nil
}

func (d ValueDist) validate(field string, errs *[]error) {
	switch {
	case d.Min <= 0 || d.Max <= 0:
		*errs = append(*errs, specErr("%s: min %d and max %d must be positive", field, d.Min, d.Max))
	case d.Min > d.Max:
		*errs = append(*errs, specErr("%s: min %d > max %d", field, d.Min, d.Max))
	}
	if math.IsNaN(d.Tail) || d.Tail < 0 || d.Tail > 1 {
		*errs = append(*errs, specErr("%s.tail: %v not in [0, 1]", field, d.Tail))
	} else if d.Tail > 0 && d.TailMax < d.Max {
		*errs = append(*errs, specErr("%s.tail_max: %d is below max %d", field, d.TailMax, d.Max))
	} else if d.Tail == 0 && d.TailMax != 0 {
		*errs = append(*errs, specErr("%s.tail_max: needs tail > 0", field))
	}
	if d.largest() > MaxValueSize {
		*errs = append(*errs, specErr("%s: %d bytes is above the limit of %d", field, d.largest(), MaxValueSize))
	}
}

// Defaults of K8s (sources in the field comments).
const (
	DefaultK8sTimeScale          = 1
	DefaultK8sPageSize           = 500
	DefaultK8sGetAtRevision      = 8.0 / 13
	DefaultK8sCompactionInterval = 300
	DefaultK8sCountPollPeriod    = 60
	DefaultK8sEventResource      = "events"
	DefaultK8sEventTTL           = 3600
	DefaultK8sLeaseReuse         = 60
	DefaultK8sLeaseMaxKeys       = 1000
	DefaultK8sElectionObjects    = 2
	DefaultK8sElectionInterval   = 2
	DefaultK8sElectionResource   = "leases"
)

func boolp(v bool) *bool          { return &v }
func float64p(v float64) *float64 { return &v }

// ensureDefaults fills K8s's unset fields.
func (k *K8s) ensureDefaults() {
	if k.TimeScale == 0 {
		k.TimeScale = DefaultK8sTimeScale
	}
	if k.PageSize == 0 {
		k.PageSize = DefaultK8sPageSize
	}
	if k.GetAtRevision == nil {
		k.GetAtRevision = float64p(DefaultK8sGetAtRevision)
	}
	if k.CompactionInterval == 0 {
		k.CompactionInterval = DefaultK8sCompactionInterval
	}
	if k.CountPollPeriod == 0 {
		k.CountPollPeriod = DefaultK8sCountPollPeriod
	}
	if k.EventLeases == nil {
		k.EventLeases = boolp(true)
	}
	if k.EventResource == "" {
		k.EventResource = DefaultK8sEventResource
	}
	if k.EventTTL == 0 {
		k.EventTTL = DefaultK8sEventTTL
	}
	if k.LeaseReuse == 0 {
		k.LeaseReuse = DefaultK8sLeaseReuse
	}
	if k.LeaseMaxKeys == 0 {
		k.LeaseMaxKeys = DefaultK8sLeaseMaxKeys
	}
	le := &k.LeaderElection
	if le.Objects == 0 {
		le.Objects = DefaultK8sElectionObjects
	}
	if le.Interval == 0 {
		le.Interval = DefaultK8sElectionInterval
	}
	if le.Resource == "" {
		le.Resource = DefaultK8sElectionResource
	}
	if k.ListAndWatch == nil {
		k.ListAndWatch = boolp(true)
	}
}

// clone returns a deep copy (Spec values are copied freely; K8s's pointers
// and map must not be shared by two copies).
func (k *K8s) clone() *K8s {
	if k == nil {
		return nil
	}
	c := *k
	if k.GetAtRevision != nil {
		c.GetAtRevision = float64p(*k.GetAtRevision)
	}
	if k.EventLeases != nil {
		c.EventLeases = boolp(*k.EventLeases)
	}
	if k.ListAndWatch != nil {
		c.ListAndWatch = boolp(*k.ListAndWatch)
	}
	if k.ValueSizes != nil {
		c.ValueSizes = make(map[string]ValueDist, len(k.ValueSizes))
		for r, d := range k.ValueSizes {
			c.ValueSizes[r] = d
		}
	}
	return &c
}

func badPeriod(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 }

func (s *Spec) validateK8s(errs *[]error) {
	k := s.K8s
	if k == nil {
		return
	}
	if s.Keys.Shape != ShapeK8s {
		*errs = append(*errs, specErr("k8s: needs keys.shape k8s"))
		return
	}
	if s.Ops.Put > 0 || s.Ops.RMW > 0 {
		*errs = append(*errs, specErr("ops: put and rmw are no apiserver request (use txn_cas for updates, insert for creates) in a spec with a k8s section"))
	}
	if badPeriod(k.TimeScale) {
		*errs = append(*errs, specErr("k8s.time_scale: %v is not a factor > 0", k.TimeScale))
	}
	if k.PageSize < 0 {
		*errs = append(*errs, specErr("k8s.page_size: negative limit %d", k.PageSize))
	}
	if g := k.GetAtRevision; g != nil && (math.IsNaN(*g) || *g < 0 || *g > 1) {
		*errs = append(*errs, specErr("k8s.get_at_revision: %v not in [0, 1]", *g))
	}
	if math.IsNaN(k.CompactionInterval) || math.IsInf(k.CompactionInterval, 0) {
		*errs = append(*errs, specErr("k8s.compaction_interval: %v is not a number of seconds", k.CompactionInterval))
	}
	if math.IsNaN(k.CountPollPeriod) || math.IsInf(k.CountPollPeriod, 0) {
		*errs = append(*errs, specErr("k8s.count_poll_period: %v is not a number of seconds", k.CountPollPeriod))
	}
	isResource := func(r string) bool { return slices.Contains(s.Keys.Resources, r) }
	if k.EventLeases != nil && *k.EventLeases {
		if !isResource(k.EventResource) {
			*errs = append(*errs, specErr("k8s.event_resource: %q is not one of keys.resources %v (or set k8s.event_leases: false)", k.EventResource, s.Keys.Resources))
		}
		if badPeriod(k.EventTTL) {
			*errs = append(*errs, specErr("k8s.event_ttl: %v is not a time > 0", k.EventTTL))
		}
		if badPeriod(k.LeaseReuse) {
			*errs = append(*errs, specErr("k8s.lease_reuse: %v is not a time > 0", k.LeaseReuse))
		}
		if k.LeaseMaxKeys < 1 {
			*errs = append(*errs, specErr("k8s.lease_max_keys: %d must be at least 1", k.LeaseMaxKeys))
		}
	}
	if le := k.LeaderElection; le.Objects > 0 {
		if badPeriod(le.Interval) {
			*errs = append(*errs, specErr("k8s.leader_election.interval: %v is not a time > 0", le.Interval))
		}
		if le.Resource == "" || len(le.Resource) > 253 || slices.ContainsFunc([]byte(le.Resource), func(c byte) bool { return c == '/' || c == 0 }) {
			*errs = append(*errs, specErr("k8s.leader_election.resource: %q is not a resource name", le.Resource))
		}
	}
	names := make([]string, 0, len(k.ValueSizes))
	for r := range k.ValueSizes {
		names = append(names, r)
	}
	slices.Sort(names)
	for _, r := range names {
		if !isResource(r) {
			*errs = append(*errs, specErr("k8s.value_sizes.%s: not one of keys.resources %v", r, s.Keys.Resources))
			continue
		}
		k.ValueSizes[r].validate("k8s.value_sizes."+r, errs)
	}
}

// Scaled turns a period of real seconds into the run's duration (divided
// by TimeScale).
func (k *K8s) Scaled(seconds float64) time.Duration {
	ts := k.TimeScale
	if ts <= 0 {
		ts = 1
	}
	return time.Duration(seconds / ts * float64(time.Second))
}

// Compacts reports whether the driver compacts.
func (k *K8s) Compacts() bool { return k.CompactionInterval > 0 }

// LeaseReuseSeconds is how long the lease manager reuses one lease:
// lease_reuse, at most 5% of event_ttl.
func (k *K8s) LeaseReuseSeconds() float64 { return min(k.LeaseReuse, 0.05*k.EventTTL) }

// Leases reports whether event objects are written with leases.
func (k *K8s) Leases() bool { return k.EventLeases == nil || *k.EventLeases }

// Watches reports whether the driver lists and watches every resource.
func (k *K8s) Watches() bool { return k.ListAndWatch == nil || *k.ListAndWatch }

// GetAtRev is the fraction of gets at a recent revision.
func (k *K8s) GetAtRev() float64 {
	if k.GetAtRevision == nil {
		return DefaultK8sGetAtRevision
	}
	return *k.GetAtRevision
}

// valueDist is the size distribution of resource r's values.
func (s *Spec) valueDist(r string) ValueDist {
	if s.K8s != nil {
		if d, ok := s.K8s.ValueSizes[r]; ok {
			return d
		}
	}
	return ValueDist{Min: s.ValueSize.Min, Max: s.ValueSize.Max}
}

// largestValue is the biggest value the spec writes.
func (s *Spec) largestValue() int {
	n := s.ValueSize.Max
	if s.K8s != nil {
		for _, d := range s.K8s.ValueSizes {
			n = max(n, d.largest())
		}
	}
	return n
}

// MeanObjectBytes is the expected key plus value bytes of one preloaded
// object (after EnsureDefaults): k8s keys have one size per resource and
// ids are spread round-robin over the resources, so it is the mean over
// resources; flat keys take the mean of keys.size. --scale divides a byte
// target by it to get an object count.
func (s *Spec) MeanObjectBytes() float64 {
	k := &s.Keys
	if k.Shape != ShapeK8s || len(k.Resources) == 0 {
		return float64(k.Size.Min+k.Size.Max)/2 + float64(s.ValueSize.Min+s.ValueSize.Max)/2
	}
	sum := 0.0
	for _, r := range k.Resources {
		sum += float64(k8sKeyLen(k.Prefix, r)) + s.valueDist(r).Mean()
	}
	return sum / float64(len(k.Resources))
}

// k8sKeyLen is the length of every key of resource r:
// <prefix><r>/ns-NNNNN/<object>-NNNNNN.
func k8sKeyLen(prefix, r string) int {
	return len(prefix) + len(r) + len("/ns-") + k8sNsDigits + len("/") + len(k8sObjectName(r)) + len("-") + k8sNameDigits
}

// k8sObjectName is the object name stem of resource r: pods -> pod.
func k8sObjectName(r string) string {
	if len(r) > 1 && r[len(r)-1] == 's' {
		return r[:len(r)-1]
	}
	return r
}
