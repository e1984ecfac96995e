package mvcc

import (
	"errors"
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/engines/backend"
)

func put(t testing.TB, s *Store, k, v string) int64 {
	t.Helper()
	resp, err := s.Put(&pb.PutRequest{Key: []byte(k), Value: []byte(v)})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func del(t testing.TB, s *Store, k, end string) int64 {
	t.Helper()
	r := &pb.DeleteRangeRequest{Key: []byte(k)}
	if end != "" {
		r.RangeEnd = []byte(end)
	}
	resp, err := s.DeleteRange(r)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Deleted
}

// keyBucket lists the key bucket's entries as revisions, "t" marking tombstones.
func keyBucket(t testing.TB, s *Store) []string {
	t.Helper()
	tx := s.b.ReadTx()
	defer tx.Close()
	var out []string
	err := tx.Scan(KeyBucket(), nil, nil, 0, func(k, _ []byte) bool {
		r, tomb, err := ParseRevBytes(k)
		if err != nil {
			t.Fatal(err)
		}
		m := ""
		if tomb {
			m = "t"
		}
		out = append(out, r.String()+m)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStoreRevisions(t *testing.T) {
	s := openStore(t, "memory", "", Config{})
	defer s.Close()
	if s.Rev() != 1 || s.CompactRev() != -1 {
		t.Fatalf("new store at rev %d compact %d, want 1 and -1", s.Rev(), s.CompactRev())
	}
	if rev := put(t, s, "a", "1"); rev != 2 {
		t.Fatalf("first write at %d, want 2", rev)
	}
	if n := del(t, s, "zz", ""); n != 0 || s.Rev() != 2 {
		t.Fatalf("delete of an absent key: deleted %d, rev %d; want 0 and an unchanged 2", n, s.Rev())
	}
	// One main revision for the txn, one sub-revision per change.
	resp, err := s.Txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("b"), opPut("c"), opDel("a", ""), opRange("b")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Revision != 3 {
		t.Fatalf("txn at %d, want 3", resp.Header.Revision)
	}
	// The txn's range sees its own writes.
	if kvs := resp.Responses[3].GetResponseRange().Kvs; len(kvs) != 1 || kvs[0].ModRevision != 3 {
		t.Fatalf("range inside the txn: %v", kvs)
	}
	got := fmt.Sprint(keyBucket(t, s))
	if want := "[2.0 3.0 3.1 3.2t]"; got != want {
		t.Fatalf("key bucket %s, want %s", got, want)
	}
	// A read-only txn does not move the revision.
	if resp, err := s.Txn(&pb.TxnRequest{Success: []*pb.RequestOp{opRange("b")}}); err != nil || resp.Header.Revision != 3 {
		t.Fatalf("read-only txn: %v %v", resp, err)
	}
}

func TestStoreRejectsWithoutApplying(t *testing.T) {
	s := openStore(t, "memory", "", Config{MaxTxnOps: 4})
	defer s.Close()
	for i := range 5 {
		put(t, s, "k", fmt.Sprint(i))
	}
	if err := s.CompactSync(4); err != nil {
		t.Fatal(err)
	}
	before := fmt.Sprint(keyBucket(t, s))
	rangeAt := func(rev int64) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("k"), Revision: rev}}}
	}
	for _, tc := range []struct {
		name string
		txn  *pb.TxnRequest
		want error
	}{
		{"too many ops", &pb.TxnRequest{Success: ops(5, func(i int) *pb.RequestOp { return opPut(fmt.Sprint(i)) })}, ErrTooManyOps},
		{"duplicate", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("x"), opPut("x")}}, ErrDuplicateKey},
		{"range at a compacted revision after a put", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("x"), rangeAt(3)}}, ErrCompacted},
		{"range at a future revision after a put", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("x"), rangeAt(7)}}, ErrFutureRev},
		{"ignore_value on an absent key", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("x"), {Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("nope"), IgnoreValue: true}}}}}, ErrKeyNotFound},
	} {
		if _, err := s.Txn(tc.txn); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		if s.Rev() != 6 || fmt.Sprint(keyBucket(t, s)) != before {
			t.Fatalf("%s: the rejected txn changed the store (rev %d)", tc.name, s.Rev())
		}
	}
	if _, err := s.Range(&pb.RangeRequest{Key: []byte("k"), Revision: 3}); !errors.Is(err, ErrCompacted) || err.Error()[:42] != "mvcc: required revision has been compacted" {
		t.Fatalf("range at 3 after compact(4): %v", err)
	}
	if _, err := s.Range(&pb.RangeRequest{Key: []byte("k"), Revision: 4}); err != nil {
		t.Fatalf("range exactly at the compact revision: %v", err)
	}
	if _, err := s.Range(&pb.RangeRequest{Key: []byte("k"), Revision: 7}); !errors.Is(err, ErrFutureRev) {
		t.Fatalf("range at a future revision: %v", err)
	}
	if _, err := s.Put(&pb.PutRequest{Key: []byte("k"), Lease: 7}); !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("put with a lease: %v", err)
	}
	// ignore_value keeps the value and bumps the version.
	resp, err := s.Put(&pb.PutRequest{Key: []byte("k"), IgnoreValue: true, PrevKv: true})
	if err != nil || string(resp.PrevKv.Value) != "4" {
		t.Fatalf("ignore_value put: %v %v", resp, err)
	}
	rr, err := s.Range(&pb.RangeRequest{Key: []byte("k")})
	if err != nil || string(rr.Kvs[0].Value) != "4" || rr.Kvs[0].Version != 6 || rr.Kvs[0].CreateRevision != 2 {
		t.Fatalf("after ignore_value: %v %v", rr, err)
	}
}

func TestRangeSortAndFilters(t *testing.T) {
	s := openStore(t, "memory", "", Config{})
	defer s.Close()
	put(t, s, "a", "3") // 2
	put(t, s, "b", "1") // 3
	put(t, s, "c", "2") // 4
	put(t, s, "a", "0") // 5
	keys := func(r *pb.RangeRequest) string {
		resp, err := s.Range(r)
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, kv := range resp.Kvs {
			out += string(kv.Key)
		}
		return fmt.Sprintf("%s count=%d more=%t", out, resp.Count, resp.More)
	}
	all := func() *pb.RangeRequest { return &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}} }
	for _, tc := range []struct {
		mod  func(r *pb.RangeRequest)
		want string
	}{
		{func(r *pb.RangeRequest) {}, "abc count=3 more=false"},
		{func(r *pb.RangeRequest) { r.Limit = 2 }, "ab count=3 more=true"},
		{func(r *pb.RangeRequest) { r.SortTarget = pb.RangeRequest_VALUE }, "abc count=3 more=false"},
		{func(r *pb.RangeRequest) { r.SortTarget = pb.RangeRequest_MOD; r.SortOrder = pb.RangeRequest_DESCEND }, "acb count=3 more=false"},
		{func(r *pb.RangeRequest) { r.SortOrder = pb.RangeRequest_DESCEND; r.Limit = 1 }, "c count=3 more=true"},
		{func(r *pb.RangeRequest) { r.SortTarget = pb.RangeRequest_CREATE; r.SortOrder = pb.RangeRequest_DESCEND }, "cba count=3 more=false"},
		{func(r *pb.RangeRequest) { r.MinModRevision = 4 }, "ac count=3 more=false"},
		{func(r *pb.RangeRequest) { r.MaxCreateRevision = 3 }, "ab count=3 more=false"},
		{func(r *pb.RangeRequest) { r.CountOnly = true }, " count=3 more=false"},
		{func(r *pb.RangeRequest) { r.RangeEnd = []byte("b") }, "a count=1 more=false"},
		{func(r *pb.RangeRequest) { r.Revision = 3 }, "ab count=2 more=false"},
	} {
		r := all()
		tc.mod(r)
		if got := keys(r); got != tc.want {
			t.Errorf("%v: got %q, want %q", r, got, tc.want)
		}
	}
}

func TestConsistentIndexInSameCommit(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, "bbolt", dir, Config{})
	s.SetApplyingIndex(5, 2)
	put(t, s, "a", "1")
	if i, term := s.ConsistentIndex(); i != 5 || term != 2 {
		t.Fatalf("after applying entry 5: %d/%d", i, term)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	// Staged but not applied: a commit must not carry index 6 without its data.
	s.SetApplyingIndex(6, 2)
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, "bbolt", dir, Config{})
	if i, term := s.ConsistentIndex(); i != 5 || term != 2 {
		t.Fatalf("reopened at consistent index %d/%d, want 5/2", i, term)
	}
	// An entry that writes nothing is recorded directly.
	s.SetConsistentIndex(9, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, "bbolt", dir, Config{})
	defer s.Close()
	if i, term := s.ConsistentIndex(); i != 9 || term != 3 {
		t.Fatalf("reopened at consistent index %d/%d, want 9/3", i, term)
	}
	if s.RestoreDuration() <= 0 {
		t.Fatalf("restore duration %v", s.RestoreDuration())
	}
}

func TestOpenRejectsDamagedData(t *testing.T) {
	for name, poison := range map[string]func(tx *backend.BatchTx){
		"bad revision key": func(tx *backend.BatchTx) { tx.UnsafePut(KeyBucket(), []byte("0123456789abcdef"), []byte("x")) },
		"undecodable record": func(tx *backend.BatchTx) {
			tx.UnsafePut(KeyBucket(), RevBytes(Revision{Main: 9}, false), []byte{0xff, 0xff, 0xff})
		},
		"record at the wrong revision": func(tx *backend.BatchTx) {
			tx.UnsafePut(KeyBucket(), RevBytes(Revision{Main: 9}, false), mustMarshalKV(t, "k", 3, 1, 2))
		},
		"bad finished revision": func(tx *backend.BatchTx) {
			tx.UnsafePut(MetaBucket(), []byte(MetaFinishedCompactRev), []byte("short"))
		},
	} {
		dir := t.TempDir()
		s := openStore(t, "memory", dir, Config{})
		put(t, s, "a", "1")
		tx := s.Backend().BatchTx()
		tx.Lock()
		poison(tx)
		tx.Unlock()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := backend.New(openEngine(t, "memory", dir), backend.Config{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(b, Config{})
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrBadRevision) {
			t.Errorf("%s: Open returned %v, want a corruption error", name, err)
		}
		t.Logf("%s: %v", name, err)
		_ = b.Close()
	}
}

func mustMarshalKV(t *testing.T, key string, mod, create, ver int64) []byte {
	t.Helper()
	kv := mvccKV(key, mod, create, ver)
	b, err := kv.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClosedStore(t *testing.T) {
	s := openStore(t, "memory", "", Config{})
	put(t, s, "a", "1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err1 := s.Put(&pb.PutRequest{Key: []byte("a")})
	_, err2 := s.Range(&pb.RangeRequest{Key: []byte("a")})
	_, err3 := s.Txn(&pb.TxnRequest{})
	_, err4 := s.Compact(2)
	_, _, err5 := s.HashByRev(0)
	_, err6 := s.DeleteRange(&pb.DeleteRangeRequest{Key: []byte("a")})
	for i, err := range []error{err1, err2, err3, err4, err5, err6, s.Close()} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("op %d after Close: %v, want ErrClosed", i, err)
		}
	}
}
