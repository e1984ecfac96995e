package lease

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"etcdlab/engines/backend"
	"etcdlab/engines/engine"
)

// ID names a lease. NoLease (0) is no lease.
type ID int64

// NoLease is the ID of no lease.
const NoLease ID = 0

// Bucket is the backend bucket leases are persisted in (etcd's `lease`).
func Bucket() engine.Bucket { return engine.Bucket{ID: 3, Name: "lease"} }

// TxnDeleter is what the lessor needs of the key-value store: one write txn
// that deletes keys (mvcc.Store.DeleteKeysTxn). keys runs first with the txn
// open and the backend's BatchTx lock held; the keys it returns are deleted
// in that txn. It returns the store's revision after the txn.
type TxnDeleter interface {
	DeleteKeysTxn(keys func(tx *backend.BatchTx) [][]byte) (int64, error)
}

// Info is a lease as TimeToLive reports it (etcd's LeaseTimeToLiveResponse).
type Info struct {
	ID ID
	// TTL is the remaining time in whole seconds (truncated, as etcd).
	TTL int64
	// GrantedTTL is the TTL granted (after raising to the minimum).
	GrantedTTL int64
	// Keys are the attached keys, sorted, when asked for.
	Keys [][]byte
}

type lease struct {
	id           ID
	ttl          int64 // seconds
	remainingTTL int64 // seconds; checkpoints would set it, 0 here
	// expiry: the zero time means never (the lessor is not primary).
	expiry time.Time
	keys   map[string]struct{}
	// revokec is closed when the lease is revoked: a Renew of an expired
	// lease waits for it.
	revokec chan struct{}
}

func (l *lease) remaining(now time.Time) time.Duration {
	if l.expiry.IsZero() {
		return time.Duration(math.MaxInt64)
	}
	return l.expiry.Sub(now)
}

func (l *lease) refresh(now time.Time, extend time.Duration) {
	ttl := l.ttl
	if l.remainingTTL > 0 {
		ttl = l.remainingTTL
	}
	l.expiry = now.Add(extend + time.Duration(ttl)*time.Second)
}

// Lessor grants, renews, expires and revokes leases. Create it with New; all
// methods are safe for concurrent use.
type Lessor struct {
	cfg Config
	// b is the backend leases persist in; Recover replaces it.
	b atomic.Pointer[backend.Backend]

	mu       sync.RWMutex
	leases   map[ID]*lease
	keyLease map[string]ID
	primary  bool
	demotec  chan struct{} // closed on Demote; nil when not primary
	expiries expiryHeap
	rd       TxnDeleter
	txHook   func()

	expiredC chan []ID
	stop     chan struct{}
	done     chan struct{}
	// checked is closed after the loop's first expiry check, which runs at
	// once (as etcd's): tests wait for it so that check cannot land later.
	checked chan struct{}
	closed  bool

	statsMu sync.Mutex
	stats   RevokeStats
}

// RevokeBuckets is the number of keys-per-lease buckets of RevokeStats.
const RevokeBuckets = 21

// RevokeStats are the revokes this lessor applied since it was made: each
// one write txn deleting the lease's keys. Nanos is their time by the
// lessor's clock, from the lookup to the txn's end. Buckets splits them by
// keys per lease: bucket b holds leases with 2^b to 2^(b+1)-1 keys (bucket 0
// also those with none; the last, every larger lease).
type RevokeStats struct {
	RevokeBucket
	Buckets [RevokeBuckets]RevokeBucket
}

// RevokeBucket is a count of revokes, their keys and their time.
type RevokeBucket struct {
	Revokes, Keys, Nanos int64
}

// RevokeBucketOf is the bucket of a lease with keys keys.
func RevokeBucketOf(keys int) int {
	b := 0
	for keys > 1 && b < RevokeBuckets-1 {
		keys >>= 1
		b++
	}
	return b
}

// RevokeStats returns the revokes so far.
func (le *Lessor) RevokeStats() RevokeStats {
	le.statsMu.Lock()
	defer le.statsMu.Unlock()
	return le.stats
}

func (le *Lessor) noteRevoke(keys int, d time.Duration) {
	le.statsMu.Lock()
	defer le.statsMu.Unlock()
	for _, b := range []*RevokeBucket{&le.stats.RevokeBucket, &le.stats.Buckets[RevokeBucketOf(keys)]} {
		b.Revokes++
		b.Keys += int64(keys)
		b.Nanos += int64(d)
	}
}

// New opens a lessor over b, loading the leases persisted there (all of them
// non-expiring until Promote), and starts the expiry loop. Attach the keys
// by opening mvcc with this lessor in its Config, then call SetDeleter.
func New(b *backend.Backend, cfg Config) (*Lessor, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	le := &Lessor{
		cfg:      cfg,
		expiredC: make(chan []ID, cfg.ExpiredChanLen),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		checked:  make(chan struct{}),
	}
	le.b.Store(b)
	if err := le.load(); err != nil {
		return nil, err
	}
	t := cfg.Clock.NewTicker(cfg.CheckInterval)
	go le.run(t)
	return le, nil
}

// SetDeleter sets the store revokes delete keys through.
func (le *Lessor) SetDeleter(rd TxnDeleter) {
	le.mu.Lock()
	defer le.mu.Unlock()
	le.rd = rd
}

// SetTxHook sets f, called by Grant right after it takes the backend's
// BatchTx lock (etcd's txPostLockInsideApplyHook): the server's consistent
// index of the entry being applied (mvcc.Store.AdoptApplying) then reaches the
// backend in the commit that carries the lease, never in an earlier one.
// Revoke writes through the TxnDeleter's txn, which does the same.
func (le *Lessor) SetTxHook(f func()) {
	le.mu.Lock()
	defer le.mu.Unlock()
	le.txHook = f
}

// Recover moves the lessor to backend b (a snapshot's, installed in place of
// the old one; b may be the same backend) and reloads the leases from it,
// demoting the lessor, as etcd's Recover; keys attach again when mvcc
// restores its index over b, so recover the lessor first. Renews waiting on
// an expired lease return ErrNotPrimary.
func (le *Lessor) Recover(b *backend.Backend) error {
	le.Demote()
	le.b.Store(b)
	return le.load()
}

func (le *Lessor) load() error {
	leases := map[ID]*lease{}
	rtx := le.b.Load().ReadTx()
	defer rtx.Close()
	var derr error
	err := rtx.Scan(Bucket(), nil, nil, 0, func(k, v []byte) bool {
		if len(k) != 8 || len(v) != 16 {
			derr = fmt.Errorf("%w: key %x value %x", ErrCorrupt, k, v)
			return false
		}
		l := &lease{
			id:           ID(binary.BigEndian.Uint64(k)),
			ttl:          int64(binary.BigEndian.Uint64(v)),
			remainingTTL: int64(binary.BigEndian.Uint64(v[8:])),
			expiry:       time.Time{}, // never: not primary yet
			keys:         map[string]struct{}{},
			revokec:      make(chan struct{}),
		}
		l.ttl = max(l.ttl, le.cfg.MinLeaseTTL)
		leases[l.id] = l
		return true
	})
	if derr != nil {
		return derr
	}
	if err != nil {
		return fmt.Errorf("lease: reading the lease bucket: %w", err)
	}
	le.mu.Lock()
	le.leases = leases
	le.keyLease = map[string]ID{}
	le.expiries = expiryHeap{index: map[ID]int{}}
	le.mu.Unlock()
	return nil
}

func leaseKey(id ID) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

func leaseValue(l *lease) []byte {
	v := binary.BigEndian.AppendUint64(nil, uint64(l.ttl))
	return binary.BigEndian.AppendUint64(v, uint64(l.remainingTTL))
}

// Grant creates lease id with ttl seconds (raised to MinLeaseTTL) and
// persists it. On the primary it starts to expire at once.
func (le *Lessor) Grant(id ID, ttl int64) (Info, error) {
	if id == NoLease {
		return Info{}, fmt.Errorf("%w: id 0", ErrLeaseNotFound)
	}
	if ttl > MaxLeaseTTL {
		return Info{}, fmt.Errorf("%w: %d", ErrLeaseTTLTooLarge, ttl)
	}
	tx := le.b.Load().BatchTx()
	tx.Lock()
	defer tx.Unlock()
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.closed {
		return Info{}, ErrClosed
	}
	if le.txHook != nil {
		le.txHook()
	}
	if _, ok := le.leases[id]; ok {
		return Info{}, fmt.Errorf("%w: %x", ErrLeaseExists, id)
	}
	l := &lease{id: id, ttl: max(ttl, le.cfg.MinLeaseTTL), keys: map[string]struct{}{}, revokec: make(chan struct{})}
	if le.primary {
		l.refresh(le.cfg.Clock.Now(), 0)
		le.expiries.update(id, l.expiry)
	}
	le.leases[id] = l
	tx.UnsafePut(Bucket(), leaseKey(id), leaseValue(l))
	return Info{ID: id, TTL: l.ttl, GrantedTTL: l.ttl}, nil
}

// Revoke deletes every key attached to lease id and the lease itself in one
// write txn of the store, and returns the store's revision after it.
func (le *Lessor) Revoke(id ID) (int64, error) {
	start := le.cfg.Clock.Now()
	le.mu.RLock()
	_, ok := le.leases[id]
	rd := le.rd
	le.mu.RUnlock()
	if !ok {
		return 0, fmt.Errorf("%w: %x", ErrLeaseNotFound, id)
	}
	found, nkeys := false, 0
	take := func(tx *backend.BatchTx) [][]byte {
		le.mu.Lock()
		defer le.mu.Unlock()
		l := le.leases[id]
		if l == nil {
			return nil // revoked meanwhile
		}
		found = true
		keys := make([]string, 0, len(l.keys))
		for k := range l.keys {
			keys = append(keys, k)
			delete(le.keyLease, k)
		}
		nkeys = len(keys)
		sort.Strings(keys) // etcd deletes in key order
		delete(le.leases, id)
		le.expiries.remove(id)
		tx.UnsafeDelete(Bucket(), leaseKey(id))
		close(l.revokec)
		out := make([][]byte, len(keys))
		for i, k := range keys {
			out[i] = []byte(k)
		}
		return out
	}
	var rev int64
	if rd != nil {
		var err error
		if rev, err = rd.DeleteKeysTxn(take); err != nil {
			return 0, err
		}
	} else {
		tx := le.b.Load().BatchTx()
		tx.Lock()
		take(tx)
		tx.Unlock()
	}
	if !found {
		return 0, fmt.Errorf("%w: %x", ErrLeaseNotFound, id)
	}
	le.noteRevoke(nkeys, le.cfg.Clock.Since(start))
	return rev, nil
}

// Renew refreshes lease id's expiry to now + TTL and returns the TTL
// (keepalive). Only the primary renews.
func (le *Lessor) Renew(id ID) (int64, error) {
	le.mu.RLock()
	if !le.primary {
		le.mu.RUnlock()
		return -1, ErrNotPrimary
	}
	demotec := le.demotec
	l := le.leases[id]
	if l == nil {
		le.mu.RUnlock()
		return -1, fmt.Errorf("%w: %x", ErrLeaseNotFound, id)
	}
	expired := l.remaining(le.cfg.Clock.Now()) <= 0
	le.mu.RUnlock()
	if expired {
		// Its revoke may be on its way through raft: wait for it, as etcd.
		select {
		case <-l.revokec:
			return -1, fmt.Errorf("%w: %x", ErrLeaseNotFound, id)
		case <-demotec:
			return -1, ErrNotPrimary
		case <-le.stop:
			return -1, ErrNotPrimary
		}
	}
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.leases[id] != l {
		return -1, fmt.Errorf("%w: %x", ErrLeaseNotFound, id)
	}
	if !le.primary {
		return -1, ErrNotPrimary
	}
	l.refresh(le.cfg.Clock.Now(), 0)
	le.expiries.update(id, l.expiry)
	return l.ttl, nil
}

// TimeToLive reports lease id (and its keys if keys is set). Only the primary
// knows the remaining time (ErrNotPrimary elsewhere: forward it).
func (le *Lessor) TimeToLive(id ID, keys bool) (Info, error) {
	le.mu.RLock()
	defer le.mu.RUnlock()
	l := le.leases[id]
	if l == nil {
		return Info{ID: id, TTL: -1}, fmt.Errorf("%w: %x", ErrLeaseNotFound, id)
	}
	if !le.primary {
		return Info{}, ErrNotPrimary
	}
	info := Info{ID: id, TTL: int64(l.remaining(le.cfg.Clock.Now()).Seconds()), GrantedTTL: l.ttl}
	if keys {
		ks := make([]string, 0, len(l.keys))
		for k := range l.keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			info.Keys = append(info.Keys, []byte(k))
		}
	}
	return info, nil
}

// Leases lists the IDs of every lease, sorted.
func (le *Lessor) Leases() []ID {
	le.mu.RLock()
	ids := make([]ID, 0, len(le.leases))
	for id := range le.leases {
		ids = append(ids, id)
	}
	le.mu.RUnlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Lookup reports whether lease id exists (mvcc.Lessor).
func (le *Lessor) Lookup(id int64) bool {
	le.mu.RLock()
	defer le.mu.RUnlock()
	_, ok := le.leases[ID(id)]
	return ok
}

// KeyLease is the lease key is attached to, 0 if none (mvcc.Lessor).
func (le *Lessor) KeyLease(key []byte) int64 {
	le.mu.RLock()
	defer le.mu.RUnlock()
	return int64(le.keyLease[string(key)])
}

// Attach attaches key to lease id; a no-op if id does not exist (mvcc.Lessor;
// mvcc checks the lease inside the write txn before it puts).
func (le *Lessor) Attach(id int64, key []byte) {
	le.mu.Lock()
	defer le.mu.Unlock()
	l := le.leases[ID(id)]
	if l == nil {
		return
	}
	if old, ok := le.keyLease[string(key)]; ok && old != ID(id) {
		if ol := le.leases[old]; ol != nil {
			delete(ol.keys, string(key))
		}
	}
	l.keys[string(key)] = struct{}{}
	le.keyLease[string(key)] = ID(id)
}

// Detach detaches key from lease id (mvcc.Lessor).
func (le *Lessor) Detach(id int64, key []byte) {
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.keyLease[string(key)] != ID(id) {
		return
	}
	delete(le.keyLease, string(key))
	if l := le.leases[ID(id)]; l != nil {
		delete(l.keys, string(key))
	}
}

// Promote makes the lessor primary: every lease expires extend (the election
// timeout) after its TTL from now, and piled-up expiries are spread so that
// at most 3/4 of RevokeRate fall in any second (etcd's Promote).
func (le *Lessor) Promote(extend time.Duration) {
	le.mu.Lock()
	defer le.mu.Unlock()
	le.primary = true
	le.demotec = make(chan struct{})
	now := le.cfg.Clock.Now()
	for id, l := range le.leases {
		l.refresh(now, extend)
		le.expiries.update(id, l.expiry)
	}
	if len(le.leases) < le.cfg.RevokeRate {
		return // no pile-up possible
	}
	ls := make([]*lease, 0, len(le.leases))
	for _, l := range le.leases {
		ls = append(ls, l)
	}
	sort.Slice(ls, func(i, j int) bool {
		if !ls[i].expiry.Equal(ls[j].expiry) {
			return ls[i].expiry.Before(ls[j].expiry)
		}
		return ls[i].id < ls[j].id
	})
	baseWindow := ls[0].remaining(now)
	nextWindow := baseWindow + time.Second
	expires := 0
	target := (3 * le.cfg.RevokeRate) / 4
	for _, l := range ls {
		remaining := l.remaining(now)
		if remaining > nextWindow {
			baseWindow = remaining
			nextWindow = baseWindow + time.Second
			expires = 1
			continue
		}
		expires++
		if expires <= target {
			continue
		}
		rateDelay := float64(time.Second) * (float64(expires) / float64(target))
		// A lease n seconds past the window start is delayed n seconds less.
		rateDelay -= float64(remaining - baseWindow)
		delay := time.Duration(rateDelay)
		nextWindow = baseWindow + delay
		l.refresh(now, delay+extend)
		le.expiries.update(l.id, l.expiry)
	}
}

// Demote makes the lessor a follower: no lease expires until the next
// Promote, and Renews waiting on an expired lease return ErrNotPrimary.
func (le *Lessor) Demote() {
	le.mu.Lock()
	defer le.mu.Unlock()
	le.primary = false
	for _, l := range le.leases {
		l.expiry = time.Time{} // never
	}
	le.expiries = expiryHeap{index: map[ID]int{}}
	if le.demotec != nil {
		close(le.demotec)
		le.demotec = nil
	}
}

// ExpiredLeasesC delivers batches of expired leases on the primary, for the
// server to revoke through raft.
func (le *Lessor) ExpiredLeasesC() <-chan []ID { return le.expiredC }

func (le *Lessor) run(t interface {
	C() <-chan time.Time
	Stop()
}) {
	defer close(le.done)
	defer t.Stop()
	for first := true; ; first = false {
		le.revokeExpiredLeases()
		if first {
			close(le.checked)
		}
		select {
		case <-t.C():
		case <-le.stop:
			return
		}
	}
}

// revokeExpiredLeases offers up to RevokeRate/2 expired leases on expiredC,
// without blocking: if the receiver is busy they are offered next time.
func (le *Lessor) revokeExpiredLeases() {
	var ids []ID
	le.mu.Lock()
	if le.primary {
		ids = le.findExpired(le.cfg.RevokeRate / 2)
	}
	le.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	select {
	case le.expiredC <- ids:
	case <-le.stop:
	default:
	}
}

// findExpired pops expired leases from the heap, re-queuing each at now +
// ExpiredRetryInterval in case its revoke does not happen (etcd's
// expireExists/findExpiredLeases). Called with mu held.
func (le *Lessor) findExpired(limit int) []ID {
	now := le.cfg.Clock.Now()
	var ids []ID
	for len(ids) < limit && le.expiries.Len() > 0 {
		it := le.expiries.items[0]
		l := le.leases[it.id]
		if l == nil {
			heap.Pop(&le.expiries)
			continue
		}
		if now.Before(it.at) {
			break
		}
		le.expiries.update(it.id, now.Add(le.cfg.ExpiredRetryInterval))
		if l.remaining(now) <= 0 {
			ids = append(ids, it.id)
		}
	}
	return ids
}

// Close stops the expiry loop.
func (le *Lessor) Close() {
	le.mu.Lock()
	if le.closed {
		le.mu.Unlock()
		return
	}
	le.closed = true
	le.mu.Unlock()
	close(le.stop)
	<-le.done
}

// expiryHeap orders lease IDs by the time they are next checked.
type expiryHeap struct {
	items []expiryItem
	index map[ID]int
}

type expiryItem struct {
	id ID
	at time.Time
}

func (h *expiryHeap) Len() int           { return len(h.items) }
func (h *expiryHeap) Less(i, j int) bool { return h.items[i].at.Before(h.items[j].at) }
func (h *expiryHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.index[h.items[i].id] = i
	h.index[h.items[j].id] = j
}
func (h *expiryHeap) Push(x any) {
	it := x.(expiryItem)
	h.index[it.id] = len(h.items)
	h.items = append(h.items, it)
}
func (h *expiryHeap) Pop() any {
	it := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	delete(h.index, it.id)
	return it
}

func (h *expiryHeap) update(id ID, at time.Time) {
	if i, ok := h.index[id]; ok {
		h.items[i].at = at
		heap.Fix(h, i)
		return
	}
	heap.Push(h, expiryItem{id: id, at: at})
}

func (h *expiryHeap) remove(id ID) {
	if i, ok := h.index[id]; ok {
		heap.Remove(h, i)
	}
}
