package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/mvcc"
	"etcdlab/results"
	"etcdlab/workloads"
)

// Preload defaults (PreloadOptions.EnsureDefaults).
const (
	// DefaultPreloadTxnOps is etcd's --max-txn-ops default: the most puts
	// one preload txn may carry through etcd's API.
	DefaultPreloadTxnOps = mvcc.DefaultMaxTxnOps
	// DefaultPreloadTxnBytes bounds one preload txn's request size. etcd
	// refuses requests above --max-request-bytes (1.5 MiB); a twelfth of it
	// keeps each raft entry small, since a node holds the last
	// --experimental-snapshot-catchup-entries (5000) entries in memory:
	// 5000 entries of 1.5 MiB would be 7.5 GB, of 128 KiB 640 MB (measured
	// on 2 GB of 16 KiB values through a 1-node cluster on bbolt: the same
	// 97 MB/s at 128 KiB as at 384 KiB, peak RSS 2.2 GB instead of 4.2 GB).
	// With values of 1 KiB, DefaultPreloadTxnOps bounds the txn first.
	DefaultPreloadTxnBytes = 128 << 10
	// DefaultPreloadLoaders is how many goroutines write the preload when
	// it is batched: through raft a write costs a round trip and a WAL
	// fsync that only concurrency amortises (many entries per fsync), and
	// with a batch of up to DefaultPreloadTxnOps puts per request a few
	// dozen requests in flight keep a 1-node cluster busy.
	DefaultPreloadLoaders = 32
	// unbatchedPreloadLoaders is the loaders of an unbatched preload
	// (TxnOps 1, one Put per key), as before batching.
	unbatchedPreloadLoaders = 128
	// requestSlack is what a preload txn leaves of the node's request size
	// limit for the raft entry's own header (the InternalRaftRequest
	// wrapper and its request id).
	requestSlack = 1 << 10
)

// ErrPreloadNoSpace marks a preload the backend quota refused: etcd's
// NOSPACE alarm. etcd's default quota is 2 GiB, so a preload of gigabytes
// needs --quota-backend-bytes raised (as a run of etcd at that size must) or
// the quota switched off.
var ErrPreloadNoSpace = errors.New("bench: the preload hit the backend quota (NOSPACE)")

// PreloadOptions says how the workload's preload is written. The preload
// goes through the same layer and pipeline as the measured ops (the engine
// layer's batching layer; the MVCC store's request validation; the
// cluster's raft, WAL and apply), in batches: on the mvcc and cluster layers
// one Txn request per batch with the puts in its success branch and no
// compare (a client's bulk load within etcd's limits), on the engine layer
// one write transaction of the batching layer per batch.
type PreloadOptions struct {
	// Loaders is the number of concurrent loaders, each writing a
	// contiguous part of the ids. Default DefaultPreloadLoaders, or 128 when
	// TxnOps is 1.
	Loaders int
	// TxnOps is the most puts per batch, 1..DefaultPreloadTxnOps (etcd's
	// --max-txn-ops). 1 writes one Put request per key, as the preload
	// did before batching. Default DefaultPreloadTxnOps.
	TxnOps int
	// TxnBytes bounds a batch's request size in bytes (key, value and
	// protobuf framing); it must stay below the node's MaxRequestBytes. An
	// object larger than it goes alone. Default DefaultPreloadTxnBytes.
	TxnBytes int
}

// EnsureDefaults fills unset fields with their documented defaults.
func (o *PreloadOptions) EnsureDefaults() {
	if o.TxnOps == 0 {
		o.TxnOps = DefaultPreloadTxnOps
	}
	if o.TxnBytes == 0 {
		o.TxnBytes = DefaultPreloadTxnBytes
	}
	if o.Loaders == 0 {
		o.Loaders = DefaultPreloadLoaders
		if o.TxnOps == 1 {
			o.Loaders = unbatchedPreloadLoaders
		}
	}
}

// Validate reports every problem of an EnsureDefaults'd PreloadOptions;
// maxRequest is the node's request size limit.
func (o *PreloadOptions) Validate(maxRequest int) []error {
	var errs []error
	if o.Loaders < 1 || o.Loaders > MaxClients {
		errs = append(errs, fmt.Errorf("%w: preload loaders %d: accepted 1..%d", ErrBadConfig, o.Loaders, MaxClients))
	}
	if o.TxnOps < 1 || o.TxnOps > DefaultPreloadTxnOps {
		errs = append(errs, fmt.Errorf("%w: preload txn ops %d: accepted 1..%d (etcd's --max-txn-ops)", ErrBadConfig, o.TxnOps, DefaultPreloadTxnOps))
	}
	if o.TxnBytes < 1 || o.TxnBytes > maxRequest-requestSlack {
		errs = append(errs, fmt.Errorf("%w: preload txn bytes %d: accepted 1..%d (the request size limit %d less %d for the entry's header)",
			ErrBadConfig, o.TxnBytes, maxRequest-requestSlack, maxRequest, requestSlack))
	}
	return errs
}

// loadKV is one put of a preload batch; key is owned by the batch, value is
// a read-only window of the workload's value block.
type loadKV struct {
	id         uint64
	key, value []byte
}

// batchLoader is the capability of a Target that takes the preload in
// batches: loadBatch writes kvs atomically, as one request or one write
// transaction.
type batchLoader interface {
	loadBatch(ctx context.Context, kvs []loadKV) error
}

// loadTxn writes kvs as one Txn request on kv: the puts in the success
// branch, no compare (so it always succeeds), as a client's bulk load does
// within etcd's --max-txn-ops and --max-request-bytes.
func loadTxn(ctx context.Context, kv KV, kvs []loadKV) error {
	ops := make([]pb.RequestOp, len(kvs))
	puts := make([]pb.PutRequest, len(kvs))
	r := &pb.TxnRequest{Success: make([]*pb.RequestOp, len(kvs))}
	for i, e := range kvs {
		puts[i] = pb.PutRequest{Key: e.key, Value: e.value}
		ops[i].Request = &pb.RequestOp_RequestPut{RequestPut: &puts[i]}
		r.Success[i] = &ops[i]
	}
	_, err := kv.Txn(ctx, r)
	return err
}

// varintLen is the length of v as a protobuf varint.
func varintLen(v int) int { return (bits.Len64(uint64(v)|1) + 6) / 7 }

// putOpSize is the bytes one put adds to a TxnRequest's encoding: the
// success field's tag and length around a RequestOp, whose request_put
// field's tag and length wrap the PutRequest's key and value fields.
func putOpSize(key, value int) int {
	put := 1 + varintLen(key) + key
	if value > 0 {
		put += 1 + varintLen(value) + value
	}
	op := 1 + varintLen(put) + put
	return 1 + varintLen(op) + op
}

// preloadFigures is what a preload did.
type preloadFigures struct {
	keys, bytes, batches int64
	took                 time.Duration
}

// preload writes the workload's preload through t: o.Loaders loaders, each
// owning a contiguous part of the ids, in batches when t takes them and
// o.TxnOps > 1, else one op per key through t.Do. A NOSPACE error is
// wrapped in ErrPreloadNoSpace with what to do about it.
func preload(ctx context.Context, cfg Config, ks *workloads.KeySpace, t Target) (preloadFigures, error) {
	o := cfg.Preload
	o.EnsureDefaults()
	start := cfg.Clock.Now()
	n := ks.Preload()
	if n == 0 {
		return preloadFigures{}, nil
	}
	bl, batched := t.(batchLoader)
	batched = batched && o.TxnOps > 1
	parts := int(min(int64(o.Loaders), max(n, 1)))
	var keys, bytes, batches atomic.Int64
	errs := make([]error, parts)
	stopProgress := preloadProgress(cfg, n, &keys, &bytes)
	var wg sync.WaitGroup
	for p := range parts {
		l, err := ks.Loader(p, parts)
		if err != nil {
			stopProgress()
			return preloadFigures{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if batched {
				errs[p] = loadBatches(ctx, o, l, bl, &keys, &bytes, &batches)
			} else {
				errs[p] = loadOps(ctx, l, t, &keys, &bytes, &batches)
			}
		}()
	}
	wg.Wait()
	stopProgress()
	f := preloadFigures{keys: keys.Load(), bytes: bytes.Load(), batches: batches.Load(), took: cfg.Clock.Since(start)}
	err := errors.Join(errs...)
	if err != nil && errKind(err) == "nospace" {
		return f, fmt.Errorf("%w after %d of %d keys (%.0f MB logical): the quota is %d bytes (--quota-backend-bytes; etcd's default 2 GiB): raise it above the preload's size on disk, or give --no-quota: %w",
			ErrPreloadNoSpace, f.keys, n, float64(f.bytes)/1e6, cfg.Node.QuotaBytes, err)
	}
	return f, err
}

// loadOps writes l's share one op per key through t.Do.
func loadOps(ctx context.Context, l *workloads.Loader, t Target, keys, bytes, batches *atomic.Int64) error {
	var op workloads.Op
	for l.Next(&op) {
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		if err := t.Do(ctx, &op); err != nil {
			return fmt.Errorf("bench: preload of key id %d: %w", op.ID, err)
		}
		keys.Add(1)
		bytes.Add(int64(len(op.Key) + len(op.Value)))
		batches.Add(1)
	}
	return nil
}

// loadBatches writes l's share in batches of at most o.TxnOps puts and
// o.TxnBytes request bytes (an object larger than that goes alone).
func loadBatches(ctx context.Context, o PreloadOptions, l *workloads.Loader, bl batchLoader, keys, bytes, batches *atomic.Int64) error {
	var op workloads.Op
	var carry *loadKV // the put that did not fit the last batch
	for {
		kvs := make([]loadKV, 0, o.TxnOps)
		size, logical := 0, 0
		if carry != nil {
			kvs = append(kvs, *carry)
			size, logical = putOpSize(len(carry.key), len(carry.value)), len(carry.key)+len(carry.value)
			carry = nil
		}
		for len(kvs) < o.TxnOps && l.Next(&op) {
			e := loadKV{id: op.ID, key: append([]byte(nil), op.Key...), value: op.Value}
			s := putOpSize(len(e.key), len(e.value))
			if len(kvs) > 0 && size+s > o.TxnBytes {
				carry = &e
				break
			}
			kvs = append(kvs, e)
			size += s
			logical += len(e.key) + len(e.value)
		}
		if len(kvs) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		if err := bl.loadBatch(ctx, kvs); err != nil {
			return fmt.Errorf("bench: preload of %d keys from id %d: %w", len(kvs), kvs[0].id, err)
		}
		keys.Add(int64(len(kvs)))
		bytes.Add(int64(logical))
		batches.Add(1)
	}
}

// fillPreload records what the preload did in the summary.
func fillPreload(s *results.Summary, f preloadFigures) {
	s.PreloadKeys, s.PreloadBytes, s.PreloadTxns = f.keys, f.bytes, f.batches
	s.PreloadS = f.took.Seconds()
	if f.took > 0 {
		s.PreloadMBs = float64(f.bytes) / 1e6 / f.took.Seconds()
	}
}

// preloadProgressEvery is how often a long preload reports its progress.
const preloadProgressEvery = 5 * time.Second

// preloadProgress prints the preload's progress to cfg.Progress every
// preloadProgressEvery until the returned stop is called; a preload of
// gigabytes takes minutes.
func preloadProgress(cfg Config, total int64, keys, bytes *atomic.Int64) (stop func()) {
	if cfg.Progress == nil {
		return func() {}
	}
	clk := cfg.Clock
	start := clk.Now()
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tk := clk.NewTicker(preloadProgressEvery)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C():
				writePreloadProgress(cfg.Progress, keys.Load(), total, bytes.Load(), clk.Since(start))
			}
		}
	}()
	return func() {
		close(done)
		<-exited
		if s := clk.Since(start); s >= preloadProgressEvery {
			writePreloadProgress(cfg.Progress, keys.Load(), total, bytes.Load(), s)
			fmt.Fprintln(cfg.Progress)
		}
	}
}

func writePreloadProgress(w io.Writer, keys, total, bytes int64, took time.Duration) {
	fmt.Fprintf(w, "\rpreload %5.1fs  %d/%d keys  %.0f MB  %.1f MB/s   ", took.Seconds(), keys, total,
		float64(bytes)/1e6, float64(bytes)/1e6/max(took.Seconds(), 1e-9))
}
