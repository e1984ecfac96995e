package bench

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/workloads"
)

// TestPutOpSize: the size putOpSize adds up is the TxnRequest's encoded
// size, which is what the node's request size limit compares.
func TestPutOpSize(t *testing.T) {
	for _, sizes := range [][2]int{{1, 0}, {16, 100}, {40, 16 << 10}, {127, 127}, {128, 128}, {200, 70 << 10}, {3, 1 << 20}} {
		kvs := []loadKV{{key: make([]byte, sizes[0]), value: make([]byte, sizes[1])}, {key: make([]byte, sizes[0]+1), value: make([]byte, sizes[1])}}
		var rec txnRecorder
		if err := loadTxn(context.Background(), &rec, kvs); err != nil {
			t.Fatal(err)
		}
		want := putOpSize(sizes[0], sizes[1]) + putOpSize(sizes[0]+1, sizes[1])
		if got := rec.txns[0].Size(); got != want {
			t.Errorf("key %d value %d: txn encodes to %d bytes, putOpSize sums to %d", sizes[0], sizes[1], got, want)
		}
	}
}

// txnRecorder is a KV that keeps the txns it is given.
type txnRecorder struct {
	mu   sync.Mutex
	txns []*pb.TxnRequest
}

func (r *txnRecorder) Put(context.Context, *pb.PutRequest) (*pb.PutResponse, error) {
	return nil, errors.New("txnRecorder: put")
}

func (r *txnRecorder) Range(context.Context, *pb.RangeRequest) (*pb.RangeResponse, error) {
	return nil, errors.New("txnRecorder: range")
}

func (r *txnRecorder) DeleteRange(context.Context, *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	return nil, errors.New("txnRecorder: delete")
}

func (r *txnRecorder) Txn(_ context.Context, t *pb.TxnRequest) (*pb.TxnResponse, error) {
	r.mu.Lock()
	r.txns = append(r.txns, t)
	r.mu.Unlock()
	return &pb.TxnResponse{Succeeded: true}, nil
}

// batchTarget takes the preload in txns on a txnRecorder.
type batchTarget struct {
	fakeTarget
	rec txnRecorder
}

func (b *batchTarget) loadBatch(ctx context.Context, kvs []loadKV) error {
	return loadTxn(ctx, &b.rec, kvs)
}

// TestPreloadBatches: every preload key is written exactly once, in txns
// within the op and byte bounds (values of 1..12 KiB, so both bounds cut
// batches), with no compare; the figures count keys, bytes and txns.
func TestPreloadBatches(t *testing.T) {
	spec := smallSpec(t, "ycsb-a", 3000)
	spec.ValueSize = workloads.Between(1, 12<<10)
	spec.EnsureDefaults()
	ks, err := workloads.NewKeySpace(spec, seed(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Preload: PreloadOptions{Loaders: 7, TxnOps: 50, TxnBytes: 300 << 10}}
	cfg.EnsureDefaults()
	bt := &batchTarget{}
	f, err := preload(context.Background(), cfg, ks, bt)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var bytes int64
	full := 0
	for _, r := range bt.rec.txns {
		if len(r.Compare) != 0 || len(r.Failure) != 0 || len(r.Success) > 50 {
			t.Fatalf("txn with %d compares, %d failure ops, %d puts", len(r.Compare), len(r.Failure), len(r.Success))
		}
		if r.Size() > 300<<10 && len(r.Success) > 1 {
			t.Fatalf("txn of %d puts is %d bytes, above the bound", len(r.Success), r.Size())
		}
		if len(r.Success) == 50 {
			full++
		}
		for _, op := range r.Success {
			p := op.GetRequestPut()
			if seen[string(p.Key)] {
				t.Fatalf("key %q written twice", p.Key)
			}
			seen[string(p.Key)] = true
			bytes += int64(len(p.Key) + len(p.Value))
		}
	}
	if len(seen) != 3000 || f.keys != 3000 || f.bytes != bytes || f.batches != int64(len(bt.rec.txns)) {
		t.Fatalf("%d keys written; figures: %d keys, %d bytes (written %d), %d batches (txns %d)", len(seen), f.keys, f.bytes, bytes, f.batches, len(bt.rec.txns))
	}
	if full == len(bt.rec.txns) || full == 0 {
		t.Fatalf("%d of %d txns full: the byte bound never or always cut", full, len(bt.rec.txns))
	}
	if bt.calls.Load() != 0 {
		t.Fatalf("%d ops through Do in a batched preload", bt.calls.Load())
	}

	// TxnOps 1 is the unbatched preload: one op per key through Do.
	cfg.Preload = PreloadOptions{TxnOps: 1}
	cfg.EnsureDefaults()
	bt = &batchTarget{}
	if f, err = preload(context.Background(), cfg, ks, bt); err != nil {
		t.Fatal(err)
	}
	if bt.calls.Load() != 3000 || len(bt.rec.txns) != 0 || f.batches != 3000 || cfg.Preload.Loaders != unbatchedPreloadLoaders {
		t.Fatalf("unbatched: %d ops through Do, %d txns, %d batches, %d loaders", bt.calls.Load(), len(bt.rec.txns), f.batches, cfg.Preload.Loaders)
	}
}

// TestPreloadThroughLayers: the batched preload lands every key on each
// layer (read back through the layer) and is recorded in the summary.
func TestPreloadThroughLayers(t *testing.T) {
	for _, layer := range Layers() {
		t.Run(layer, func(t *testing.T) {
			spec := smallSpec(t, "ycsb-c", 1000)
			spec.ValueSize = workloads.Fixed(100)
			cfg := Config{Layer: layer, Node: cluster.NodeOptions{Engine: "memory"}, Workload: spec, Seed: seed(t), Clients: 2, Ops: 2000,
				DataDir: t.TempDir(), FsyncProbe: -1}
			o, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := o.Result.Summary
			if s.PreloadKeys != 1000 || s.PreloadBytes != 1000*int64(spec.MeanObjectBytes()) || s.PreloadTxns >= 1000 || s.PreloadMBs <= 0 {
				t.Fatalf("preload: keys %d bytes %d txns %d MB/s %v", s.PreloadKeys, s.PreloadBytes, s.PreloadTxns, s.PreloadMBs)
			}
			// Gets of preloaded keys find them: a get of a missing key
			// is not an error, so count what the layer holds instead.
			if layer != LayerEngine && s.Errors != 0 {
				t.Fatalf("errors %v", s.ErrorsByMessage)
			}
			// The preload's put-only txns are recorded for the check.
			if l := o.Result.Linearizability; layer == LayerCluster && (l == nil || l.Verdict != "ok" || l.Writes == 0) {
				t.Fatalf("linearizability %+v, want ok with the preload's puts", l)
			}
			// The memory engine has no steady-state criterion; the
			// verdict is there and says so.
			if ss := o.Result.SteadyState; ss == nil || ss.Verdict != "unknown" {
				t.Fatalf("steady state %+v", ss)
			}
			if c := o.Result.Config; c.PreloadTxnOps != DefaultPreloadTxnOps || c.PreloadLoaders != DefaultPreloadLoaders {
				t.Fatalf("config records preload txn ops %d loaders %d", c.PreloadTxnOps, c.PreloadLoaders)
			}
		})
	}
}

// TestPreloadNoSpace: a preload above the cluster's quota fails with
// ErrPreloadNoSpace, and the message says which flags fix it.
func TestPreloadNoSpace(t *testing.T) {
	spec := smallSpec(t, "ycsb-a", 2000)
	spec.ValueSize = workloads.Fixed(4096)
	cfg := Config{Layer: LayerCluster, Node: cluster.NodeOptions{Engine: "memory", QuotaBytes: 1 << 20}, Workload: spec, Seed: seed(t),
		Clients: 1, Ops: 10, DataDir: t.TempDir(), FsyncProbe: -1}
	// The quota compares the backend size as of the last commit (etcd's
	// too): commit often so the preload meets it.
	cfg.Node.Backend.BatchInterval = time.Millisecond
	_, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrPreloadNoSpace) {
		t.Fatalf("err %v, want ErrPreloadNoSpace", err)
	}
	for _, want := range []string{"--quota-backend-bytes", "--no-quota"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %s", err, want)
		}
	}
}

// TestPreloadOptionsValidate reports every bad bound at once.
func TestPreloadOptionsValidate(t *testing.T) {
	o := PreloadOptions{Loaders: -1, TxnOps: 129, TxnBytes: 2 << 20}
	errs := o.Validate(cluster.DefaultMaxRequestBytes)
	if len(errs) != 3 {
		t.Fatalf("%d errors, want 3: %v", len(errs), errs)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrBadConfig) {
			t.Fatalf("%v does not wrap ErrBadConfig", err)
		}
	}
	var d PreloadOptions
	d.EnsureDefaults()
	if errs := d.Validate(cluster.DefaultMaxRequestBytes); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
}
