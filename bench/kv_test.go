package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"etcdlab/workloads"
)

// logKV records the requests DoKV makes; Range answers mod_revision 7.
type logKV struct{ calls []string }

func (l *logKV) Put(_ context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	l.calls = append(l.calls, fmt.Sprintf("put %s=%s", r.Key, r.Value))
	return &pb.PutResponse{}, nil
}

func (l *logKV) Range(_ context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	l.calls = append(l.calls, fmt.Sprintf("range %s-%q limit=%d serializable=%t", r.Key, r.RangeEnd, r.Limit, r.Serializable))
	return &pb.RangeResponse{Kvs: []*mvccpb.KeyValue{{Key: r.Key, ModRevision: 7}}}, nil
}

func (l *logKV) DeleteRange(_ context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	l.calls = append(l.calls, fmt.Sprintf("delete %s", r.Key))
	return &pb.DeleteRangeResponse{}, nil
}

func (l *logKV) Txn(_ context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	c := r.Compare[0]
	l.calls = append(l.calls, fmt.Sprintf("txn if mod(%s)==%d then put %s=%s else range %s",
		c.Key, c.GetModRevision(), r.Success[0].GetRequestPut().Key, r.Success[0].GetRequestPut().Value,
		r.Failure[0].GetRequestRange().Key))
	return &pb.TxnResponse{}, nil
}

func TestDoKVRequests(t *testing.T) {
	k, v, end := []byte("k"), []byte("v"), []byte("z")
	for _, tc := range []struct {
		op   workloads.Op
		want string
	}{
		{workloads.Op{Kind: workloads.OpGet, Key: k, Serializable: true}, `range k-"" limit=0 serializable=true`},
		{workloads.Op{Kind: workloads.OpRange, Key: k, End: end, Limit: 5}, `range k-"z" limit=5 serializable=false`},
		{workloads.Op{Kind: workloads.OpPut, Key: k, Value: v}, "put k=v"},
		{workloads.Op{Kind: workloads.OpInsert, Key: k, Value: v}, "put k=v"},
		{workloads.Op{Kind: workloads.OpDelete, Key: k}, "delete k"},
		{workloads.Op{Kind: workloads.OpRMW, Key: k, Value: v}, `range k-"" limit=0 serializable=false; put k=v`},
		{workloads.Op{Kind: workloads.OpTxnCAS, Key: k, Value: v}, `range k-"" limit=0 serializable=false; txn if mod(k)==7 then put k=v else range k`},
	} {
		t.Run(tc.op.Kind.String(), func(t *testing.T) {
			var l logKV
			if err := DoKV(context.Background(), &l, &tc.op); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(l.calls, "; "); got != tc.want {
				t.Fatalf("requests:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	if err := DoKV(context.Background(), &logKV{}, &workloads.Op{}); err == nil {
		t.Fatal("an invalid op kind was accepted")
	}
}
