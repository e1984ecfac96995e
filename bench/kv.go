package bench

import (
	"context"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/workloads"
)

// KV is the etcd request API the mvcc and cluster layers are driven
// through, defined here where it is consumed (harness.Client, cluster.Node and the
// v3rpc.KV of etcd's services are wider), so both map ops onto requests the
// same way (DoKV) and differ only below it.
type KV interface {
	Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error)
	Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error)
	DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error)
	Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error)
}

// DoKV runs op as etcd requests on kv: get and range are Range requests
// (range with the op's limit, serializable when the op says so), put and
// insert a Put, delete a DeleteRange of one key, rmw a Range then a Put
// (two requests, as YCSB's client does), and txn-cas a Range that learns
// the key's mod_revision followed by a Txn that puts the value if
// mod_revision is unchanged and reads the key otherwise (Kubernetes'
// GuaranteedUpdate against a fresh read). A compare that fails is not an
// error: the op is one txn either way.
func DoKV(ctx context.Context, kv KV, op *workloads.Op) error {
	switch op.Kind {
	case workloads.OpGet:
		_, err := kv.Range(ctx, &pb.RangeRequest{Key: op.Key, Serializable: op.Serializable})
		return err
	case workloads.OpRange:
		_, err := kv.Range(ctx, &pb.RangeRequest{Key: op.Key, RangeEnd: op.End, Limit: op.Limit, Serializable: op.Serializable})
		return err
	case workloads.OpPut, workloads.OpInsert:
		_, err := kv.Put(ctx, &pb.PutRequest{Key: op.Key, Value: op.Value})
		return err
	case workloads.OpDelete:
		_, err := kv.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: op.Key})
		return err
	case workloads.OpRMW:
		if _, err := kv.Range(ctx, &pb.RangeRequest{Key: op.Key, Serializable: op.Serializable}); err != nil {
			return err
		}
		_, err := kv.Put(ctx, &pb.PutRequest{Key: op.Key, Value: op.Value})
		return err
	case workloads.OpTxnCAS:
		rr, err := kv.Range(ctx, &pb.RangeRequest{Key: op.Key, Serializable: op.Serializable})
		if err != nil {
			return err
		}
		var modRev int64 // 0 matches an absent key, as in etcd
		if len(rr.Kvs) > 0 {
			modRev = rr.Kvs[0].ModRevision
		}
		_, err = kv.Txn(ctx, &pb.TxnRequest{
			Compare: []*pb.Compare{{
				Target:      pb.Compare_MOD,
				Result:      pb.Compare_EQUAL,
				Key:         op.Key,
				TargetUnion: &pb.Compare_ModRevision{ModRevision: modRev},
			}},
			Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: op.Key, Value: op.Value}}}},
			Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: op.Key}}}},
		})
		return err
	}
	return fmt.Errorf("bench: unsupported op kind %v", op.Kind)
}
