package mvcc

import (
	"bytes"
	"fmt"
	"sort"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"etcdlab/engines/backend"
)

// txnView is what a read sees: records through rtx (a reader) or wtx (inside
// a write txn, seeing its own writes), the index at readRev, and the
// compaction revision taken with it.
type txnView struct {
	rtx        *backend.ReadTx
	wtx        *backend.BatchTx
	readRev    int64
	compactRev int64
}

func (v txnView) getRecord(k []byte) ([]byte, error) {
	if v.wtx != nil {
		return v.wtx.UnsafeGet(KeyBucket(), k)
	}
	return v.rtx.Get(KeyBucket(), k)
}

// openRead snapshots the revisions and opens a backend view under revMu, so
// the view holds exactly the revisions up to readRev. Close the ReadTx.
func (s *Store) openRead() (txnView, *backend.ReadTx) {
	s.revMu.RLock()
	tx := s.b.ReadTx()
	v := txnView{rtx: tx, readRev: s.currentRev, compactRev: s.compactMainRev}
	s.revMu.RUnlock()
	return v, tx
}

// checkRev resolves a requested revision (0 or less: the view's) against the
// view, as etcd's rangeKeys.
func (v txnView) checkRev(rev int64) (int64, error) {
	if rev > v.readRev {
		return 0, fmt.Errorf("%w: revision %d, current %d", ErrFutureRev, rev, v.readRev)
	}
	if rev <= 0 {
		rev = v.readRev
	}
	if rev < v.compactRev {
		return 0, fmt.Errorf("%w: revision %d, compacted at %d", ErrCompacted, rev, v.compactRev)
	}
	return rev, nil
}

// rangeEnd turns a request's range_end into the index's form: nil for a
// point lookup, an empty slice for "no upper bound" (range_end "\x00").
func rangeEnd(end []byte) []byte {
	switch {
	case len(end) == 0:
		return nil
	case len(end) == 1 && end[0] == 0:
		return []byte{}
	}
	return end
}

// rangeKeys returns the live records of [key, end) at rev (at most limit when
// limit > 0) and the total count ignoring limit.
func (s *Store) rangeKeys(v txnView, key, end []byte, rev int64, limit int, countOnly bool) ([]mvccpb.KeyValue, int, error) {
	rev, err := v.checkRev(rev)
	if err != nil {
		return nil, 0, err
	}
	if countOnly {
		return nil, s.idx.CountRevisions(key, end, rev), nil
	}
	revs, total := s.idx.Revisions(key, end, rev, limit)
	if len(revs) == 0 {
		return nil, total, nil
	}
	kvs := make([]mvccpb.KeyValue, len(revs))
	var kb [RevBytesLen]byte
	for i, r := range revs {
		val, err := v.getRecord(AppendRevBytes(kb[:0], r))
		if err != nil {
			return nil, 0, fmt.Errorf("%w: index points to revision %v, backend read failed: %v", ErrCorrupt, r, err)
		}
		if err := kvs[i].Unmarshal(val); err != nil {
			return nil, 0, fmt.Errorf("%w: record at revision %v: %v", ErrCorrupt, r, err)
		}
	}
	return kvs, total, nil
}

// execRange serves a RangeRequest as etcd's apply layer does: limit+1 to set
// More, filters and sort applied after the read (then the limit is applied
// afterwards), keys_only and count_only.
func (s *Store) execRange(v txnView, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	resp := &pb.RangeResponse{Header: &pb.ResponseHeader{}}
	sortOrder := r.SortOrder
	if r.SortTarget != pb.RangeRequest_KEY && sortOrder == pb.RangeRequest_NONE {
		sortOrder = pb.RangeRequest_ASCEND
	} else if r.SortTarget == pb.RangeRequest_KEY && sortOrder == pb.RangeRequest_ASCEND {
		sortOrder = pb.RangeRequest_NONE // already in key order
	}
	limit := int(r.Limit)
	if sortOrder != pb.RangeRequest_NONE || r.MinModRevision != 0 || r.MaxModRevision != 0 ||
		r.MinCreateRevision != 0 || r.MaxCreateRevision != 0 {
		limit = 0 // fetch everything, filter and sort, then cut
	}
	if limit > 0 {
		limit++
	}
	kvs, total, err := s.rangeKeys(v, r.Key, rangeEnd(r.RangeEnd), r.Revision, limit, r.CountOnly)
	if err != nil {
		return nil, err
	}
	resp.Header.Revision = v.readRev
	resp.Count = int64(total)
	if r.CountOnly {
		return resp, nil
	}
	keep := kvs[:0]
	for i := range kvs {
		kv := &kvs[i]
		if (r.MaxModRevision != 0 && kv.ModRevision > r.MaxModRevision) ||
			(r.MinModRevision != 0 && kv.ModRevision < r.MinModRevision) ||
			(r.MaxCreateRevision != 0 && kv.CreateRevision > r.MaxCreateRevision) ||
			(r.MinCreateRevision != 0 && kv.CreateRevision < r.MinCreateRevision) {
			continue
		}
		keep = append(keep, *kv)
	}
	kvs = keep
	if sortOrder == pb.RangeRequest_ASCEND || sortOrder == pb.RangeRequest_DESCEND {
		// An unknown order sorts nothing, as in etcd.
		sortKVs(kvs, sortOrder, r.SortTarget)
	}
	if r.Limit > 0 && len(kvs) > int(r.Limit) {
		kvs = kvs[:r.Limit]
		resp.More = true
	}
	resp.Kvs = make([]*mvccpb.KeyValue, len(kvs))
	for i := range kvs {
		if r.KeysOnly {
			kvs[i].Value = nil
		}
		resp.Kvs[i] = &kvs[i]
	}
	return resp, nil
}

// sortKVs sorts stably (ties stay in key order, so results are deterministic).
func sortKVs(kvs []mvccpb.KeyValue, order pb.RangeRequest_SortOrder, target pb.RangeRequest_SortTarget) {
	cmp := func(a, b *mvccpb.KeyValue) int {
		switch target {
		case pb.RangeRequest_VERSION:
			return cmpInt(a.Version, b.Version)
		case pb.RangeRequest_CREATE:
			return cmpInt(a.CreateRevision, b.CreateRevision)
		case pb.RangeRequest_MOD:
			return cmpInt(a.ModRevision, b.ModRevision)
		case pb.RangeRequest_VALUE:
			return bytes.Compare(a.Value, b.Value)
		}
		return bytes.Compare(a.Key, b.Key)
	}
	sort.SliceStable(kvs, func(i, j int) bool {
		c := cmp(&kvs[i], &kvs[j])
		if order == pb.RangeRequest_DESCEND {
			return c > 0
		}
		return c < 0
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Range reads keys at a revision.
func (s *Store) Range(r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := s.cfg.ValidateRange(r); err != nil {
		return nil, err
	}
	if err := s.rlock(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	v, tx := s.openRead()
	defer tx.Close()
	return s.execRange(v, r)
}

// writeTxn is one mutating txn: it holds the BatchTx lock from begin to end.
type writeTxn struct {
	s          *Store
	tx         *backend.BatchTx
	beginRev   int64
	compactRev int64
	changes    int64 // next sub-revision
	// track: a watcher existed when the txn began, so it keeps its events
	// for notify. Without one, nothing is kept (no allocation); a watcher
	// registered meanwhile gets the events read back from the BatchTx.
	track bool
	evs   []mvccpb.Event
}

// view reads at beginRev, or beginRev+1 once the txn changed something, so a
// txn sees its own writes.
func (w *writeTxn) view() txnView {
	rev := w.beginRev
	if w.changes > 0 {
		rev++
	}
	return txnView{wtx: w.tx, readRev: rev, compactRev: w.compactRev}
}

func (s *Store) beginWrite() (writeTxn, error) {
	if err := s.rlock(); err != nil {
		return writeTxn{}, err
	}
	tx := s.b.BatchTx()
	tx.Lock()
	s.adoptApplying()
	s.revMu.RLock()
	w := writeTxn{s: s, tx: tx, beginRev: s.currentRev, compactRev: s.compactMainRev}
	s.revMu.RUnlock()
	w.track = s.watch.count.Load() > 0
	return w, nil
}

// end finishes the txn and returns the store's revision after it: the
// revision moves only if something changed, and the txn's writes become
// visible to readers together with the new revision. The synced watchers are
// notified of exactly the txn's events first, with the watch lock held across
// the revision change (etcd's watchableStoreTxnWrite.End).
func (w *writeTxn) end() int64 {
	s := w.s
	rev := w.beginRev
	if w.changes > 0 {
		s.watch.mu.Lock()
		if s.watch.synced.size() > 0 {
			evs := w.evs
			if !w.track {
				var err error
				if evs, err = txnEvents(w.tx, w.beginRev+1); err != nil {
					s.watchErr.Store(&err)
				}
			}
			s.notify(w.beginRev+1, evs)
		}
		s.revMu.Lock()
		s.currentRev++
		rev = s.currentRev
		w.tx.Unlock()
		s.revMu.Unlock()
		s.watch.mu.Unlock()
	} else {
		w.tx.Unlock()
	}
	s.mu.RUnlock()
	return rev
}

// put writes key at the txn's revision. create_revision is the live
// generation's, else this revision; version is the previous one plus one.
func (w *writeTxn) put(key, value []byte, lease int64) error {
	rev := w.beginRev + 1
	ir := Revision{Main: rev, Sub: w.changes}
	// The index first: it yields create_revision and version. Nothing below
	// can fail for a record that validated.
	created, ver, err := w.s.idx.Put(key, ir)
	if err != nil {
		return err
	}
	kv := mvccpb.KeyValue{Key: key, Value: value, CreateRevision: created.Main, ModRevision: rev, Version: ver, Lease: lease}
	// One allocation holds both the revision key and the record; the backend
	// owns them from now on.
	n := kv.Size()
	buf := make([]byte, RevBytesLen+n)
	k := AppendRevBytes(buf[:0:RevBytesLen], ir)
	if _, err := kv.MarshalToSizedBuffer(buf[RevBytesLen:]); err != nil {
		return fmt.Errorf("mvcc: marshalling the record of key %q: %w", key, err)
	}
	w.tx.UnsafePut(KeyBucket(), k, buf[RevBytesLen:])
	w.changes++
	if w.track {
		ev := kv // declared here so that only a tracked put allocates it
		w.evs = append(w.evs, mvccpb.Event{Type: mvccpb.PUT, Kv: &ev})
	}
	if le := w.s.cfg.Lessor; le != nil {
		// As etcd's put: the key leaves its old lease and joins the new one.
		if old := le.KeyLease(key); old != 0 && old != lease {
			le.Detach(old, key)
		}
		if lease != 0 {
			le.Attach(lease, key)
		}
	}
	return nil
}

// deleteRange writes a tombstone for each key live in the range and returns
// how many. Absent keys change nothing (and do not move the revision).
func (w *writeTxn) deleteRange(key, end []byte) (int64, error) {
	keys, _ := w.s.idx.Range(key, end, w.view().readRev)
	for _, k := range keys {
		if err := w.delete(k); err != nil {
			return 0, err
		}
	}
	return int64(len(keys)), nil
}

func (w *writeTxn) delete(key []byte) error {
	ir := Revision{Main: w.beginRev + 1, Sub: w.changes}
	kv := mvccpb.KeyValue{Key: key}
	n := kv.Size()
	buf := make([]byte, MarkedRevBytesLen+n)
	k := AppendRevBytes(buf[:0:MarkedRevBytesLen], ir)
	k = append(k, tombstoneMark)
	if _, err := kv.MarshalToSizedBuffer(buf[MarkedRevBytesLen:]); err != nil {
		return fmt.Errorf("mvcc: marshalling the tombstone of key %q: %w", key, err)
	}
	w.tx.UnsafePut(KeyBucket(), k, buf[MarkedRevBytesLen:])
	if err := w.s.idx.Tombstone(key, ir); err != nil {
		return err
	}
	w.changes++
	if w.track {
		w.evs = append(w.evs, mvccpb.Event{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: key, ModRevision: ir.Main}})
	}
	if le := w.s.cfg.Lessor; le != nil {
		if old := le.KeyLease(key); old != 0 {
			le.Detach(old, key)
		}
	}
	return nil
}

// checkPut applies the checks of a put that need the store: ignore_value and
// ignore_lease need the key to exist.
func (s *Store) checkPut(v txnView, p *pb.PutRequest) error {
	// Checked again inside the write txn: a revoke runs in a write txn of its
	// own, so the lease cannot go away between this check and the attach.
	if p.Lease != 0 && (s.cfg.Lessor == nil || !s.cfg.Lessor.Lookup(p.Lease)) {
		return fmt.Errorf("%w: lease %x on put of %q", ErrLeaseNotFound, p.Lease, p.Key)
	}
	if p.IgnoreValue || p.IgnoreLease {
		kvs, _, err := s.rangeKeys(v, p.Key, nil, 0, 0, false)
		if err != nil {
			return err
		}
		if len(kvs) == 0 {
			return fmt.Errorf("%w: %q (ignore_value/ignore_lease need an existing key)", ErrKeyNotFound, p.Key)
		}
	}
	return nil
}

func (s *Store) execPut(w *writeTxn, p *pb.PutRequest) (*pb.PutResponse, error) {
	resp := &pb.PutResponse{Header: &pb.ResponseHeader{}}
	val, lease := p.Value, p.Lease
	if p.IgnoreValue || p.IgnoreLease || p.PrevKv {
		kvs, _, err := s.rangeKeys(w.view(), p.Key, nil, 0, 0, false)
		if err != nil {
			return nil, err
		}
		if (p.IgnoreValue || p.IgnoreLease) && len(kvs) == 0 {
			return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, p.Key)
		}
		if p.IgnoreValue {
			val = kvs[0].Value
		}
		if p.IgnoreLease {
			lease = kvs[0].Lease
		}
		if p.PrevKv && len(kvs) > 0 {
			resp.PrevKv = &kvs[0]
		}
	}
	if err := w.put(p.Key, val, lease); err != nil {
		return nil, err
	}
	resp.Header.Revision = w.beginRev + 1
	return resp, nil
}

func (s *Store) execDeleteRange(w *writeTxn, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	resp := &pb.DeleteRangeResponse{Header: &pb.ResponseHeader{}}
	end := rangeEnd(r.RangeEnd)
	if r.PrevKv {
		kvs, _, err := s.rangeKeys(w.view(), r.Key, end, 0, 0, false)
		if err != nil {
			return nil, err
		}
		resp.PrevKvs = make([]*mvccpb.KeyValue, len(kvs))
		for i := range kvs {
			resp.PrevKvs[i] = &kvs[i]
		}
	}
	n, err := w.deleteRange(r.Key, end)
	if err != nil {
		return nil, err
	}
	resp.Deleted = n
	resp.Header.Revision = w.view().readRev
	return resp, nil
}

// Put writes one key in its own txn.
func (s *Store) Put(r *pb.PutRequest) (*pb.PutResponse, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := s.cfg.ValidatePut(r); err != nil {
		return nil, err
	}
	w, err := s.beginWrite()
	if err != nil {
		return nil, err
	}
	if err := s.checkPut(w.view(), r); err != nil {
		w.end()
		return nil, err
	}
	resp, err := s.execPut(&w, r)
	rev := w.end()
	if err != nil {
		return nil, err
	}
	resp.Header.Revision = rev
	return resp, nil
}

// DeleteRange deletes the live keys of a range in one txn; deleting nothing
// does not move the revision.
func (s *Store) DeleteRange(r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := s.cfg.ValidateDeleteRange(r); err != nil {
		return nil, err
	}
	w, err := s.beginWrite()
	if err != nil {
		return nil, err
	}
	resp, err := s.execDeleteRange(&w, r)
	rev := w.end()
	if err != nil {
		return nil, err
	}
	resp.Header.Revision = rev
	return resp, nil
}
