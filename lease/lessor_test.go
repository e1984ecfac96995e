package lease

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/engines"
	"etcdlab/engines/backend"
	"etcdlab/internal/clock"
	"etcdlab/internal/testseed"
	"etcdlab/mvcc"
)

// The store and the lessor fit each other's consumer-side interfaces.
var (
	_ TxnDeleter  = (*mvcc.Store)(nil)
	_ mvcc.Lessor = (*Lessor)(nil)
)

type env struct {
	t     *testing.T
	name  string
	dir   string
	clk   *clock.Fake
	cfg   Config
	le    *Lessor
	store *mvcc.Store
}

// open opens the engine, a backend, the lessor (loading its bucket), the
// store (attaching keys as it restores) and wires the revokes, in the order
// a server would.
func (e *env) open() {
	t := e.t
	eng, err := engines.Open(e.name, e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := backend.New(eng, backend.Config{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.le, err = New(b, e.cfg); err != nil {
		t.Fatal(err)
	}
	if e.store, err = mvcc.Open(b, mvcc.Config{Clock: e.clk, Lessor: e.le}); err != nil {
		t.Fatal(err)
	}
	e.le.SetDeleter(e.store)
	<-e.le.checked // the loop's first check is behind us
}

func (e *env) close() {
	e.le.Close()
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
}

func newEnv(t *testing.T, name string) *env {
	clk := clock.NewFake(time.Unix(1000, 0))
	e := &env{t: t, name: name, dir: t.TempDir(), clk: clk, cfg: Config{Clock: clk, RevokeRate: 8}}
	e.open()
	t.Cleanup(func() {
		if e.le != nil {
			e.le.Close()
			_ = e.store.Close()
		}
	})
	return e
}

func TestMinTTL(t *testing.T) {
	for _, tc := range []struct {
		ticks int
		hb    time.Duration
		want  int64
	}{
		{10, 100 * time.Millisecond, 2}, // etcd's defaults: 1.5s rounds up
		{5, 100 * time.Millisecond, 1},  // (3*5)/2 = 7 ticks: 0.7s
		{10, time.Second, 15},
		{20, 500 * time.Millisecond, 15},
	} {
		if got := MinTTL(tc.ticks, tc.hb); got != tc.want {
			t.Errorf("MinTTL(%d, %v) = %d, want %d", tc.ticks, tc.hb, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{MinLeaseTTL: -1, RevokeRate: 1, CheckInterval: -1, ExpiredRetryInterval: -1, ExpiredChanLen: -1}
	err := c.Validate()
	if !errors.Is(err, ErrBadConfig) {
		t.Fatalf("got %v", err)
	}
	for _, s := range []string{"min lease TTL", "revoke rate", "check interval", "retry interval", "chan len"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q not reported in %v", s, err)
		}
	}
	var d Config
	d.EnsureDefaults()
	if err := d.Validate(); err != nil || d.MinLeaseTTL != 2 || d.RevokeRate != 1000 || d.CheckInterval != 500*time.Millisecond {
		t.Fatalf("defaults %+v: %v", d, err)
	}
}

func TestGrantRenewRevoke(t *testing.T) {
	for _, name := range engines.Names() {
		t.Run("engine="+name, func(t *testing.T) {
			e := newEnv(t, name)
			le, s := e.le, e.store
			if _, err := le.Grant(0, 10); !errors.Is(err, ErrLeaseNotFound) {
				t.Fatalf("grant 0: %v", err)
			}
			if _, err := le.Grant(1, MaxLeaseTTL+1); !errors.Is(err, ErrLeaseTTLTooLarge) {
				t.Fatalf("grant huge: %v", err)
			}
			info, err := le.Grant(1, 1)
			if err != nil || info.GrantedTTL != 2 {
				t.Fatalf("grant 1: %+v %v (want TTL raised to 2)", info, err)
			}
			if _, err := le.Grant(1, 5); !errors.Is(err, ErrLeaseExists) {
				t.Fatalf("grant again: %v", err)
			}
			// Not primary: no renew, no TTL, nothing expires.
			if _, err := le.Renew(1); !errors.Is(err, ErrNotPrimary) {
				t.Fatalf("renew on follower: %v", err)
			}
			if _, err := s.Put(&pb.PutRequest{Key: []byte("k"), Lease: 99}); !errors.Is(err, mvcc.ErrLeaseNotFound) {
				t.Fatalf("put with unknown lease: %v", err)
			}
			for _, k := range []string{"a", "b"} {
				if _, err := s.Put(&pb.PutRequest{Key: []byte(k), Value: []byte("v"), Lease: 1}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Put(&pb.PutRequest{Key: []byte("c"), Value: []byte("v")}); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(time.Hour)
			le.revokeExpiredLeases()
			if len(le.ExpiredLeasesC()) != 0 {
				t.Fatal("a follower offered expired leases")
			}
			le.Promote(time.Second)
			ttl, err := le.TimeToLive(1, true)
			if err != nil || ttl.TTL != 3 || ttl.GrantedTTL != 2 || fmt.Sprintf("%s", ttl.Keys) != "[a b]" {
				t.Fatalf("ttl after promote: %+v %v", ttl, err)
			}
			e.clk.Advance(2 * time.Second)
			if n, err := le.Renew(1); err != nil || n != 2 {
				t.Fatalf("renew: %d %v", n, err)
			}
			e.clk.Advance(2 * time.Second)
			le.revokeExpiredLeases()
			got := <-le.ExpiredLeasesC()
			if !slices.Equal(got, []ID{1}) {
				t.Fatalf("expired %v", got)
			}
			rev0 := s.Rev()
			rev, err := le.Revoke(1)
			if err != nil || rev != rev0+1 {
				t.Fatalf("revoke: rev %d (before %d) %v: want both keys deleted in one revision", rev, rev0, err)
			}
			r, _ := s.Range(&pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("z")})
			if len(r.Kvs) != 1 || string(r.Kvs[0].Key) != "c" {
				t.Fatalf("after revoke: %v", r.Kvs)
			}
			if _, err := le.Revoke(1); !errors.Is(err, ErrLeaseNotFound) {
				t.Fatalf("revoke again: %v", err)
			}
			// One revoke of two keys, in bucket 1 (2-3 keys); the failed
			// one is not counted. The fake clock did not move: no time.
			st := le.RevokeStats()
			if st.RevokeBucket != (RevokeBucket{Revokes: 1, Keys: 2}) || st.Buckets[1] != st.RevokeBucket {
				t.Fatalf("revoke stats %+v", st)
			}
		})
	}
}

// TestRenewExpiredWaitsForRevoke: renewing an expired lease returns only
// when the lease is revoked (or the lessor demoted), as in etcd.
func TestRenewExpiredWaitsForRevoke(t *testing.T) {
	e := newEnv(t, "memory")
	le := e.le
	le.Promote(0)
	for _, id := range []ID{1, 2} {
		if _, err := le.Grant(id, 5); err != nil {
			t.Fatal(err)
		}
	}
	e.clk.Advance(10 * time.Second)
	errc := make(chan error, 2)
	go func() { _, err := le.Renew(1); errc <- err }()
	if _, err := le.Revoke(1); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("renew of revoked: %v", err)
	}
	go func() { _, err := le.Renew(2); errc <- err }()
	le.Demote()
	if err := <-errc; !errors.Is(err, ErrNotPrimary) && !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("renew during demote: %v", err)
	}
}

// TestPromoteSpreadsExpiries: leases expiring together are spread so that no
// second holds more than 3/4 of the revoke rate (etcd's Promote).
func TestPromoteSpreadsExpiries(t *testing.T) {
	e := newEnv(t, "memory")
	le := e.le // RevokeRate 8: at most 6 per second
	for id := ID(1); id <= 20; id++ {
		if _, err := le.Grant(id, 10); err != nil {
			t.Fatal(err)
		}
	}
	le.Promote(time.Second)
	perSecond := map[int64]int{}
	le.mu.RLock()
	for _, l := range le.leases {
		d := l.expiry.Sub(e.clk.Now())
		if d < 11*time.Second {
			t.Errorf("lease %d expires in %v, before TTL + extend", l.id, d)
		}
		perSecond[int64(d/time.Second)]++
	}
	le.mu.RUnlock()
	for sec, n := range perSecond {
		if n > 6 {
			t.Errorf("%d leases expire in second %d, want at most 6: %v", n, sec, perSecond)
		}
	}
}

// TestExpiryLoop: the loop, driven by the fake clock, offers expired
// leases, at most RevokeRate/2 per check; a lease offered and not revoked is
// offered again only after the retry interval. (One tick per Advance: the
// loop reads the clock when it runs, so the later checks call it directly.)
func TestExpiryLoop(t *testing.T) {
	e := newEnv(t, "memory")
	e.close()
	e.cfg.CheckInterval = 3 * time.Second
	e.open()
	le := e.le
	le.Promote(0)
	for id := ID(1); id <= 6; id++ {
		if _, err := le.Grant(id, 2); err != nil {
			t.Fatal(err)
		}
	}
	e.clk.Advance(3 * time.Second) // one tick, at the new time
	first := <-le.ExpiredLeasesC()
	if len(first) != 4 {
		t.Fatalf("first batch %v, want 4 (RevokeRate 8 / 2)", first)
	}
	for _, id := range first {
		if _, err := le.Revoke(id); err != nil {
			t.Fatal(err)
		}
	}
	le.revokeExpiredLeases()
	second := <-le.ExpiredLeasesC()
	if len(second) != 2 {
		t.Fatalf("second batch %v, want the other 2", second)
	}
	le.revokeExpiredLeases()
	if n := len(le.ExpiredLeasesC()); n != 0 {
		t.Fatalf("re-offered before the retry interval")
	}
	le.mu.Lock()
	le.cfg.Clock = clock.NewFake(e.clk.Now().Add(DefaultExpiredRetryInterval)) // skip ahead without ticking the loop
	le.mu.Unlock()
	le.revokeExpiredLeases()
	third := <-le.ExpiredLeasesC()
	if !slices.Equal(sorted(third), sorted(second)) {
		t.Fatalf("re-offered %v, want %v", third, second)
	}
}

func sorted(ids []ID) []ID {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// TestLeaseModel runs random grants, puts with and without leases, deletes,
// renewals, expiries (revoked as a server would), explicit revokes, demote
// and promote, and close + reopen, against an oracle, on every engine. After
// every step the live keys, the leases and each lease's keys must match the
// oracle: a revoke deletes exactly the attached keys, leases and attachments
// survive a reopen, and nothing revoked comes back.
func TestLeaseModel(t *testing.T) {
	seed := testseed.Seed(t)
	steps := 600
	if testing.Short() {
		steps = 250
	}
	for _, name := range engines.Names() {
		t.Run("engine="+name, func(t *testing.T) {
			runLeaseModel(t, name, seed, steps)
		})
	}
}

type oracleLease struct {
	ttl    int64
	expiry time.Time // zero: never (not primary)
}

func runLeaseModel(t *testing.T, name string, seed uint64, steps int) {
	rng := testseed.RNG(seed)
	e := newEnv(t, name)
	// The test finds expired leases itself; the loop must not tick.
	e.close()
	e.cfg.CheckInterval = 1 << 62
	e.open()
	keys := []string{"a", "b", "c", "d", "e", "f"}
	leases := map[ID]*oracleLease{}
	kv := map[string]ID{} // live key -> lease (0: none)
	primary := false
	nextID := ID(1)
	check := func(step int, what string) {
		t.Helper()
		r, err := e.store.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]ID{}
		for _, x := range r.Kvs {
			got[string(x.Key)] = ID(x.Lease)
		}
		if fmt.Sprint(got) != fmt.Sprint(kv) {
			t.Fatalf("step %d (%s): keys %v, want %v", step, what, got, kv)
		}
		var wantIDs []ID
		for id := range leases {
			wantIDs = append(wantIDs, id)
		}
		slices.Sort(wantIDs)
		if gotIDs := e.le.Leases(); !slices.Equal(gotIDs, wantIDs) {
			t.Fatalf("step %d (%s): leases %v, want %v", step, what, gotIDs, wantIDs)
		}
		for _, id := range wantIDs {
			var want []string
			for k, l := range kv {
				if l == id {
					want = append(want, k)
				}
			}
			sort.Strings(want)
			e.le.mu.RLock()
			var have []string
			for k := range e.le.leases[id].keys {
				have = append(have, k)
			}
			e.le.mu.RUnlock()
			sort.Strings(have)
			if !slices.Equal(have, want) {
				t.Fatalf("step %d (%s): lease %d has keys %v, want %v", step, what, id, have, want)
			}
		}
	}
	pickLease := func() ID {
		if len(leases) == 0 {
			return 0
		}
		ids := make([]ID, 0, len(leases))
		for id := range leases {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids[rng.IntN(len(ids))]
	}
	revoke := func(id ID) {
		for k, l := range kv {
			if l == id {
				delete(kv, k)
			}
		}
		delete(leases, id)
	}
	for step := 0; step < steps; step++ {
		var what string
		switch op := rng.IntN(20); {
		case op < 3:
			ttl := int64(1 + rng.IntN(10))
			id := nextID
			nextID++
			what = fmt.Sprintf("grant %d ttl %d", id, ttl)
			if _, err := e.le.Grant(id, ttl); err != nil {
				t.Fatal(err)
			}
			ol := &oracleLease{ttl: max(ttl, 2)}
			if primary {
				ol.expiry = e.clk.Now().Add(time.Duration(ol.ttl) * time.Second)
			}
			leases[id] = ol
		case op < 9:
			k := keys[rng.IntN(len(keys))]
			id := pickLease()
			if rng.IntN(3) == 0 {
				id = 0
			}
			what = fmt.Sprintf("put %s lease %d", k, id)
			if _, err := e.store.Put(&pb.PutRequest{Key: []byte(k), Value: []byte("v"), Lease: int64(id)}); err != nil {
				t.Fatal(err)
			}
			kv[k] = id
		case op < 11:
			k := keys[rng.IntN(len(keys))]
			what = "delete " + k
			if _, err := e.store.DeleteRange(&pb.DeleteRangeRequest{Key: []byte(k)}); err != nil {
				t.Fatal(err)
			}
			delete(kv, k)
		case op < 12:
			id := pickLease()
			if id == 0 {
				continue
			}
			what = fmt.Sprintf("revoke %d", id)
			if _, err := e.le.Revoke(id); err != nil {
				t.Fatal(err)
			}
			revoke(id)
		case op < 14:
			id := pickLease()
			if id == 0 || !primary {
				continue
			}
			what = fmt.Sprintf("renew %d", id)
			ol := leases[id]
			if !ol.expiry.After(e.clk.Now()) {
				continue // would wait for its revoke
			}
			if _, err := e.le.Renew(id); err != nil {
				t.Fatal(err)
			}
			ol.expiry = e.clk.Now().Add(time.Duration(ol.ttl) * time.Second)
		case op < 17:
			d := time.Duration(rng.IntN(3000)) * time.Millisecond
			what = fmt.Sprintf("advance %v and revoke what expired", d)
			e.clk.Advance(d)
			// Drain what the loop may have offered, then check in full.
			for len(e.le.ExpiredLeasesC()) > 0 {
				<-e.le.ExpiredLeasesC()
			}
			now := e.clk.Now()
			var expired []ID
			for {
				e.le.mu.Lock()
				ids := []ID(nil)
				if e.le.primary {
					ids = e.le.findExpired(e.cfg.RevokeRate / 2)
				}
				e.le.mu.Unlock()
				if len(ids) == 0 {
					break
				}
				for _, id := range ids {
					if _, err := e.le.Revoke(id); err != nil && !errors.Is(err, ErrLeaseNotFound) {
						t.Fatal(err)
					}
					expired = append(expired, id)
				}
			}
			var want []ID
			for id, ol := range leases {
				if primary && !ol.expiry.After(now) {
					want = append(want, id)
				}
			}
			// A lease offered earlier and not revoked then waits for its
			// retry; the oracle revokes every expired one at each step, so
			// all of them are found here.
			if !slices.Equal(sorted(expired), sorted(want)) {
				t.Fatalf("step %d: expired %v, want %v", step, sorted(expired), sorted(want))
			}
			for _, id := range want {
				revoke(id)
			}
		case op < 18:
			if primary {
				what = "demote"
				e.le.Demote()
				primary = false
				for _, ol := range leases {
					ol.expiry = time.Time{}
				}
			} else {
				ext := time.Duration(rng.IntN(3)) * time.Second
				what = fmt.Sprintf("promote +%v", ext)
				e.le.Promote(ext)
				primary = true
				e.le.mu.RLock()
				for id, ol := range leases {
					ol.expiry = e.clk.Now().Add(ext + time.Duration(ol.ttl)*time.Second)
					if got := e.le.leases[id].expiry; !got.Equal(ol.expiry) && len(leases) < e.cfg.RevokeRate {
						t.Fatalf("step %d: lease %d expires at %v, want %v", step, id, got, ol.expiry)
					}
					ol.expiry = e.le.leases[id].expiry // spread by Promote when many
				}
				e.le.mu.RUnlock()
			}
		default:
			what = "close and reopen"
			e.close()
			e.open()
			primary = false
			for _, ol := range leases {
				ol.expiry = time.Time{}
			}
		}
		check(step, what)
	}
}

func TestRevokeBucketOf(t *testing.T) {
	for keys, want := range map[int]int{0: 0, 1: 0, 2: 1, 3: 1, 4: 2, 1000: 9, 1 << 30: RevokeBuckets - 1} {
		if got := RevokeBucketOf(keys); got != want {
			t.Errorf("RevokeBucketOf(%d) = %d, want %d", keys, got, want)
		}
	}
}
