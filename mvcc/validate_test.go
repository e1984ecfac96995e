package mvcc

import (
	"bytes"
	"errors"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func opPut(k string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k), Value: []byte("v")}}}
}

func opDel(k, end string) *pb.RequestOp {
	d := &pb.DeleteRangeRequest{Key: []byte(k)}
	if end != "" {
		d.RangeEnd = []byte(end)
	}
	return &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: d}}
}

func opRange(k string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte(k)}}}
}

func opTxn(then, els []*pb.RequestOp) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: &pb.TxnRequest{Success: then, Failure: els}}}
}

func ops(n int, f func(i int) *pb.RequestOp) []*pb.RequestOp {
	var o []*pb.RequestOp
	for i := range n {
		o = append(o, f(i))
	}
	return o
}

func TestValidateTxn(t *testing.T) {
	var cfg Config
	cfg.EnsureDefaults()
	key := func(i int) string { return string(rune('a'+i%26)) + string(rune('a'+i/26)) }
	for _, tc := range []struct {
		name string
		txn  *pb.TxnRequest
		want error
	}{
		{"empty", &pb.TxnRequest{}, nil},
		{"128 puts", &pb.TxnRequest{Success: ops(128, func(i int) *pb.RequestOp { return opPut(key(i)) })}, nil},
		{"129 puts", &pb.TxnRequest{Success: ops(129, func(i int) *pb.RequestOp { return opPut(key(i)) })}, ErrTooManyOps},
		{"129 failure ops", &pb.TxnRequest{Failure: ops(129, func(i int) *pb.RequestOp { return opRange("a") })}, ErrTooManyOps},
		{"129 compares", &pb.TxnRequest{Compare: ops2cmp(129)}, ErrTooManyOps},
		{"129 ops in a nested txn", &pb.TxnRequest{Success: []*pb.RequestOp{opTxn(ops(129, func(i int) *pb.RequestOp { return opRange("a") }), nil)}}, ErrTooManyOps},
		{"put twice", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a"), opPut("a")}}, ErrDuplicateKey},
		{"put in success and failure", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a")}, Failure: []*pb.RequestOp{opPut("a")}}, nil},
		{"put and delete of it", &pb.TxnRequest{Success: []*pb.RequestOp{opDel("a", ""), opPut("a")}}, ErrDuplicateKey},
		{"put inside a delete range", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("b"), opDel("a", "c")}}, ErrDuplicateKey},
		{"put at a delete range's end", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("c"), opDel("a", "c")}}, nil},
		{"put inside a from-key delete", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("zz"), opDel("b", "\x00")}}, ErrDuplicateKey},
		{"overlapping deletes", &pb.TxnRequest{Success: []*pb.RequestOp{opDel("a", "d"), opDel("b", "e")}}, nil},
		{"nested put and outer put", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a"), opTxn([]*pb.RequestOp{opPut("a")}, nil)}}, ErrDuplicateKey},
		{"nested put in both branches", &pb.TxnRequest{Success: []*pb.RequestOp{opTxn([]*pb.RequestOp{opPut("a")}, []*pb.RequestOp{opPut("a")})}}, nil},
		{"nested put under an outer delete", &pb.TxnRequest{Success: []*pb.RequestOp{opDel("a", "z"), opTxn(nil, []*pb.RequestOp{opPut("b")})}}, ErrDuplicateKey},
		{"two nested txns put the same key", &pb.TxnRequest{Success: []*pb.RequestOp{opTxn([]*pb.RequestOp{opPut("a")}, nil), opTxn(nil, []*pb.RequestOp{opPut("a")})}}, ErrDuplicateKey},
		{"nested delete then outer put", &pb.TxnRequest{Success: []*pb.RequestOp{opTxn([]*pb.RequestOp{opDel("a", "c")}, nil), opPut("b")}}, ErrDuplicateKey},
		{"empty key", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("")}}, ErrEmptyKey},
		{"nil op", &pb.TxnRequest{Success: []*pb.RequestOp{nil}}, ErrKeyNotFound},
		{"empty op", &pb.TxnRequest{Success: []*pb.RequestOp{{}}}, ErrKeyNotFound},
		{"too large", &pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("a"), Value: bytes.Repeat([]byte{1}, DefaultMaxRequestBytes)}}}}}, ErrRequestTooLarge},
	} {
		err := cfg.ValidateTxn(tc.txn)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

func ops2cmp(n int) []*pb.Compare {
	var cs []*pb.Compare
	for range n {
		cs = append(cs, &pb.Compare{Key: []byte("a"), Target: pb.Compare_VERSION})
	}
	return cs
}

func TestValidatePutAndConfig(t *testing.T) {
	var cfg Config
	cfg.EnsureDefaults()
	for _, tc := range []struct {
		r    *pb.PutRequest
		want []error
	}{
		{&pb.PutRequest{Key: []byte("a")}, nil},
		{&pb.PutRequest{}, []error{ErrEmptyKey}},
		{&pb.PutRequest{Key: []byte("a"), Value: []byte("x"), IgnoreValue: true, IgnoreLease: true, Lease: 5}, []error{ErrValueProvided, ErrLeaseProvided}},
		// The lease is looked up when the put is applied, not here.
		{&pb.PutRequest{Key: []byte("a"), Lease: 5}, nil},
		{&pb.PutRequest{Key: []byte("a"), Value: make([]byte, DefaultMaxRequestBytes)}, []error{ErrRequestTooLarge}},
	} {
		err := cfg.ValidatePut(tc.r)
		if len(tc.want) == 0 && err != nil {
			t.Errorf("%v: %v", tc.r.Key, err)
		}
		for _, w := range tc.want {
			if !errors.Is(err, w) {
				t.Errorf("put %q: err %v, want %v", tc.r.Key, err, w)
			}
		}
	}
	bad := Config{MaxTxnOps: -1, MaxRequestBytes: -1, CompactionBatchLimit: -1, CompactionSleepInterval: -1, RestoreChunkKeys: -1,
		WatchChanBufLen: -1, WatchMaxWatchersPerSync: -1, WatchBatchMaxRevs: -1, WatchSyncMaxRevs: -1,
		WatchSyncInterval: -1, WatchVictimInterval: -1, WatchProgressNotifyInterval: -1}
	err := bad.Validate()
	if !errors.Is(err, ErrBadConfig) {
		t.Fatalf("bad config: %v", err)
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 12 {
		t.Fatalf("bad config reported %d problems, want all 12: %v", n, err)
	}
}
