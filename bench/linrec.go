package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/internal/clock"
	"etcdlab/internal/lincheck"
	"etcdlab/results"
)

// Defaults of LinCheck.
const (
	DefaultLinShare   = 0.05
	DefaultLinMaxOps  = 20_000
	DefaultLinTimeout = 30 * time.Second
)

// LinCheck configures the linearizability check of a run: the single-key
// operations on a sample of the key space are recorded (preload, warm-up
// and measured phase, plus one final linearizable read of every sampled
// key after the clients stop, so an acknowledged write that was lost shows)
// and checked with porcupine after the run. The sample keeps the check
// bounded: porcupine is exponential in the worst case.
type LinCheck struct {
	// Share is the share of the key space sampled (0..1], chosen by a
	// seeded hash of the key, so inserted keys are sampled too, and every
	// op on a sampled key is recorded. Default 0.05 on the cluster layer;
	// negative switches the check off (it is always off on the engine and
	// mvcc layers, which have no replication to check).
	Share float64
	// MaxOps caps the recorded history; calls past it are not recorded
	// (see lincheck.History). Default 20000.
	MaxOps int
	// Timeout bounds porcupine's search; when it runs out the verdict is
	// "unknown". Default 30s.
	Timeout time.Duration
}

// kvWrapper is the capability of targets whose ops go through a KV, so
// that the runner can record them for the linearizability check.
type kvWrapper interface{ wrapKV(func(KV) KV) }

// histKV records the ops on sampled keys into a lincheck.History. Values
// are recorded as digests (the register model needs equality only, and
// "" must mean absent).
type histKV struct {
	kv        KV
	h         *lincheck.History
	threshold uint64 // a key is sampled when its salted hash is below it
	salt      uint64
	share     float64

	mu      sync.Mutex
	keys    map[string]bool
	tainted string
	// leased are keys written with a lease: its expiry deletes them
	// without a recorded op, so they leave the sample (the k8s driver's
	// events).
	leased map[string]bool
}

func newHistKV(kv KV, h *lincheck.History, share float64, seed int64) *histKV {
	th := uint64(math.MaxUint64)
	if share < 1 {
		th = uint64(share * float64(math.MaxUint64))
	}
	return &histKV{kv: kv, h: h, threshold: th, salt: uint64(seed)*0x9e3779b97f4a7c15 + 1, share: share, keys: map[string]bool{}, leased: map[string]bool{}}
}

func (k *histKV) sampled(key []byte) bool {
	h := fnv.New64a()
	var s [8]byte
	for i := range s {
		s[i] = byte(k.salt >> (8 * i))
	}
	h.Write(s[:])
	h.Write(key)
	if mix64(h.Sum64()) >= k.threshold {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.leased[string(key)] {
		return false
	}
	k.keys[string(key)] = true
	return true
}

// unsample takes a key written with a lease out of the sample (see
// leased): the ops recorded on it so far stay in the history, consistent
// among themselves, and no final read is made.
func (k *histKV) unsample(key []byte) {
	k.mu.Lock()
	k.leased[string(key)] = true
	delete(k.keys, string(key))
	k.mu.Unlock()
}

// mix64 is splitmix64's finalizer. FNV-1a alone leaves its high bits
// nearly equal for keys that differ only in their last bytes (user...0001,
// user...0002), so comparing them with a threshold would sample all such
// keys or none.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func (k *histKV) taint(why string) {
	k.mu.Lock()
	if k.tainted == "" {
		k.tainted = why
	}
	k.mu.Unlock()
}

func digest(v []byte) string {
	h := fnv.New64a()
	h.Write(v)
	return "v" + strconv.FormatUint(h.Sum64(), 36)
}

// notApplied reports whether a write's error proves it never took effect:
// no leader or not the leader (never proposed; the cluster's client retries
// those and returns one only when no attempt was proposed), too many
// requests, or the quota's NOSPACE (refused before or at apply).
func notApplied(err error) bool {
	switch errKind(err) {
	case "no-leader", "not-leader", "too-many-requests", "nospace":
		return true
	}
	return false
}

func (k *histKV) finishWrite(in lincheck.Input, call int64, out lincheck.Output, err error) {
	switch {
	case err == nil:
		k.h.Add(0, in, call, out, "")
	case notApplied(err):
		k.h.Drop(in, errKind(err))
	default:
		k.h.AddUnknown(0, in, call, errKind(err), errKind(err))
	}
}

func (k *histKV) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if !k.sampled(r.Key) {
		return k.kv.Put(ctx, r)
	}
	if r.Lease != 0 {
		k.unsample(r.Key)
		return k.kv.Put(ctx, r)
	}
	call, ok := k.h.Begin()
	resp, err := k.kv.Put(ctx, r)
	if ok {
		k.finishWrite(lincheck.Input{Kind: lincheck.Put, Key: string(r.Key), Value: digest(r.Value)}, call, lincheck.Output{}, err)
	}
	return resp, err
}

func (k *histKV) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	// Serializable reads may be stale by design; ranges and reads at a
	// revision are not register reads.
	if len(r.RangeEnd) > 0 || r.Serializable || r.Revision != 0 || r.CountOnly || r.KeysOnly || !k.sampled(r.Key) {
		return k.kv.Range(ctx, r)
	}
	call, ok := k.h.Begin()
	resp, err := k.kv.Range(ctx, r)
	if ok {
		in := lincheck.Input{Kind: lincheck.Get, Key: string(r.Key)}
		if err != nil {
			k.h.Drop(in, errKind(err))
		} else {
			v := ""
			if len(resp.Kvs) > 0 {
				v = digest(resp.Kvs[0].Value)
			}
			k.h.Add(0, in, call, lincheck.Output{Value: v}, "")
		}
	}
	return resp, err
}

func (k *histKV) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if len(r.RangeEnd) > 0 {
		// A multi-key delete could remove sampled keys unrecorded.
		k.taint("a multi-key delete ran (not a single-key register operation)")
		return k.kv.DeleteRange(ctx, r)
	}
	if !k.sampled(r.Key) {
		return k.kv.DeleteRange(ctx, r)
	}
	call, ok := k.h.Begin()
	resp, err := k.kv.DeleteRange(ctx, r)
	if ok {
		var out lincheck.Output
		if err == nil {
			out.Deleted = resp.Deleted
		}
		k.finishWrite(lincheck.Input{Kind: lincheck.Delete, Key: string(r.Key)}, call, out, err)
	}
	return resp, err
}

// Txn records the compare-and-swap shapes of DoKV and of the k8s driver
// (one compare on the key, a put or a single-key delete of it on success,
// a read of it on failure): a txn that succeeded is the write at its
// linearization point, one that failed the read. Other shapes that write a
// sampled key cannot be recorded: they mark the history as unusable. A
// put with a lease takes its key out of the sample (see leased).
func (k *histKV) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if puts := putOnly(r); puts != nil {
		return k.putsTxn(ctx, r, puts)
	}
	var key []byte
	var del bool
	if len(r.Compare) == 1 && len(r.Success) == 1 && len(r.Failure) <= 1 {
		key = r.Compare[0].Key
		p, d := r.Success[0].GetRequestPut(), r.Success[0].GetRequestDeleteRange()
		switch {
		case len(r.Compare[0].RangeEnd) > 0:
			key = nil
		case p != nil && string(p.Key) == string(key):
			if p.Lease != 0 && k.sampled(key) {
				k.unsample(key)
				return k.kv.Txn(ctx, r)
			}
		case d != nil && string(d.Key) == string(key) && len(d.RangeEnd) == 0:
			del = true
		default:
			key = nil
		}
		if len(r.Failure) == 1 {
			if g := r.Failure[0].GetRequestRange(); g == nil || string(g.Key) != string(key) || len(g.RangeEnd) > 0 {
				key = nil
			}
		}
	}
	if key == nil {
		for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
			for _, op := range ops {
				if p := op.GetRequestPut(); p != nil && k.sampled(p.Key) {
					k.taint("a txn of an unrecorded shape wrote a sampled key")
				}
				if d := op.GetRequestDeleteRange(); d != nil && (len(d.RangeEnd) > 0 || k.sampled(d.Key)) {
					k.taint("a txn of an unrecorded shape deleted keys")
				}
			}
		}
		return k.kv.Txn(ctx, r)
	}
	if !k.sampled(key) {
		return k.kv.Txn(ctx, r)
	}
	call, ok := k.h.Begin()
	resp, err := k.kv.Txn(ctx, r)
	if !ok {
		return resp, err
	}
	var put lincheck.Input
	var out lincheck.Output
	if del {
		put = lincheck.Input{Kind: lincheck.Delete, Key: string(key)}
		if err == nil && resp.Succeeded && len(resp.Responses) == 1 {
			if dr := resp.Responses[0].GetResponseDeleteRange(); dr != nil {
				out.Deleted = dr.Deleted
			}
		}
	} else {
		put = lincheck.Input{Kind: lincheck.Put, Key: string(key), Value: digest(r.Success[0].GetRequestPut().Value)}
	}
	switch {
	case err != nil:
		k.finishWrite(put, call, lincheck.Output{}, err)
	case resp.Succeeded:
		k.h.Add(0, put, call, out, "cas")
	case len(resp.Responses) == 1 && resp.Responses[0].GetResponseRange() != nil:
		v := ""
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			v = digest(kvs[0].Value)
		}
		k.h.Add(0, lincheck.Input{Kind: lincheck.Get, Key: string(key)}, call, lincheck.Output{Value: v}, "cas failed")
	}
	return resp, err
}

// putOnly returns the puts of a txn that has no compare and only puts in
// its success branch (the batched preload's shape), or nil.
func putOnly(r *pb.TxnRequest) []*pb.PutRequest {
	// One put is a put-only txn too: a preload loader's last batch may
	// hold a single key.
	if len(r.Compare) > 0 || len(r.Failure) > 0 || len(r.Success) == 0 {
		return nil
	}
	puts := make([]*pb.PutRequest, len(r.Success))
	for i, op := range r.Success {
		if puts[i] = op.GetRequestPut(); puts[i] == nil {
			return nil
		}
	}
	return puts
}

// putsTxn records a put-only txn: it always succeeds, so each sampled put
// is a put of its key that took effect between the txn's call and return
// (porcupine checks each key on its own; the txn's atomicity across keys is
// not a register's property).
func (k *histKV) putsTxn(ctx context.Context, r *pb.TxnRequest, puts []*pb.PutRequest) (*pb.TxnResponse, error) {
	var sampled []*pb.PutRequest
	for _, p := range puts {
		if k.sampled(p.Key) {
			sampled = append(sampled, p)
		}
	}
	if len(sampled) == 0 {
		return k.kv.Txn(ctx, r)
	}
	call, ok := k.h.Begin()
	resp, err := k.kv.Txn(ctx, r)
	if ok {
		for _, p := range sampled {
			k.finishWrite(lincheck.Input{Kind: lincheck.Put, Key: string(p.Key), Value: digest(p.Value)}, call, lincheck.Output{}, err)
		}
	}
	return resp, err
}

// linRun is a run's linearizability recording.
type linRun struct {
	cfg LinCheck
	h   *lincheck.History
	kv  *histKV
	viz porcupine.LinearizationInfo
}

// startLin wraps t's KV when the check is on and t supports it.
func startLin(cfg Config, t Target) *linRun {
	if cfg.LinCheck.Share <= 0 {
		return nil
	}
	w, ok := t.(kvWrapper)
	if !ok {
		return nil
	}
	share := cfg.LinCheck.Share
	l := &linRun{cfg: cfg.LinCheck, h: lincheck.NewHistory(cfg.LinCheck.MaxOps)}
	w.wrapKV(func(kv KV) KV {
		l.kv = newHistKV(kv, l.h, share, cfg.Seed)
		return l.kv
	})
	return l
}

// finalReadWait bounds each final read of a sampled key.
const finalReadWait = 10 * time.Second

// check reads every sampled key once more (linearizably, recorded) and
// runs porcupine over the history.
func (l *linRun) check(ctx context.Context, clk clock.Clock) *results.Linearizability {
	l.kv.mu.Lock()
	keys := make([]string, 0, len(l.kv.keys))
	for k := range l.kv.keys {
		keys = append(keys, k)
	}
	tainted := l.kv.tainted
	l.kv.mu.Unlock()
	sort.Strings(keys)
	for _, k := range keys {
		rctx, cancel := context.WithTimeout(ctx, finalReadWait)
		_, _ = l.kv.Range(rctx, &pb.RangeRequest{Key: []byte(k)})
		cancel()
	}
	st := l.h.Stats()
	res := &results.Linearizability{KeyShare: l.kv.share, Keys: len(keys), Reads: st.Reads, Writes: st.Writes, Unknown: st.Unknown,
		Truncated: l.h.Truncated(), TimeoutS: l.cfg.Timeout.Seconds()}
	ops := l.h.Operations()
	res.Ops = len(ops)
	if tainted != "" {
		res.Verdict, res.Error = lincheck.VerdictUnknown, "not checked: "+tainted
		return res
	}
	start := clk.Now()
	res.Verdict, l.viz = lincheck.Check(ops, l.cfg.Timeout)
	res.CheckS = clk.Since(start).Seconds()
	if res.Verdict == lincheck.VerdictUnknown {
		res.Error = fmt.Sprintf("porcupine did not finish within %v", l.cfg.Timeout)
	}
	return res
}
