package bench

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"etcdlab/internal/clock"
	"etcdlab/results"
	"etcdlab/workloads"
)

// The capabilities the k8s driver needs of a layer, each found by type
// assertion so a layer offers what it can and the driver names what is
// missing.
type (
	// k8sHost is a layer whose ops go through a KV the driver can use
	// (with the runner's wrappers around it).
	k8sHost interface{ k8sKV() KV }
	// k8sLeaser grants leases (event TTLs).
	k8sLeaser interface {
		leaseGrant(ctx context.Context, ttl int64) (int64, error)
	}
	// k8sCompactor compacts the store's history up to rev.
	k8sCompactor interface {
		compact(ctx context.Context, rev int64) error
	}
)

// compactRevKey is the key kube-apiserver's compactor keeps its
// compaction count in (k8s.io/apiserver/pkg/storage/etcd3/compact.go), so
// that of several apiservers one compacts per interval.
const compactRevKey = "compact_rev_key"

// k8sMaxAttempts bounds an update's or delete's txns: GuaranteedUpdate and
// conditionalDelete retry on conflict until they win; a bound keeps one
// op from spinning on a hot key (an op that runs out counts as done).
const k8sMaxAttempts = 5

// k8sDriver issues kube-apiserver's requests for the generator's ops
// (workloads.K8s documents the mapping) and runs what the apiserver does
// beside its clients: event leases, leader election, periodic compaction.
// It keeps the mod_revision of every object in a cache, as the apiserver's
// watch cache does; the cache is written through from the driver's own
// responses (with one apiserver and no other writer the same state, up to
// timing), not from the watch stream.
type k8sDriver struct {
	spec      *workloads.K8s
	ks        *workloads.KeySpace
	kv        KV
	clk       clock.Clock
	leaser    k8sLeaser    // nil: events carry no lease
	compactor k8sCompactor // nil: no compaction
	eventRes  int          // resource index of events; -1: none
	pageSize  int64
	getAtRev  float64

	cache   k8sCache
	lastRev atomic.Int64 // the newest revision any response carried
	pick    atomic.Uint64

	// Per-op counts (k8s names) and outcomes.
	nCreate, nUpdate, nDelete, nGet, nGetRev, nList, nElection atomic.Int64
	nCount                                                     atomic.Int64
	conflicts, retries, notFound                               atomic.Int64
	pages, listKeys, listCount                                 atomic.Int64
	leasesGranted, leaseErrs, eventsLeased, eventsExpired      atomic.Int64
	electionConflicts                                          atomic.Int64

	leaseMu sync.Mutex
	leases  []*k8sLease // by index-1; cur is the last
	expired int         // leases[:expired] are accounted for

	compMu      sync.Mutex
	compactions []results.K8sCompaction

	initial results.K8sResult // the initial list's figures

	base   time.Time
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// k8sLease is one event lease: when it was granted, when the driver
// counts it expired, and the objects written with it.
type k8sLease struct {
	id      int64
	granted time.Time
	expires time.Time
	uses    int
	ids     []uint64
}

// newK8sDriver checks that t offers what the workload's k8s section asks
// for and builds the driver; the KV is taken later (k8sHost), once the
// runner has wrapped it.
func newK8sDriver(cfg Config, ks *workloads.KeySpace, t Target) (*k8sDriver, error) {
	spec := ks.Spec()
	k := spec.K8s
	where := "the " + cfg.Layer + " layer"
	if len(cfg.Endpoints) > 0 {
		where += " with --endpoints"
	}
	if _, ok := t.(k8sHost); !ok {
		return nil, fmt.Errorf("%w: the k8s workload's driver runs on the mvcc layer and the in-process cluster layer, not on %s", ErrBadConfig, where)
	}
	d := &k8sDriver{spec: k, ks: ks, clk: cfg.Clock, eventRes: -1, pageSize: k.PageSize, getAtRev: k.GetAtRev()}
	if k.Leases() {
		l, ok := t.(k8sLeaser)
		if !ok {
			return nil, fmt.Errorf("%w: k8s.event_leases needs leases, which %s does not serve (the in-process cluster layer does); set k8s.event_leases: false", ErrBadConfig, where)
		}
		d.leaser = l
		for i, r := range ks.Resources() {
			if r == k.EventResource {
				d.eventRes = i
			}
		}
	}
	if k.Watches() {
		if _, ok := t.(watchLeaseTarget); !ok {
			return nil, fmt.Errorf("%w: k8s.list_and_watch needs watches, which %s does not serve (the in-process cluster layer does); set k8s.list_and_watch: false", ErrBadConfig, where)
		}
	}
	if k.Compacts() {
		c, ok := t.(k8sCompactor)
		if !ok {
			return nil, fmt.Errorf("%w: k8s.compaction_interval needs compaction, which %s does not offer; set k8s.compaction_interval: -1", ErrBadConfig, where)
		}
		d.compactor = c
	}
	return d, nil
}

// watchSpec is the watch section the driver's ListAndWatch asks for: one
// watcher per resource prefix, all on one stream (etcd's client puts the
// watches of one client and context on one gRPC stream).
func (d *k8sDriver) watchSpec() workloads.Watch {
	n := len(d.ks.Resources())
	return workloads.Watch{Watchers: n, Prefixes: n, Streams: 1}
}

// attach takes the KV the driver sends through (after every wrapper).
func (d *k8sDriver) attach(t Target) { d.kv = t.(k8sHost).k8sKV() }

// Do runs op as the apiserver's request; it is the runner's Target for the
// clients (Close is the layer's business).
func (d *k8sDriver) Do(ctx context.Context, op *workloads.Op) error {
	switch op.Kind {
	case workloads.OpTxnCAS:
		_, err := d.update(ctx, op.ID, op.Key, op.Value)
		return err
	case workloads.OpInsert:
		return d.create(ctx, op.ID, op.Key, op.Value)
	case workloads.OpDelete:
		_, err := d.delete(ctx, op.ID, op.Key)
		return err
	case workloads.OpGet:
		return d.get(ctx, op)
	case workloads.OpRange:
		d.nList.Add(1)
		_, err := d.list(ctx, op.Key, op.End, 0, op.Serializable, nil)
		return err
	}
	return DoKV(ctx, d.kv, op)
}

// Close does nothing: the layer is closed by the runner.
func (d *k8sDriver) Close() error { return nil }

func (d *k8sDriver) saw(h *pb.ResponseHeader) int64 {
	if h == nil {
		return 0
	}
	raise(&d.lastRev, h.Revision)
	return h.Revision
}

func k8sCompare(key []byte, target pb.Compare_CompareTarget, v int64) []*pb.Compare {
	c := &pb.Compare{Target: target, Result: pb.Compare_EQUAL, Key: key}
	if target == pb.Compare_VERSION {
		c.TargetUnion = &pb.Compare_Version{Version: v}
	} else {
		c.TargetUnion = &pb.Compare_ModRevision{ModRevision: v}
	}
	return []*pb.Compare{c}
}

// optimistic is client/v3/kubernetes' OptimisticPut and OptimisticDelete:
// If mod_revision(key) == expected Then then Else Get(key).
func (d *k8sDriver) optimistic(ctx context.Context, key []byte, expected int64, then *pb.RequestOp) (*pb.TxnResponse, error) {
	return d.kv.Txn(ctx, &pb.TxnRequest{
		Compare: k8sCompare(key, pb.Compare_MOD, expected),
		Success: []*pb.RequestOp{then},
		Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: key}}}},
	})
}

// failureKV is the object a failed optimistic txn's Get returned (nil:
// the key does not exist).
func failureKV(r *pb.TxnResponse) *mvccpb.KeyValue {
	if len(r.Responses) == 1 {
		if rr := r.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) > 0 {
			return rr.Kvs[0]
		}
	}
	return nil
}

func putOp(key, value []byte, lease int64) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: key, Value: value, Lease: lease}}}
}

// confirm is the Get the apiserver makes when its cache has no object:
// it returns the object's mod_revision, or 0 (counted not found).
func (d *k8sDriver) confirm(ctx context.Context, id uint64, key []byte) (int64, error) {
	rr, err := d.kv.Range(ctx, &pb.RangeRequest{Key: key})
	if err != nil {
		return 0, err
	}
	rev := d.saw(rr.Header)
	if len(rr.Kvs) == 0 {
		d.cache.observe(id, rev, 0, false, 0, keepLease)
		d.notFound.Add(1)
		return 0, nil
	}
	kv := rr.Kvs[0]
	d.cache.observe(id, rev, kv.ModRevision, true, len(kv.Key)+len(kv.Value), keepLease)
	return kv.ModRevision, nil
}

// k8sProbes bounds the search for an existing object (see existing).
const k8sProbes = 8

// existing returns the object an update, delete or get acts on: id if the
// cache has it, else the first of the next k8sProbes names of the same
// resource and namespace the cache has (a new key), else id. The generator
// draws ids among every id ever handed out, creates add new ids and
// deletes and expired leases remove objects, so without it a growing share
// of the ops would target objects that are gone, which the apiserver's
// clients (acting on objects they watch) rarely do.
func (d *k8sDriver) existing(id uint64, key []byte) (uint64, []byte, int64) {
	if rev := d.cache.modRev(id); rev != 0 {
		return id, key, rev
	}
	stride := uint64(len(d.ks.Resources())) * uint64(d.ks.Spec().Keys.Namespaces)
	n := d.ks.Count()
	names := (n + stride - 1) / stride
	base, name := id%stride, id/stride
	for i := uint64(1); i <= k8sProbes && i < names; i++ {
		cand := base + (name+i)%names*stride
		if cand >= n {
			continue
		}
		if rev := d.cache.modRev(cand); rev != 0 {
			return cand, d.ks.AppendKey(nil, cand), rev
		}
	}
	return id, key, 0
}

// update is GuaranteedUpdate: an optimistic put with the cached revision,
// retried with the revision a conflict's Get returns. It returns the id
// it acted on (see existing).
func (d *k8sDriver) update(ctx context.Context, id uint64, key, value []byte) (uint64, error) {
	d.nUpdate.Add(1)
	id, key, expected := d.existing(id, key)
	if expected == 0 {
		var err error
		if expected, err = d.confirm(ctx, id, key); err != nil || expected == 0 {
			return id, err
		}
	}
	return id, d.write(ctx, id, key, value, expected, true)
}

// create is an optimistic put expecting revision 0 (AlreadyExists on a
// failed compare: counted as a conflict, not retried).
func (d *k8sDriver) create(ctx context.Context, id uint64, key, value []byte) error {
	d.nCreate.Add(1)
	return d.write(ctx, id, key, value, 0, false)
}

func (d *k8sDriver) write(ctx context.Context, id uint64, key, value []byte, expected int64, retry bool) error {
	var lease int64
	var lidx int32
	if d.leaser != nil && d.ks.Resource(id) == d.eventRes {
		var err error
		if lease, lidx, err = d.leaseFor(ctx); err != nil {
			return err
		}
		d.eventsLeased.Add(1)
	}
	for attempt := 1; ; attempt++ {
		resp, err := d.optimistic(ctx, key, expected, putOp(key, value, lease))
		if err != nil {
			return err
		}
		rev := d.saw(resp.Header)
		if resp.Succeeded {
			d.cache.observe(id, rev, rev, true, len(key)+len(value), lidx)
			if lidx > 0 {
				d.attachLease(lidx, id)
			}
			return nil
		}
		d.conflicts.Add(1)
		kv := failureKV(resp)
		if kv == nil {
			d.cache.observe(id, rev, 0, false, 0, keepLease)
			if retry {
				d.notFound.Add(1)
			}
			return nil
		}
		d.cache.observe(id, rev, kv.ModRevision, true, len(kv.Key)+len(kv.Value), keepLease)
		if !retry || attempt >= k8sMaxAttempts {
			return nil
		}
		d.retries.Add(1)
		expected = kv.ModRevision
	}
}

// delete is conditionalDelete: an optimistic delete with the cached
// revision, retried on conflict while the object exists. It returns the
// id it acted on (see existing).
func (d *k8sDriver) delete(ctx context.Context, id uint64, key []byte) (uint64, error) {
	d.nDelete.Add(1)
	id, key, expected := d.existing(id, key)
	if expected == 0 {
		var err error
		if expected, err = d.confirm(ctx, id, key); err != nil || expected == 0 {
			return id, err
		}
	}
	del := &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: key}}}
	for attempt := 1; ; attempt++ {
		resp, err := d.optimistic(ctx, key, expected, del)
		if err != nil {
			return id, err
		}
		rev := d.saw(resp.Header)
		if resp.Succeeded {
			d.cache.observe(id, rev, 0, false, 0, keepLease)
			return id, nil
		}
		d.conflicts.Add(1)
		kv := failureKV(resp)
		if kv == nil {
			d.cache.observe(id, rev, 0, false, 0, keepLease)
			d.notFound.Add(1)
			return id, nil
		}
		d.cache.observe(id, rev, kv.ModRevision, true, len(kv.Key)+len(kv.Value), keepLease)
		if attempt >= k8sMaxAttempts {
			return id, nil
		}
		d.retries.Add(1)
		expected = kv.ModRevision
	}
}

// get reads one object (see existing), get_at_revision of the time at
// the newest revision the driver has seen (never compacted: the driver
// compacts to older ones), otherwise at the current revision.
func (d *k8sDriver) get(ctx context.Context, op *workloads.Op) error {
	_, key, _ := d.existing(op.ID, op.Key)
	r := &pb.RangeRequest{Key: key, Limit: 1, Serializable: op.Serializable}
	// A serializable read may land on a member behind that revision
	// (etcd: a future revision): it reads at its own.
	if d.getAtRev > 0 && !op.Serializable && unitFloat(d.pick.Add(1)) < d.getAtRev {
		r.Revision = d.lastRev.Load()
	}
	if r.Revision > 0 {
		d.nGetRev.Add(1)
	} else {
		d.nGet.Add(1)
	}
	resp, err := d.kv.Range(ctx, r)
	if err == nil {
		d.saw(resp.Header)
	}
	return err
}

// unitFloat maps a counter to [0, 1) through splitmix64: a deterministic,
// well-spread choice per op without a lock.
func unitFloat(n uint64) float64 {
	return float64(mix64(n+0x9E3779B97F4A7C15)>>11) * 0x1p-53
}

// list is client/v3/kubernetes' List, paged as the apiserver pages it:
// the first Range (limit page_size) pins the revision; each next one
// starts at the last key + "\x00" at that revision, while etcd's Count
// (of the rest of the range) is more than the page holds. rev > 0 pins the first page too. each, if not nil, sees
// every key. It returns the revision the list was read at.
func (d *k8sDriver) list(ctx context.Context, key, end []byte, rev int64, serializable bool, each func(*mvccpb.KeyValue, int64)) (int64, error) {
	r := &pb.RangeRequest{Key: key, RangeEnd: end, Limit: d.pageSize, Revision: rev, Serializable: serializable}
	first := true
	for {
		resp, err := d.kv.Range(ctx, r)
		if err != nil {
			return 0, err
		}
		d.pages.Add(1)
		d.listKeys.Add(int64(len(resp.Kvs)))
		if first {
			// etcd counts the whole range, whatever the limit.
			d.listCount.Add(resp.Count)
			rev = d.saw(resp.Header)
			first = false
		}
		if each != nil {
			for _, kv := range resp.Kvs {
				each(kv, rev)
			}
		}
		// The client's test: etcd counted more than this page.
		if resp.Count <= int64(len(resp.Kvs)) || len(resp.Kvs) == 0 {
			return rev, nil
		}
		last := resp.Kvs[len(resp.Kvs)-1].Key
		next := make([]byte, len(last)+1)
		copy(next, last)
		r = &pb.RangeRequest{Key: next, RangeEnd: end, Limit: d.pageSize, Revision: rev}
	}
}

// initialList lists every resource (the watch cache's initial List, after
// the preload and outside the measured phase) and fills the cache from it.
// The watchers start from the revision after the newest list.
func (d *k8sDriver) initialList(ctx context.Context) error {
	t0 := d.clk.Now()
	pages0 := d.pages.Load()
	var objects, newest int64
	for i := range d.ks.Resources() {
		prefix := d.ks.ResourcePrefix(i)
		rev, err := d.list(ctx, prefix, prefixRangeEnd(prefix), 0, false, func(kv *mvccpb.KeyValue, rev int64) {
			if id, ok := d.ks.K8sID(kv.Key); ok {
				d.cache.observe(id, rev, kv.ModRevision, true, len(kv.Key)+len(kv.Value), keepLease)
				objects++
			}
		})
		if err != nil {
			return fmt.Errorf("bench: the k8s driver's initial list of %s: %w", d.ks.Resources()[i], err)
		}
		newest = max(newest, rev)
	}
	d.initial = results.K8sResult{InitialListObjects: objects, InitialListPages: d.pages.Load() - pages0,
		InitialListRev: newest, InitialListS: d.clk.Since(t0).Seconds()}
	// The measured counts start after the initial list.
	d.pages.Store(0)
	d.listKeys.Store(0)
	d.listCount.Store(0)
	return nil
}

// prefixRangeEnd is etcd's GetPrefixRangeEnd.
func prefixRangeEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}

// leaseFor returns the lease for the next event, as the apiserver's lease
// manager hands it out: the current one while it is younger than
// the reuse time (lease_reuse, at most 5% of event_ttl) and has had fewer
// than lease_max_keys uses, else a new one with TTL event_ttl + the reuse
// time (so the last object attached still lives its TTL), both scaled.
func (d *k8sDriver) leaseFor(ctx context.Context) (int64, int32, error) {
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	now := d.clk.Now()
	if n := len(d.leases); n > 0 {
		cur := d.leases[n-1]
		if now.Before(cur.granted.Add(d.spec.Scaled(d.spec.LeaseReuseSeconds()))) && cur.uses < d.spec.LeaseMaxKeys {
			cur.uses++
			return cur.id, int32(n), nil
		}
	}
	ttl := d.spec.Scaled(d.spec.EventTTL + d.spec.LeaseReuseSeconds())
	secs := int64(math.Ceil(ttl.Seconds()))
	id, err := d.leaser.leaseGrant(ctx, secs)
	if err != nil {
		d.leaseErrs.Add(1)
		return 0, 0, fmt.Errorf("bench: granting an event lease: %w", err)
	}
	d.leasesGranted.Add(1)
	d.leases = append(d.leases, &k8sLease{id: id, granted: now, expires: now.Add(time.Duration(secs) * time.Second), uses: 1})
	return id, int32(len(d.leases)), nil
}

func (d *k8sDriver) attachLease(idx int32, id uint64) {
	d.leaseMu.Lock()
	l := d.leases[idx-1]
	l.ids = append(l.ids, id)
	d.leaseMu.Unlock()
}

// expiryGrace is how long after its TTL the driver counts a lease's
// objects deleted: the leader looks for expired leases every 500 ms and
// revokes through raft.
const expiryGrace = time.Second

// expire counts the objects of every lease whose TTL (plus expiryGrace)
// has passed as deleted, if they are still attached to it.
func (d *k8sDriver) expire(now time.Time) {
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	for d.expired < len(d.leases) {
		l := d.leases[d.expired]
		if now.Before(l.expires.Add(expiryGrace)) {
			return
		}
		d.expired++
		for _, id := range l.ids {
			if d.cache.expire(id, int32(d.expired)) {
				d.eventsExpired.Add(1)
			}
		}
		l.ids = nil
	}
}

// start runs the background work: leader election, compaction and the
// lease expiry count, until stop. base is the start of the measured phase.
func (d *k8sDriver) start(ctx context.Context, base time.Time) {
	d.base = base
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if le := d.spec.LeaderElection; le.Objects > 0 {
		d.loop(d.spec.Scaled(le.Interval), d.electionStep())
	}
	if d.compactor != nil {
		d.loop(d.spec.Scaled(d.spec.CompactionInterval), d.compactStep())
	}
	if d.spec.CountPollPeriod > 0 {
		d.loop(d.spec.Scaled(d.spec.CountPollPeriod), d.countStep)
	}
	if d.leaser != nil {
		d.loop(time.Second, func(context.Context) { d.expire(d.clk.Now()) })
	}
}

// countStep is the apiserver's object count poll: Count of each resource
// prefix (a count_only Range: etcd counts the keys in its index).
func (d *k8sDriver) countStep(ctx context.Context) {
	for i := range d.ks.Resources() {
		prefix := d.ks.ResourcePrefix(i)
		resp, err := d.kv.Range(ctx, &pb.RangeRequest{Key: prefix, RangeEnd: prefixRangeEnd(prefix), CountOnly: true})
		if err != nil {
			return
		}
		d.saw(resp.Header)
		d.nCount.Add(1)
	}
}

// loop runs step every period (the first after one period) until stop.
func (d *k8sDriver) loop(period time.Duration, step func(context.Context)) {
	period = max(period, time.Millisecond)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		tk := d.clk.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-tk.C():
				step(d.ctx)
			case <-d.ctx.Done():
				return
			}
		}
	}()
}

func (d *k8sDriver) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.wg.Wait()
}

// electionName is leader-election object i's name: the two control plane
// components first, then numbered ones.
func electionName(i int) string {
	switch i {
	case 0:
		return "kube-controller-manager"
	case 1:
		return "kube-scheduler"
	}
	return "leader-election-" + strconv.Itoa(i)
}

// electionStep returns the leader-election loop's step: one optimistic
// put of each object (client-go's leader election renews its lease object
// with an Update carrying the resourceVersion it read).
func (d *k8sDriver) electionStep() func(context.Context) {
	le := d.spec.LeaderElection
	res := -1
	for i, r := range d.ks.Resources() {
		if r == le.Resource {
			res = i
		}
	}
	keys := make([][]byte, le.Objects)
	revs := make([]int64, le.Objects)
	sizes := make([]int64, le.Objects)
	prefix := d.ks.Spec().Keys.Prefix + le.Resource + "/kube-system/"
	for i := range keys {
		keys[i] = []byte(prefix + electionName(i))
	}
	vals := d.ks.Values(1 << 41)
	return func(ctx context.Context) {
		for i, key := range keys {
			val := vals.Of(res)
			resp, err := d.optimistic(ctx, key, revs[i], putOp(key, val, 0))
			if err != nil {
				continue
			}
			d.nElection.Add(1)
			rev := d.saw(resp.Header)
			size := int64(0)
			if resp.Succeeded {
				revs[i], size = rev, int64(len(key)+len(val))
			} else {
				d.electionConflicts.Add(1)
				revs[i] = 0
				if kv := failureKV(resp); kv != nil {
					revs[i], size = kv.ModRevision, int64(len(kv.Key)+len(kv.Value))
				}
			}
			d.cache.live.Add(size - sizes[i])
			if sizes[i] == 0 && size > 0 {
				d.cache.objects.Add(1)
			} else if sizes[i] > 0 && size == 0 {
				d.cache.objects.Add(-1)
			}
			sizes[i] = size
		}
	}
}

// compactStep returns the compaction loop's step, kube-apiserver's
// compactor: a Txn If version(compact_rev_key) == the count it knows Then
// put the revision it saw last time Else get the key. If it won, it
// compacts to the revision of the previous step, so one interval of
// history is kept (between one and two at any time); if another compactor
// won, it takes that count and compacts nothing. The first step only
// records a revision.
func (d *k8sDriver) compactStep() func(context.Context) {
	var count, rev int64
	key := []byte(compactRevKey)
	return func(ctx context.Context) {
		resp, err := d.kv.Txn(ctx, &pb.TxnRequest{
			Compare: k8sCompare(key, pb.Compare_VERSION, count),
			Success: []*pb.RequestOp{putOp(key, []byte(strconv.FormatInt(rev, 10)), 0)},
			Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: key}}}},
		})
		if err != nil {
			return
		}
		cur := d.saw(resp.Header)
		if !resp.Succeeded {
			if kv := failureKV(resp); kv != nil {
				count = kv.Version
			}
			rev = cur
			return
		}
		count++
		target := rev
		rev = cur
		if target == 0 {
			return
		}
		t0 := d.clk.Now()
		err = d.compactor.compact(ctx, target)
		if err != nil && ctx.Err() != nil {
			return // cut short by the end of the run
		}
		c := results.K8sCompaction{AtS: t0.Sub(d.base).Seconds(), Revision: target, DurationS: d.clk.Since(t0).Seconds()}
		if err != nil {
			c.Error = err.Error()
		}
		d.compMu.Lock()
		d.compactions = append(d.compactions, c)
		d.compMu.Unlock()
	}
}

// liveBytes is the key plus value bytes of the objects that exist by the
// driver's account (see results.Sample.LiveLogicalBytes).
func (d *k8sDriver) liveBytes() int64 { return d.cache.live.Load() }

// result is the driver's figures for the result.
func (d *k8sDriver) result() *results.K8sResult {
	r := d.initial
	r.TimeScale = d.spec.TimeScale
	r.Ops = map[string]int64{}
	for name, n := range map[string]int64{"create": d.nCreate.Load(), "update": d.nUpdate.Load(), "delete": d.nDelete.Load(),
		"get": d.nGet.Load(), "get_at_revision": d.nGetRev.Load(), "list": d.nList.Load(), "election_update": d.nElection.Load(), "count": d.nCount.Load()} {
		if n > 0 {
			r.Ops[name] = n
		}
	}
	r.Conflicts, r.Retries, r.NotFound = d.conflicts.Load(), d.retries.Load(), d.notFound.Load()
	r.ListPages, r.ListKeys, r.ListCount = d.pages.Load(), d.listKeys.Load(), d.listCount.Load()
	d.compMu.Lock()
	r.Compactions = append([]results.K8sCompaction(nil), d.compactions...)
	d.compMu.Unlock()
	r.LeasesGranted, r.LeaseGrantErrors = d.leasesGranted.Load(), d.leaseErrs.Load()
	r.EventsLeased, r.EventsExpired = d.eventsLeased.Load(), d.eventsExpired.Load()
	r.ElectionConflicts = d.electionConflicts.Load()
	r.LiveObjects, r.LiveLogicalBytes = d.cache.objects.Load(), d.cache.live.Load()
	return &r
}

// resetCounts zeroes the per-op counts at the start of the measured phase
// (the warm-up's ops are not the run's).
func (d *k8sDriver) resetCounts() {
	for _, c := range []*atomic.Int64{&d.nCreate, &d.nUpdate, &d.nDelete, &d.nGet, &d.nGetRev, &d.nList, &d.nElection, &d.nCount,
		&d.conflicts, &d.retries, &d.notFound, &d.pages, &d.listKeys, &d.listCount, &d.eventsLeased, &d.electionConflicts,
		&d.leasesGranted, &d.leaseErrs, &d.eventsExpired} {
		c.Store(0)
	}
}

// keepLease, as observe's lease, keeps the entry's lease: a read tells the
// revision, not which of the driver's leases the object carries.
const keepLease int32 = -1

// k8sShards spreads the cache's locks so clients rarely share one.
const k8sShards = 64

// k8sCache is the driver's state of every object by id: whether it exists,
// its mod_revision, its key plus value bytes and its event lease, with the
// revision each was observed at so an older response cannot overwrite a
// newer one. live and objects sum the existing objects.
type k8sCache struct {
	shards  [k8sShards]k8sShard
	live    atomic.Int64
	objects atomic.Int64
}

type k8sShard struct {
	mu   sync.Mutex
	ents []k8sEntry // by id / k8sShards
	_    [32]byte
}

type k8sEntry struct {
	seen   int64 // the revision the state below was observed at
	modRev int64
	size   int32
	lease  int32 // 1-based index of the driver's lease; 0: none
	exists bool
}

// modRev returns the cached mod_revision of id, 0 if it does not exist.
func (c *k8sCache) modRev(id uint64) int64 {
	s := &c.shards[id%k8sShards]
	i := id / k8sShards
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= uint64(len(s.ents)) || !s.ents[i].exists {
		return 0
	}
	return s.ents[i].modRev
}

// observe records that at revision seen, id existed with modRev and size
// bytes (or did not exist), unless a newer observation is cached.
func (c *k8sCache) observe(id uint64, seen, modRev int64, exists bool, size int, lease int32) {
	s := &c.shards[id%k8sShards]
	i := id / k8sShards
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= uint64(len(s.ents)) {
		n := max(2*len(s.ents), int(i)+1, 64)
		s.ents = append(s.ents, make([]k8sEntry, n-len(s.ents))...)
	}
	e := &s.ents[i]
	if seen < e.seen {
		return
	}
	if e.exists {
		c.live.Add(-int64(e.size))
		c.objects.Add(-1)
	}
	e.seen, e.exists = seen, exists
	if !exists {
		e.modRev, e.size, e.lease = 0, 0, 0
		return
	}
	e.modRev, e.size = modRev, int32(size)
	if lease != keepLease {
		e.lease = lease
	}
	c.live.Add(int64(size))
	c.objects.Add(1)
}

// expire marks id deleted if it still carries lease idx.
func (c *k8sCache) expire(id uint64, idx int32) bool {
	s := &c.shards[id%k8sShards]
	i := id / k8sShards
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= uint64(len(s.ents)) {
		return false
	}
	e := &s.ents[i]
	if !e.exists || e.lease != idx {
		return false
	}
	c.live.Add(-int64(e.size))
	c.objects.Add(-1)
	e.exists, e.modRev, e.size, e.lease = false, 0, 0, 0
	return true
}
