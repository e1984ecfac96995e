package v3rpc

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"etcdlab/internal/clock"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/status"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the randomized v3rpc tests (0: derived from the time, then logged)")

func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(clock.Real().Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed=%d)", s, s)
	return s
}

// TestAPIMatchesStore sends random requests through gRPC to one store and
// straight to a twin store, and requires the same answers: the API layer
// must neither lose nor alter a field (limit, sort, filters, keys_only,
// count_only, revisions, prev_kv, txn branches), only fill the header, and
// must turn the store's errors into etcd's.
func TestAPIMatchesStore(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	env := startEnv(t, "memory", Options{})
	twin := newFakeNode(t, "memory")
	kv := pb.NewKVClient(env.cli.ActiveConnection())
	ctx := testCtx(t)

	key := func() []byte { return []byte(fmt.Sprintf("k%02d", rng.IntN(20))) }
	end := func(k []byte) []byte {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return []byte{0}
		default:
			return []byte(fmt.Sprintf("k%02d", rng.IntN(21)))
		}
	}
	rev := func() int64 {
		if rng.IntN(2) == 0 {
			return 0
		}
		return rng.Int64N(twin.store.Rev()+3) - 1
	}
	rangeReq := func() *pb.RangeRequest {
		k := key()
		return &pb.RangeRequest{
			Key: k, RangeEnd: end(k), Limit: rng.Int64N(4), Revision: rev(),
			SortOrder:  pb.RangeRequest_SortOrder(rng.IntN(3)),
			SortTarget: pb.RangeRequest_SortTarget(rng.IntN(5)),
			KeysOnly:   rng.IntN(4) == 0, CountOnly: rng.IntN(6) == 0,
			Serializable:   rng.IntN(2) == 0,
			MinModRevision: rng.Int64N(3) * rng.Int64N(twin.store.Rev()+1),
			MaxModRevision: rng.Int64N(2) * rng.Int64N(twin.store.Rev()+1),
		}
	}
	putReq := func() *pb.PutRequest {
		return &pb.PutRequest{Key: key(), Value: []byte(fmt.Sprint(rng.IntN(1000))), PrevKv: rng.IntN(2) == 0}
	}
	delReq := func() *pb.DeleteRangeRequest {
		k := key()
		return &pb.DeleteRangeRequest{Key: k, RangeEnd: end(k), PrevKv: rng.IntN(2) == 0}
	}
	const ops = 400
	var matchedErrs int
	for i := range ops {
		var got, want fmt.Stringer
		var gerr, werr error
		var what string
		switch n := rng.IntN(10); {
		case n < 4:
			r := putReq()
			what = "put " + r.String()
			g, err := kv.Put(ctx, r)
			w, err2 := twin.Put(ctx, r)
			got, gerr, want, werr = g, err, w, err2
		case n < 7:
			r := rangeReq()
			what = "range " + r.String()
			g, err := kv.Range(ctx, r)
			w, err2 := twin.Range(ctx, r)
			got, gerr, want, werr = g, err, w, err2
		case n < 8:
			r := delReq()
			what = "delete " + r.String()
			g, err := kv.DeleteRange(ctx, r)
			w, err2 := twin.DeleteRange(ctx, r)
			got, gerr, want, werr = g, err, w, err2
		case n < 9:
			k := key()
			r := &pb.TxnRequest{
				Compare: []*pb.Compare{{Key: k, Target: pb.Compare_VERSION, Result: pb.Compare_CompareResult(rng.IntN(4)),
					TargetUnion: &pb.Compare_Version{Version: rng.Int64N(3)}}},
				Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: putReq()}}, {Request: &pb.RequestOp_RequestRange{RequestRange: rangeReq()}}},
				Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: delReq()}}},
			}
			what = "txn " + r.String()
			g, err := kv.Txn(ctx, r)
			w, err2 := twin.Txn(ctx, r)
			got, gerr, want, werr = g, err, w, err2
		default:
			r := &pb.CompactionRequest{Revision: rng.Int64N(twin.store.Rev() + 2), Physical: true}
			what = "compact " + r.String()
			g, err := kv.Compact(ctx, r)
			w, err2 := twin.Compact(ctx, r)
			got, gerr, want, werr = g, err, w, err2
		}
		if werr != nil || gerr != nil {
			wantErr := ToGRPCError(werr)
			if werr == nil || rpctypes.ErrorDesc(gerr) != rpctypes.ErrorDesc(wantErr) || status.Code(gerr) != status.Code(wantErr) {
				t.Fatalf("op %d %s: api error %v, store error %v (as gRPC %v)", i, what, gerr, werr, wantErr)
			}
			matchedErrs++
			continue
		}
		// The API fills the header; the twin leaves what the store set.
		clearHeader(got)
		clearHeader(want)
		if got.String() != want.String() {
			t.Fatalf("op %d %s:\napi   %s\nstore %s", i, what, got, want)
		}
	}
	t.Logf("%d ops, %d of them errors (compacted, future revision...), final revision %d", ops, matchedErrs, twin.store.Rev())
	if matchedErrs == 0 || matchedErrs > ops/2 {
		t.Fatalf("%d errors in %d ops: the generator no longer tests both paths", matchedErrs, ops)
	}
	if env.node.store.Rev() != twin.store.Rev() || env.node.store.CompactRev() != twin.store.CompactRev() {
		t.Fatalf("stores diverged: rev %d/%d compact %d/%d", env.node.store.Rev(), twin.store.Rev(), env.node.store.CompactRev(), twin.store.CompactRev())
	}
}

// clearHeader keeps only the header's revision, the field the store sets.
func clearHeader(m fmt.Stringer) {
	h := m.(interface{ GetHeader() *pb.ResponseHeader }).GetHeader()
	if h != nil {
		*h = pb.ResponseHeader{Revision: h.Revision}
	}
}
