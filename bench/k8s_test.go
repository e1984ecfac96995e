package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"etcdlab/cluster"
	"etcdlab/internal/clock"
	"etcdlab/workloads"
)

// k8sOracle is a naive MVCC model: every version of every key, one
// revision per write txn. oracleKV checks each response of the real store
// against it.
type k8sOracle struct {
	rev  int64
	vers map[string][]oracleVer
}

type oracleVer struct {
	rev, create int64
	size        int
	deleted     bool
}

func newK8sOracle() *k8sOracle { return &k8sOracle{rev: 1, vers: map[string][]oracleVer{}} }

// at returns key's version at rev (ok false: absent).
func (o *k8sOracle) at(key string, rev int64) (oracleVer, bool) {
	vs := o.vers[key]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].rev <= rev {
			return vs[i], !vs[i].deleted
		}
	}
	return oracleVer{}, false
}

func (o *k8sOracle) modRev(key string) int64 {
	if v, ok := o.at(key, o.rev); ok {
		return v.rev
	}
	return 0
}

func (o *k8sOracle) put(key string, size int) {
	o.rev++
	create := o.rev
	if v, ok := o.at(key, o.rev); ok {
		create = v.create
	}
	o.vers[key] = append(o.vers[key], oracleVer{rev: o.rev, create: create, size: size})
}

func (o *k8sOracle) del(key string) bool {
	if _, ok := o.at(key, o.rev); !ok {
		return false
	}
	o.rev++
	o.vers[key] = append(o.vers[key], oracleVer{rev: o.rev, deleted: true})
	return true
}

// keysAt lists the keys in [start, end) that exist at rev, sorted (etcd's
// end: empty for one key, "\x00" for every key from start on).
func (o *k8sOracle) keysAt(start, end []byte, rev int64) []string {
	var out []string
	for k := range o.vers {
		kb := []byte(k)
		in := bytes.Equal(kb, start)
		if len(end) > 0 {
			in = bytes.Compare(kb, start) >= 0 && (bytes.Equal(end, []byte{0}) || bytes.Compare(kb, end) < 0)
		}
		if _, ok := o.at(k, rev); in && ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// live is the key plus value bytes of the keys that exist now.
func (o *k8sOracle) live(filter func(string) bool) int64 {
	var n int64
	for k := range o.vers {
		if v, ok := o.at(k, o.rev); ok && filter(k) {
			n += int64(v.size)
		}
	}
	return n
}

// oracleKV runs requests on the real store and checks every response
// against the oracle, which it advances. beforePage, if set, runs before
// each page of a list (a Range of a range with a limit).
type oracleKV struct {
	t          *testing.T
	kv         KV
	o          *k8sOracle
	beforePage func(*pb.RangeRequest)
}

func (k *oracleKV) header(h *pb.ResponseHeader, what string) {
	if h.Revision != k.o.rev {
		k.t.Errorf("%s: header revision %d, oracle %d", what, h.Revision, k.o.rev)
	}
}

func (k *oracleKV) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	resp, err := k.kv.Put(ctx, r)
	if err == nil {
		k.o.put(string(r.Key), len(r.Key)+len(r.Value))
		k.header(resp.Header, "put")
	}
	return resp, err
}

func (k *oracleKV) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	resp, err := k.kv.DeleteRange(ctx, r)
	if err == nil {
		if deleted := k.o.del(string(r.Key)); deleted != (resp.Deleted == 1) {
			k.t.Errorf("delete %q: deleted %d, oracle %v", r.Key, resp.Deleted, deleted)
		}
		k.header(resp.Header, "delete")
	}
	return resp, err
}

func (k *oracleKV) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if k.beforePage != nil && r.Limit > 0 && len(r.RangeEnd) > 0 {
		k.beforePage(r)
	}
	resp, err := k.kv.Range(ctx, r)
	if err != nil {
		return resp, err
	}
	k.header(resp.Header, "range")
	rev := r.Revision
	if rev == 0 {
		rev = k.o.rev
	}
	want := k.o.keysAt(r.Key, r.RangeEnd, rev)
	if resp.Count != int64(len(want)) {
		k.t.Errorf("range [%q, %q) at %d: count %d, oracle %d", r.Key, r.RangeEnd, rev, resp.Count, len(want))
	}
	more := false
	if r.Limit > 0 && int64(len(want)) > r.Limit {
		want, more = want[:r.Limit], true
	}
	got := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		got[i] = string(kv.Key)
		if v, _ := k.o.at(got[i], rev); kv.ModRevision != v.rev {
			k.t.Errorf("range at %d: %q mod_revision %d, oracle %d", rev, kv.Key, kv.ModRevision, v.rev)
		}
	}
	if !slices.Equal(got, want) || resp.More != more {
		k.t.Errorf("range [%q, %q) at %d limit %d: keys %q more %v, oracle %q more %v", r.Key, r.RangeEnd, rev, r.Limit, got, resp.More, want, more)
	}
	return resp, nil
}

// Txn checks the k8s driver's shapes: one compare on a key's mod_revision
// (or version), a put or delete of it on success, a get on failure.
func (k *oracleKV) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	c := r.Compare[0]
	key := string(c.Key)
	var ok bool
	switch c.Target {
	case pb.Compare_MOD:
		ok = k.o.modRev(key) == c.GetModRevision()
	case pb.Compare_VERSION:
		n := int64(0)
		if _, exists := k.o.at(key, k.o.rev); exists {
			for _, v := range k.o.vers[key] {
				if v.deleted {
					n = 0
				} else {
					n++
				}
			}
		}
		ok = n == c.GetVersion()
	default:
		k.t.Fatalf("txn compare target %v", c.Target)
	}
	resp, err := k.kv.Txn(ctx, r)
	if err != nil {
		return resp, err
	}
	if resp.Succeeded != ok {
		k.t.Errorf("txn on %q: succeeded %v, oracle %v", key, resp.Succeeded, ok)
	}
	if resp.Succeeded {
		if p := r.Success[0].GetRequestPut(); p != nil {
			k.o.put(string(p.Key), len(p.Key)+len(p.Value))
		} else if d := r.Success[0].GetRequestDeleteRange(); d != nil {
			k.o.del(string(d.Key))
		}
	}
	k.header(resp.Header, "txn")
	return resp, nil
}

func k8sTestSpec(t *testing.T, count int64) workloads.Spec {
	t.Helper()
	s := workloads.Spec{
		Keys:      workloads.Keys{Count: count, Shape: workloads.ShapeK8s, Resources: []string{"pods", "events"}, Namespaces: 2},
		ValueSize: workloads.Between(10, 40),
		Ops:       workloads.OpMix{TxnCAS: 0.5, Get: 0.5},
		K8s: &workloads.K8s{PageSize: 3, EventLeases: new(bool), ListAndWatch: new(bool), CompactionInterval: -1,
			LeaderElection: workloads.LeaderElection{Objects: -1},
			ValueSizes:     map[string]workloads.ValueDist{"pods": {Min: 50, Max: 80, Tail: 0.2, TailMax: 200}}},
	}
	s.EnsureDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// openK8sMVCC opens the mvcc layer on the memory engine with an oracle in
// front and the driver on it, preloaded and initially listed.
func openK8sMVCC(t *testing.T, spec workloads.Spec, seed int64) (*k8sDriver, *oracleKV, *workloads.KeySpace) {
	t.Helper()
	cfg := Config{Layer: LayerMVCC, Node: cluster.NodeOptions{Engine: "memory"}, Clock: clock.Real(), Workload: spec}
	cfg.EnsureDefaults()
	tg, err := openMVCCTarget(context.Background(), cfg, LayerEnv{Dir: filepath.Join(t.TempDir(), "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	ks, err := workloads.NewKeySpace(spec, seed)
	if err != nil {
		t.Fatal(err)
	}
	okv := &oracleKV{t: t, kv: tg.(*mvccTarget).kv, o: newK8sOracle()}
	l, err := ks.Loader(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var op workloads.Op
	ctx := context.Background()
	for l.Next(&op) {
		if err := DoKV(ctx, okv, &op); err != nil {
			t.Fatal(err)
		}
	}
	d, err := newK8sDriver(cfg, ks, tg)
	if err != nil {
		t.Fatal(err)
	}
	d.kv = okv
	if err := d.initialList(ctx); err != nil {
		t.Fatal(err)
	}
	return d, okv, ks
}

// TestK8sDriverAgainstOracle drives the driver with a seeded random mix of
// creates, updates, deletes, gets and lists, with or without writes the
// driver does not make (which make its cache stale, so its optimistic
// txns conflict), and writes between a list's pages (which must not show
// in the list: the pages read at the pinned revision). oracleKV checks
// every response against a naive MVCC model; after each op the driver's
// cached mod_revision of the key must be the model's, and without foreign
// writes its live bytes must be the model's.
func TestK8sDriverAgainstOracle(t *testing.T) {
	for _, foreign := range []bool{false, true} {
		t.Run(fmt.Sprintf("foreign=%v", foreign), func(t *testing.T) {
			seed := seed(t)
			rng := rand.New(rand.NewPCG(uint64(seed), 17))
			spec := k8sTestSpec(t, 40)
			d, okv, ks := openK8sMVCC(t, spec, seed)
			o := okv.o
			ctx := context.Background()
			isObject := func(k string) bool { _, ok := ks.K8sID([]byte(k)); return ok }
			if got, want := d.liveBytes(), o.live(isObject); got != want {
				t.Fatalf("after the initial list: live bytes %d, oracle %d", got, want)
			}
			if d.initial.InitialListObjects != 40 {
				t.Fatalf("initial list saw %d objects, want 40", d.initial.InitialListObjects)
			}
			vals := ks.Values(1 << 50)
			next := uint64(spec.Keys.Count)
			foreignWrite := func() {
				id := rng.Uint64N(next + 2) // the next creates' ids too: they conflict
				key := ks.AppendKey(nil, id)
				if rng.IntN(3) == 0 {
					_, _ = okv.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: key})
				} else {
					_, _ = okv.Put(ctx, &pb.PutRequest{Key: key, Value: vals.Of(ks.Resource(id))})
				}
			}
			if foreign {
				// Between pages, delete or rewrite a key the list has not
				// reached yet: a list not pinned to its first page's
				// revision would show it.
				okv.beforePage = func(r *pb.RangeRequest) {
					ahead := o.keysAt(r.Key, r.RangeEnd, o.rev)
					if len(ahead) == 0 {
						return
					}
					key := []byte(ahead[rng.IntN(len(ahead))])
					if rng.IntN(2) == 0 {
						_, _ = okv.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: key})
					} else {
						_, _ = okv.Put(ctx, &pb.PutRequest{Key: key, Value: []byte("rewritten")})
					}
				}
			}
			for step := 0; step < 600; step++ {
				var id uint64
				var err error
				if foreign && rng.IntN(5) == 0 {
					foreignWrite()
					continue
				}
				op := rng.IntN(5)
				if op == 1 {
					id = next
					next++
				} else {
					id = rng.Uint64N(next)
				}
				key := ks.AppendKey(nil, id)
				val := vals.Of(ks.Resource(id))
				switch op {
				case 0:
					id, err = d.update(ctx, id, key, val)
				case 1:
					err = d.create(ctx, id, key, val)
				case 2:
					id, err = d.delete(ctx, id, key)
				case 3:
					err = d.get(ctx, &workloads.Op{Kind: workloads.OpGet, ID: id, Key: key})
				case 4:
					start := append(ks.ResourcePrefix(ks.Resource(id)), fmt.Sprintf("ns-%05d/", rng.IntN(2))...)
					end := append(bytes.Clone(start[:len(start)-1]), '/'+1)
					var got []string
					rev, lerr := d.list(ctx, start, end, 0, false, func(kv *mvccpb.KeyValue, _ int64) { got = append(got, string(kv.Key)) })
					if want := o.keysAt(start, end, rev); lerr == nil && !slices.Equal(got, want) {
						t.Fatalf("step %d: list of %q at %d: %q, oracle %q", step, start, rev, got, want)
					}
					err = lerr
				}
				if err != nil {
					t.Fatalf("step %d (op %d on %q): %v", step, op, key, err)
				}
				if op != 3 && op != 4 {
					key = ks.AppendKey(nil, id) // the object it acted on
					if got, want := d.cache.modRev(id), o.modRev(string(key)); got != want {
						t.Fatalf("step %d (op %d on %q): cached mod_revision %d, oracle %d", step, op, key, got, want)
					}
				}
				if !foreign {
					// The cache is the store's state, key by key.
					for i := uint64(0); i < next; i++ {
						k := ks.AppendKey(nil, i)
						if got, want := d.cache.modRev(i), o.modRev(string(k)); got != want {
							t.Fatalf("step %d: cached mod_revision of %q %d, oracle %d", step, k, got, want)
						}
					}
				}
				if !foreign {
					if got, want := d.liveBytes(), o.live(isObject); got != want {
						t.Fatalf("step %d (op %d on %q): live bytes %d, oracle %d", step, op, key, got, want)
					}
				}
			}
			r := d.result()
			if foreign && (r.Conflicts == 0 || r.Retries == 0) {
				t.Errorf("foreign writes made no conflicts or retries: %+v", r)
			}
			if !foreign && r.Conflicts != 0 {
				t.Errorf("%d conflicts without foreign writes", r.Conflicts)
			}
			if r.ListPages <= r.Ops["list"] || r.NotFound == 0 {
				t.Errorf("lists of pages of 3 took %d pages for %d lists; not found %d", r.ListPages, r.Ops["list"], r.NotFound)
			}
		})
	}
}

// TestK8sCompactStep checks the apiserver's compaction protocol: the
// first step only records a revision, each next one wins the Txn on
// compact_rev_key (its version counts the compactions) and compacts to the
// revision of the step before, so one interval of history is kept and a
// get at the newest revision the driver saw still works.
func TestK8sCompactStep(t *testing.T) {
	spec := k8sTestSpec(t, 10)
	spec.K8s.CompactionInterval = 300
	d, okv, ks := openK8sMVCC(t, spec, seed(t))
	ctx := context.Background()
	step := d.compactStep()
	var recorded []int64 // the revision each step's Txn ran at
	for i := 0; i < 4; i++ {
		for j := 0; j < 3; j++ {
			id := uint64(j)
			if _, err := d.update(ctx, id, ks.AppendKey(nil, id), []byte("v"+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
		step(ctx)
		recorded = append(recorded, okv.o.rev)
		key := ks.AppendKey(nil, 0)
		if err := d.get(ctx, &workloads.Op{Kind: workloads.OpGet, Key: key}); err != nil {
			t.Fatalf("get after compaction %d: %v", i, err)
		}
	}
	if len(d.compactions) != 3 {
		t.Fatalf("compactions %+v, want 3 (none at the first step)", d.compactions)
	}
	for i, c := range d.compactions {
		if c.Revision != recorded[i] || c.Error != "" {
			t.Errorf("compaction %d: %+v, want revision %d (the step before's)", i, c, recorded[i])
		}
	}
	rr, err := okv.Range(ctx, &pb.RangeRequest{Key: []byte(compactRevKey)})
	if err != nil || len(rr.Kvs) != 1 || rr.Kvs[0].Version != 4 || string(rr.Kvs[0].Value) != strconv.FormatInt(recorded[2], 10) {
		t.Fatalf("compact_rev_key: %v %v, want version 4 holding %d", rr, err, recorded[2])
	}
	// History older than the last compaction is gone.
	if _, err := okv.kv.Range(ctx, &pb.RangeRequest{Key: ks.AppendKey(nil, 0), Revision: recorded[1]}); err == nil {
		t.Errorf("a get below the compacted revision %d succeeded", recorded[2])
	}
}

// fakeLeaser grants numbered leases and remembers their TTLs.
type fakeLeaser struct{ ttls []int64 }

func (f *fakeLeaser) leaseGrant(_ context.Context, ttl int64) (int64, error) {
	f.ttls = append(f.ttls, ttl)
	return int64(len(f.ttls)), nil
}

// TestK8sLeases checks the lease manager's reuse (for lease_reuse and at
// most lease_max_keys objects, scaled by time_scale), the TTL it asks for
// (event_ttl + lease_reuse, scaled, rounded up) and the expiry count, which
// spares objects rewritten with a newer lease.
func TestK8sLeases(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	spec := k8sTestSpec(t, 10)
	spec.K8s.TimeScale = 10
	spec.K8s.LeaseMaxKeys = 3
	fl := &fakeLeaser{}
	ks, err := workloads.NewKeySpace(spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	d := &k8sDriver{spec: ks.Spec().K8s, ks: ks, clk: clk, leaser: fl}
	ctx := context.Background()
	var got []int64
	for i := 0; i < 4; i++ { // 3 on the first lease, the 4th on a new one
		id, idx, err := d.leaseFor(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
		d.cache.observe(uint64(i), 10, 10, true, 100, idx)
		d.attachLease(idx, uint64(i))
	}
	clk.Advance(7 * time.Second) // past lease_reuse 60 s / 10
	id, idx, _ := d.leaseFor(ctx)
	got = append(got, id)
	d.cache.observe(0, 20, 20, true, 100, idx) // object 0 moves to lease 3
	d.attachLease(idx, 0)
	if want := []int64{1, 1, 1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("leases %v, want %v", got, want)
	}
	if want := int64(366); fl.ttls[0] != want { // (3600 + 60) / 10
		t.Fatalf("TTL %d, want %d", fl.ttls[0], want)
	}
	d.expire(clk.Now().Add(366*time.Second - 7*time.Second)) // lease 1 at its TTL: grace not over
	if d.eventsExpired.Load() != 0 {
		t.Fatal("expired before the grace")
	}
	d.expire(clk.Now().Add(366 * time.Second)) // leases 1 and 2 over, 3 not
	if n := d.eventsExpired.Load(); n != 3 {
		t.Fatalf("expired %d objects, want 3 (objects 1, 2 of lease 1 and 3 of lease 2; 0 moved)", n)
	}
	if d.liveBytes() != 100 || d.cache.objects.Load() != 1 {
		t.Fatalf("live %d bytes in %d objects, want 100 in 1", d.liveBytes(), d.cache.objects.Load())
	}
}

// TestK8sDriverLayers checks that the config and the driver name what a
// layer lacks.
func TestK8sDriverLayers(t *testing.T) {
	for _, tc := range []struct {
		layer     string
		endpoints []string
		noExtras  bool
		want      string
	}{
		{LayerEngine, nil, true, "not on the engine layer"},
		{LayerCluster, []string{"127.0.0.1:2379"}, true, "not on the cluster layer with --endpoints"},
		{LayerMVCC, nil, false, "on the mvcc layer set both to false"},
		{LayerMVCC, nil, true, ""},
		{LayerCluster, nil, false, ""},
	} {
		spec, err := workloads.Preset("k8s")
		if err != nil {
			t.Fatal(err)
		}
		if tc.noExtras {
			spec.K8s.EventLeases, spec.K8s.ListAndWatch = new(bool), new(bool)
		}
		cfg := Config{Layer: tc.layer, Endpoints: tc.endpoints, Workload: spec}
		cfg.EnsureDefaults()
		err = cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (!errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s %v: %v, want %q", tc.layer, tc.endpoints, err, tc.want)
		}
	}
	spec, err := workloads.Preset("k8s")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := workloads.NewKeySpace(spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		layer string
		t     Target
		want  string
	}{
		{LayerEngine, &engineTarget{}, "not on the engine layer"},
		{LayerMVCC, &mvccTarget{}, "k8s.event_leases needs leases, which the mvcc layer does not serve"},
	} {
		_, err := newK8sDriver(Config{Layer: tc.layer, Clock: clock.Real()}, ks, tc.t)
		if !errors.Is(err, ErrBadConfig) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("%s: %v, want %q", tc.layer, err, tc.want)
		}
	}
}

// TestK8sCluster runs the k8s preset on one in-process node, sped up so a
// 2-second run sees compactions, event leases and leader election: every
// part of the driver shows in the result, the timeline carries the live
// logical bytes, the per-resource watchers see events, and the sampled
// operations stay linearizable.
func TestK8sCluster(t *testing.T) {
	spec := smallSpec(t, "k8s", 300)
	spec.K8s.TimeScale = 600 // compaction every 0.5 s, lease reuse 0.1 s, election every 3.3 ms
	spec.K8s.ValueSizes["pods"] = workloads.ValueDist{Min: 1000, Max: 2000, Tail: 0.1, TailMax: 7000}
	cfg := Config{Layer: LayerCluster, Nodes: 1, Workload: spec, Seed: seed(t), Clients: 4, Duration: 2 * time.Second,
		Node: cluster.NodeOptions{Engine: "memory"}}
	o, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := o.Result
	k := r.K8s
	if k == nil {
		t.Fatal("no k8s section")
	}
	if r.Summary.Errors != 0 {
		t.Errorf("errors: %v", r.Summary.ErrorsByMessage)
	}
	if k.InitialListObjects != 300 || k.InitialListPages < 5 || k.InitialListRev < 1 {
		t.Errorf("initial list: %d objects in %d pages at %d", k.InitialListObjects, k.InitialListPages, k.InitialListRev)
	}
	for _, name := range []string{"update", "get", "list", "election_update", "count"} {
		if k.Ops[name] == 0 {
			t.Errorf("no %s: %v", name, k.Ops)
		}
	}
	if len(k.Compactions) == 0 || k.LeasesGranted == 0 || k.EventsLeased == 0 || k.LiveLogicalBytes <= 0 {
		t.Errorf("compactions %+v, leases %d, events leased %d, live bytes %d", k.Compactions, k.LeasesGranted, k.EventsLeased, k.LiveLogicalBytes)
	}
	for _, c := range k.Compactions {
		if c.Error != "" {
			t.Errorf("compaction %+v failed", c)
		}
	}
	if w := r.Watch; w == nil || w.Watchers != 5 || w.Events == 0 {
		t.Errorf("watch: %+v", r.Watch)
	}
	live := 0
	for _, s := range o.Timeline {
		if s.Type == "interval" && s.LiveLogicalBytes > 0 {
			live++
		}
	}
	if live == 0 {
		t.Error("no interval reports live logical bytes")
	}
	if l := r.Linearizability; l != nil && l.Verdict != "ok" {
		t.Errorf("linearizability: %+v", l)
	}
}

// nopKV answers every request at once: a txn succeeds at the next
// revision, a range finds nothing. It measures the driver's own cost.
type nopKV struct{ rev atomic.Int64 }

func (k *nopKV) hdr() *pb.ResponseHeader { return &pb.ResponseHeader{Revision: k.rev.Add(1)} }
func (k *nopKV) Put(context.Context, *pb.PutRequest) (*pb.PutResponse, error) {
	return &pb.PutResponse{Header: k.hdr()}, nil
}
func (k *nopKV) Range(context.Context, *pb.RangeRequest) (*pb.RangeResponse, error) {
	return &pb.RangeResponse{Header: k.hdr()}, nil
}
func (k *nopKV) DeleteRange(context.Context, *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	return &pb.DeleteRangeResponse{Header: k.hdr()}, nil
}
func (k *nopKV) Txn(context.Context, *pb.TxnRequest) (*pb.TxnResponse, error) {
	return &pb.TxnResponse{Header: k.hdr(), Succeeded: true}, nil
}

// BenchmarkK8sDriver is the driver's cost per op above its requests (the
// cache, the counters, building the requests), against a KV that answers
// at once, beside DoKV's for the same op.
func BenchmarkK8sDriver(b *testing.B) {
	spec, err := workloads.Preset("k8s")
	if err != nil {
		b.Fatal(err)
	}
	spec.K8s.EventLeases = new(bool)
	ks, err := workloads.NewKeySpace(spec, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, kind := range []workloads.OpKind{workloads.OpTxnCAS, workloads.OpGet, workloads.OpRange} {
		for _, via := range []string{"driver", "dokv"} {
			b.Run("op="+kind.String()+"/via="+via, func(b *testing.B) {
				kv := &nopKV{}
				d := &k8sDriver{spec: ks.Spec().K8s, ks: ks, kv: kv, clk: clock.Real(), eventRes: -1, pageSize: 500, getAtRev: 0.6}
				n := uint64(ks.Count())
				for id := uint64(0); id < n; id++ {
					d.cache.observe(id, 1, 1, true, 100, 0)
				}
				ops := make([]workloads.Op, 1024)
				for i := range ops {
					id := uint64(i*7919) % n
					ops[i] = workloads.Op{Kind: kind, ID: id, Key: ks.AppendKey(nil, id), Value: []byte("v")}
					if kind == workloads.OpRange {
						ops[i].End = append(bytes.Clone(ops[i].Key[:len(ops[i].Key)-11]), '0')
					}
				}
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					op := &ops[i%len(ops)]
					if via == "dokv" {
						err = DoKV(ctx, kv, op)
					} else {
						err = d.Do(ctx, op)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestK8sCapacityProbeThroughDriver: the capacity probe runs the clients'
// ops through the k8s driver, as the measured phase does, so the driver's
// revision cache stays in step with the store. With one client nothing
// else writes the objects, so any conflict is a stale cache entry (the
// probe once ran the plain layer: every object it rewrote conflicted on its
// next update).
func TestK8sCapacityProbeThroughDriver(t *testing.T) {
	spec := smallSpec(t, "k8s-storage", 2000)
	spec.K8s.EventLeases, spec.K8s.ListAndWatch = new(bool), new(bool)
	spec.K8s.CompactionInterval = -1
	cfg := Config{Layer: LayerMVCC, Workload: spec, Seed: seed(t), Clients: 1, RateFraction: 0.5,
		CapacityProbe: time.Second, Duration: time.Second, FsyncProbe: -1, Node: cluster.NodeOptions{Engine: "memory"}}
	o, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := o.Result.K8s
	if o.Result.Summary.CapacityOpsS <= 0 || k == nil || k.Ops["update"] == 0 {
		t.Fatalf("capacity %v, k8s %+v", o.Result.Summary.CapacityOpsS, k)
	}
	if k.Conflicts != 0 {
		t.Errorf("%d conflicts in %d updates with one client: the cache went stale", k.Conflicts, k.Ops["update"])
	}
}
