package bench

import (
	"context"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/internal/lincheck"
)

// okTxnKV answers every txn as succeeded.
type okTxnKV struct{ KV }

func (okTxnKV) Txn(context.Context, *pb.TxnRequest) (*pb.TxnResponse, error) {
	return &pb.TxnResponse{Succeeded: true}, nil
}

// TestHistKVPutOnlyTxns: txns of puts and nothing else, one put included
// (a preload loader's last batch), are recorded as puts of their sampled
// keys, not refused as an unrecorded shape (which made the check of half
// the k8s-storage runs "unknown").
func TestHistKVPutOnlyTxns(t *testing.T) {
	put := func(k string) *pb.RequestOp { return putOp([]byte(k), []byte("v"), 0) }
	for _, tc := range []struct {
		name string
		ops  []*pb.RequestOp
		want int
	}{
		{"one put", []*pb.RequestOp{put("a")}, 1},
		{"three puts", []*pb.RequestOp{put("a"), put("b"), put("c")}, 3},
	} {
		h := lincheck.NewHistory(100)
		k := newHistKV(okTxnKV{}, h, 1, 1) // every key sampled
		if _, err := k.Txn(context.Background(), &pb.TxnRequest{Success: tc.ops}); err != nil {
			t.Fatal(err)
		}
		if k.tainted != "" {
			t.Errorf("%s: tainted: %s", tc.name, k.tainted)
		}
		if got := h.Stats().Writes; got != tc.want {
			t.Errorf("%s: %d ops recorded, want %d", tc.name, got, tc.want)
		}
	}
}
