package mvcc

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// The model test runs a seeded random op log against the store and against a
// deliberately naive oracle: a map from each key to the list of its versions,
// searched linearly. Every response must render identically; the store is
// closed and reopened in the middle; at the end every engine must agree on
// the hash.

type oVer struct {
	mod, create, ver int64
	value            []byte
	tomb             bool
}

type oracle struct {
	hist    map[string][]oVer
	rev     int64
	compact int64
}

func newOracle() *oracle { return &oracle{hist: map[string][]oVer{}, rev: 1, compact: -1} }

// get returns the live version of key at rev.
func (o *oracle) get(key string, rev int64) (oVer, bool) {
	var found *oVer
	for i, v := range o.hist[key] {
		if v.mod <= rev {
			found = &o.hist[key][i]
		}
	}
	if found == nil || found.tomb {
		return oVer{}, false
	}
	return *found, true
}

func inRange(k, key, end string, point bool) bool {
	if point {
		return k == key
	}
	if end == "\x00" {
		return k >= key
	}
	return k >= key && k < end
}

func (o *oracle) liveKeys(key, end []byte, rev int64) []string {
	point := len(end) == 0
	var ks []string
	for k := range o.hist {
		if !inRange(k, string(key), string(end), point) {
			continue
		}
		if _, ok := o.get(k, rev); ok {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

func (o *oracle) kv(k string, v oVer) *mvccpb.KeyValue {
	return &mvccpb.KeyValue{Key: []byte(k), Value: v.value, CreateRevision: v.create, ModRevision: v.mod, Version: v.ver}
}

// readRev is the revision a read inside the running txn sees.
func (o *oracle) readRev(changed bool) int64 {
	if changed {
		return o.rev + 1
	}
	return o.rev
}

func (o *oracle) rangeResp(r *pb.RangeRequest, readRev int64) (*pb.RangeResponse, error) {
	rev := r.Revision
	if rev > readRev {
		return nil, ErrFutureRev
	}
	if rev <= 0 {
		rev = readRev
	}
	if rev < o.compact {
		return nil, ErrCompacted
	}
	ks := o.liveKeys(r.Key, r.RangeEnd, rev)
	resp := &pb.RangeResponse{Header: &pb.ResponseHeader{Revision: readRev}, Count: int64(len(ks))}
	if r.CountOnly {
		return resp, nil
	}
	var kvs []*mvccpb.KeyValue
	for _, k := range ks {
		v, _ := o.get(k, rev)
		kv := o.kv(k, v)
		if (r.MinModRevision != 0 && kv.ModRevision < r.MinModRevision) ||
			(r.MaxModRevision != 0 && kv.ModRevision > r.MaxModRevision) ||
			(r.MinCreateRevision != 0 && kv.CreateRevision < r.MinCreateRevision) ||
			(r.MaxCreateRevision != 0 && kv.CreateRevision > r.MaxCreateRevision) {
			continue
		}
		kvs = append(kvs, kv)
	}
	// Sort by the target (ascending unless DESCEND), ties in key order:
	// an insertion sort, as plain as it gets.
	if r.SortOrder != pb.RangeRequest_NONE || r.SortTarget != pb.RangeRequest_KEY {
		before := func(a, b *mvccpb.KeyValue) bool {
			var c int
			switch r.SortTarget {
			case pb.RangeRequest_KEY:
				c = bytes.Compare(a.Key, b.Key)
			case pb.RangeRequest_VERSION:
				c = cmpInt(a.Version, b.Version)
			case pb.RangeRequest_CREATE:
				c = cmpInt(a.CreateRevision, b.CreateRevision)
			case pb.RangeRequest_MOD:
				c = cmpInt(a.ModRevision, b.ModRevision)
			case pb.RangeRequest_VALUE:
				c = bytes.Compare(a.Value, b.Value)
			}
			if r.SortOrder == pb.RangeRequest_DESCEND {
				return c > 0
			}
			return c < 0
		}
		for i := 1; i < len(kvs); i++ {
			for j := i; j > 0 && before(kvs[j], kvs[j-1]); j-- {
				kvs[j], kvs[j-1] = kvs[j-1], kvs[j]
			}
		}
	}
	if r.Limit > 0 && len(kvs) > int(r.Limit) {
		kvs = kvs[:r.Limit]
		resp.More = true
	}
	if r.KeysOnly { // after sorting: etcd sorts by value, then drops values
		for _, kv := range kvs {
			kv.Value = nil
		}
	}
	resp.Kvs = kvs
	return resp, nil
}

// write applies a put at o.rev+1 (the txn's revision).
func (o *oracle) put(k string, value []byte) {
	v := oVer{mod: o.rev + 1, create: o.rev + 1, ver: 1, value: value}
	if cur, ok := o.get(k, o.rev+1); ok {
		v.create, v.ver = cur.create, cur.ver+1
	}
	o.hist[k] = append(o.hist[k], v)
}

func (o *oracle) del(k string) { o.hist[k] = append(o.hist[k], oVer{mod: o.rev + 1, tomb: true}) }

func (o *oracle) compare(c *pb.Compare, rev int64) bool {
	ks := o.liveKeys(c.Key, c.RangeEnd, rev)
	check := func(kv *mvccpb.KeyValue) bool {
		var a, b int64
		var res int
		switch c.Target {
		case pb.Compare_VALUE:
			res = bytes.Compare(kv.Value, c.GetValue())
		case pb.Compare_VERSION:
			a, b = kv.Version, c.GetVersion()
		case pb.Compare_CREATE:
			a, b = kv.CreateRevision, c.GetCreateRevision()
		case pb.Compare_MOD:
			a, b = kv.ModRevision, c.GetModRevision()
		}
		if c.Target != pb.Compare_VALUE {
			res = cmpInt(a, b)
		}
		switch c.Result {
		case pb.Compare_EQUAL:
			return res == 0
		case pb.Compare_NOT_EQUAL:
			return res != 0
		case pb.Compare_GREATER:
			return res > 0
		}
		return res < 0
	}
	if len(ks) == 0 {
		return c.Target != pb.Compare_VALUE && check(&mvccpb.KeyValue{})
	}
	for _, k := range ks {
		v, _ := o.get(k, rev)
		if !check(o.kv(k, v)) {
			return false
		}
	}
	return true
}

// footprints enumerates, for every way the branches of r can go, the keys
// put and the ranges deleted. A txn is a duplicate when on some path a key is
// put twice or put inside a deleted range.
type footprint struct {
	puts []string
	dels [][2]string // start, end ("" = point, "\x00" = open)
}

func opsFootprints(ops []*pb.RequestOp) []footprint {
	fps := []footprint{{}}
	for _, op := range ops {
		var next []footprint
		switch {
		case op.GetRequestPut() != nil:
			for _, f := range fps {
				f.puts = append(append([]string(nil), f.puts...), string(op.GetRequestPut().Key))
				next = append(next, f)
			}
		case op.GetRequestDeleteRange() != nil:
			d := op.GetRequestDeleteRange()
			for _, f := range fps {
				f.dels = append(append([][2]string(nil), f.dels...), [2]string{string(d.Key), string(d.RangeEnd)})
				next = append(next, f)
			}
		case op.GetRequestTxn() != nil:
			t := op.GetRequestTxn()
			subs := append(opsFootprints(t.Success), opsFootprints(t.Failure)...)
			for _, f := range fps {
				for _, s := range subs {
					next = append(next, footprint{
						puts: append(append([]string(nil), f.puts...), s.puts...),
						dels: append(append([][2]string(nil), f.dels...), s.dels...),
					})
				}
			}
		default:
			next = fps
		}
		fps = next
	}
	return fps
}

func (f footprint) dup() bool {
	seen := map[string]bool{}
	for _, p := range f.puts {
		if seen[p] {
			return true
		}
		seen[p] = true
		for _, d := range f.dels {
			if inRange(p, d[0], d[1], d[1] == "") {
				return true
			}
		}
	}
	return false
}

func (o *oracle) txn(r *pb.TxnRequest) (*pb.TxnResponse, error) {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, f := range opsFootprints(ops) {
			if f.dup() {
				return nil, ErrDuplicateKey
			}
		}
	}
	// Check the ranges of the chosen path against the pre-txn state.
	var check func(t *pb.TxnRequest) error
	check = func(t *pb.TxnRequest) error {
		ops := t.Success
		if !o.comparesHold(t) {
			ops = t.Failure
		}
		for _, op := range ops {
			if rr := op.GetRequestRange(); rr != nil {
				if _, err := o.rangeResp(rr, o.rev); err != nil {
					return err
				}
			}
			if nt := op.GetRequestTxn(); nt != nil {
				if err := check(nt); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := check(r); err != nil {
		return nil, err
	}
	// Decide the whole path before running anything.
	paths := map[*pb.TxnRequest]bool{}
	var decide func(t *pb.TxnRequest)
	decide = func(t *pb.TxnRequest) {
		ok := o.comparesHold(t)
		paths[t] = ok
		ops := t.Success
		if !ok {
			ops = t.Failure
		}
		for _, op := range ops {
			if nt := op.GetRequestTxn(); nt != nil {
				decide(nt)
			}
		}
	}
	decide(r)
	changed := false
	var run func(t *pb.TxnRequest) *pb.TxnResponse
	run = func(t *pb.TxnRequest) *pb.TxnResponse {
		resp := &pb.TxnResponse{Header: &pb.ResponseHeader{}, Succeeded: paths[t]}
		ops := t.Success
		if !paths[t] {
			ops = t.Failure
		}
		for _, op := range ops {
			switch {
			case op.GetRequestRange() != nil:
				rr, _ := o.rangeResp(op.GetRequestRange(), o.readRev(changed))
				resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponseRange{ResponseRange: rr}})
			case op.GetRequestPut() != nil:
				p := op.GetRequestPut()
				pr := &pb.PutResponse{Header: &pb.ResponseHeader{Revision: o.rev + 1}}
				if p.PrevKv {
					if v, ok := o.get(string(p.Key), o.readRev(changed)); ok {
						pr.PrevKv = o.kv(string(p.Key), v)
					}
				}
				o.put(string(p.Key), p.Value)
				changed = true
				resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponsePut{ResponsePut: pr}})
			case op.GetRequestDeleteRange() != nil:
				d := op.GetRequestDeleteRange()
				ks := o.liveKeys(d.Key, d.RangeEnd, o.readRev(changed))
				dr := &pb.DeleteRangeResponse{Header: &pb.ResponseHeader{}, Deleted: int64(len(ks))}
				for _, k := range ks {
					if d.PrevKv {
						v, _ := o.get(k, o.readRev(changed))
						dr.PrevKvs = append(dr.PrevKvs, o.kv(k, v))
					}
					o.del(k)
				}
				if len(ks) > 0 {
					changed = true
				}
				dr.Header.Revision = o.readRev(changed)
				resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponseDeleteRange{ResponseDeleteRange: dr}})
			case op.GetRequestTxn() != nil:
				resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponseTxn{ResponseTxn: run(op.GetRequestTxn())}})
			}
		}
		return resp
	}
	resp := run(r)
	if changed {
		o.rev++
	}
	resp.Header.Revision = o.rev
	return resp, nil
}

func (o *oracle) comparesHold(t *pb.TxnRequest) bool {
	for _, c := range t.Compare {
		if !o.compare(c, o.rev) {
			return false
		}
	}
	return true
}

// ---- op generation ----

type gen struct {
	r *rand.Rand
	o *oracle
}

var modelKeys = []string{"a", "a1", "a2", "b", "b1", "c", "d", "e"}

func (g *gen) key() []byte { return []byte(modelKeys[g.r.IntN(len(modelKeys))]) }

func (g *gen) value() []byte {
	if g.r.IntN(10) == 0 {
		return nil // an empty value is a valid value
	}
	return []byte(fmt.Sprintf("v%d", g.r.IntN(1000)))
}

// span returns a key and range end: point, [k, end), from-key or prefix.
func (g *gen) span() ([]byte, []byte) {
	k := g.key()
	switch g.r.IntN(5) {
	case 0, 1:
		return k, nil
	case 2:
		e := g.key()
		return k, e // possibly empty (end <= key)
	case 3:
		return k, []byte{0}
	default:
		p := []byte{k[0]}
		return p, []byte{k[0] + 1}
	}
}

func (g *gen) rev() int64 {
	lo := max(g.o.compact-2, 0)
	return lo + g.r.Int64N(g.o.rev+3-lo)
}

func (g *gen) rangeReq() *pb.RangeRequest {
	k, e := g.span()
	r := &pb.RangeRequest{Key: k, RangeEnd: e}
	if g.r.IntN(2) == 0 {
		r.Revision = g.rev()
	}
	if g.r.IntN(3) == 0 {
		r.Limit = g.r.Int64N(4)
	}
	r.KeysOnly = g.r.IntN(6) == 0
	r.CountOnly = g.r.IntN(8) == 0
	if g.r.IntN(4) == 0 {
		r.SortOrder = pb.RangeRequest_SortOrder(g.r.IntN(3))
		r.SortTarget = pb.RangeRequest_SortTarget(g.r.IntN(5))
	}
	if g.r.IntN(6) == 0 {
		switch g.r.IntN(4) {
		case 0:
			r.MinModRevision = g.r.Int64N(g.o.rev + 1)
		case 1:
			r.MaxModRevision = g.r.Int64N(g.o.rev + 1)
		case 2:
			r.MinCreateRevision = g.r.Int64N(g.o.rev + 1)
		default:
			r.MaxCreateRevision = g.r.Int64N(g.o.rev + 1)
		}
	}
	return r
}

func (g *gen) compare() *pb.Compare {
	k, e := g.span()
	if g.r.IntN(2) == 0 {
		e = nil
	}
	c := &pb.Compare{Key: k, RangeEnd: e, Result: pb.Compare_CompareResult(g.r.IntN(4))}
	switch g.r.IntN(4) {
	case 0:
		c.Target = pb.Compare_VERSION
		c.TargetUnion = &pb.Compare_Version{Version: g.r.Int64N(4)}
	case 1:
		c.Target = pb.Compare_CREATE
		c.TargetUnion = &pb.Compare_CreateRevision{CreateRevision: g.r.Int64N(g.o.rev + 1)}
	case 2:
		c.Target = pb.Compare_MOD
		c.TargetUnion = &pb.Compare_ModRevision{ModRevision: g.r.Int64N(g.o.rev + 1)}
	default:
		c.Target = pb.Compare_VALUE
		v := []byte(nil)
		if cur, ok := g.o.get(string(k), g.o.rev); ok && g.r.IntN(2) == 0 {
			v = cur.value
		} else {
			v = g.value()
		}
		c.TargetUnion = &pb.Compare_Value{Value: v}
	}
	return c
}

// ops builds a branch; nested txns hold no deletes (see opsFootprints: with
// deletes only at the top, etcd's checkIntervals and the path rule agree).
func (g *gen) ops(depth int) []*pb.RequestOp {
	n := g.r.IntN(4)
	var ops []*pb.RequestOp
	for range n {
		switch x := g.r.IntN(10); {
		case x < 4:
			ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: g.key(), Value: g.value(), PrevKv: g.r.IntN(3) == 0}}})
		case x < 6 && depth == 0:
			k, e := g.span()
			ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: k, RangeEnd: e, PrevKv: g.r.IntN(3) == 0}}})
		case x < 8:
			ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: g.rangeReq()}})
		case depth < 2:
			ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: g.txn(depth + 1)}})
		}
	}
	return ops
}

func (g *gen) txn(depth int) *pb.TxnRequest {
	t := &pb.TxnRequest{}
	for range g.r.IntN(3) {
		t.Compare = append(t.Compare, g.compare())
	}
	t.Success = g.ops(depth)
	t.Failure = g.ops(depth)
	return t
}

// ---- the test ----

func errClass(err error) string {
	for _, e := range []error{ErrCompacted, ErrFutureRev, ErrDuplicateKey, ErrTooManyOps, ErrKeyNotFound} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err != nil {
		return "unexpected: " + err.Error()
	}
	return "ok"
}

type okString struct{}

func (okString) String() string { return "ok" }

func render(m interface{ String() string }, err error) string {
	if err != nil {
		return "error " + errClass(err)
	}
	return m.String()
}

// runModel plays steps random ops and returns the final hash.
func runModel(t *testing.T, engineName string, seed uint64, steps int) uint32 {
	dir := t.TempDir()
	cfg := Config{CompactionBatchLimit: 3, CompactionSleepInterval: 1}
	s := openStore(t, engineName, dir, cfg)
	defer func() { _ = s.Close() }()
	o := newOracle()
	g := &gen{r: newRand(seed), o: o}
	stats := map[string]int{}
	defer func() { t.Logf("op outcomes: %v", stats) }()
	for i := range steps {
		var desc, got, want string
		switch x := g.r.IntN(100); {
		case x < 30:
			r := &pb.PutRequest{Key: g.key(), Value: g.value(), PrevKv: g.r.IntN(3) == 0}
			if g.r.IntN(8) == 0 {
				r.Value, r.IgnoreValue = nil, true
			}
			desc = "put " + r.String()
			resp, err := s.Put(r)
			got = render(resp, err)
			prev, exists := o.get(string(r.Key), o.rev)
			if r.IgnoreValue && !exists {
				want = render(nil, ErrKeyNotFound)
				break
			}
			w := &pb.PutResponse{Header: &pb.ResponseHeader{Revision: o.rev + 1}}
			if r.PrevKv && exists {
				w.PrevKv = o.kv(string(r.Key), prev)
			}
			value := r.Value
			if r.IgnoreValue {
				value = prev.value
			}
			o.put(string(r.Key), value)
			o.rev++
			want = w.String()
		case x < 40:
			k, e := g.span()
			r := &pb.DeleteRangeRequest{Key: k, RangeEnd: e, PrevKv: g.r.IntN(2) == 0}
			desc = "delete " + r.String()
			resp, err := s.DeleteRange(r)
			got = render(resp, err)
			tr, werr := o.txn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: r}}}})
			if werr != nil {
				t.Fatal(werr)
			}
			w := tr.Responses[0].GetResponseDeleteRange()
			w.Header.Revision = o.rev
			want = w.String()
		case x < 65:
			r := g.rangeReq()
			desc = "range " + r.String()
			resp, err := s.Range(r)
			got = render(resp, err)
			w, werr := o.rangeResp(r, o.rev)
			want = render(w, werr)
		case x < 90:
			r := g.txn(0)
			desc = "txn " + r.String()
			resp, err := s.Txn(r)
			got = render(resp, err)
			w, werr := o.txn(r)
			want = render(w, werr)
		case x < 95:
			rev := g.rev()
			desc = fmt.Sprintf("compact %d", rev)
			got = render(okString{}, s.CompactSync(rev))
			switch {
			case rev <= o.compact:
				want = render(nil, ErrCompacted)
			case rev > o.rev:
				want = render(nil, ErrFutureRev)
			default:
				want = "ok"
				o.compact = rev
			}
		default:
			desc = "reopen"
			if err := s.Close(); err != nil {
				t.Fatalf("step %d: close: %v", i, err)
			}
			s = openStore(t, engineName, dir, cfg)
			got = fmt.Sprintf("rev %d compact %d", s.Rev(), s.CompactRev())
			want = fmt.Sprintf("rev %d compact %d", o.rev, o.compact)
		}
		outcome := "ok"
		if strings.HasPrefix(got, "error ") {
			outcome = got
		}
		stats[strings.SplitN(desc, " ", 2)[0]+" "+outcome]++
		if got != want {
			t.Fatalf("seed %d step %d: %s\n got: %s\nwant: %s", seed, i, desc, got, want)
		}
		if s.Rev() != o.rev {
			t.Fatalf("seed %d step %d: %s: store at revision %d, oracle at %d", seed, i, desc, s.Rev(), o.rev)
		}
	}
	h, _, err := s.HashByRev(0)
	if err != nil {
		t.Fatal(err)
	}
	return h.Hash
}

func TestModel(t *testing.T) {
	seed := testSeed(t)
	steps := 3000
	if testing.Short() {
		steps = 600
	}
	hashes := map[string]uint32{}
	for _, name := range testEngineNames() {
		t.Run("engine="+name, func(t *testing.T) {
			hashes[name] = runModel(t, name, seed, steps)
		})
	}
	var lines []string
	for n, h := range hashes {
		lines = append(lines, fmt.Sprintf("%s=%08x", n, h))
	}
	sort.Strings(lines)
	t.Logf("final hashes: %s", strings.Join(lines, " "))
	for _, h := range hashes {
		for n2, h2 := range hashes {
			if h != h2 {
				t.Fatalf("engines disagree on the final hash: %s (%s)", strings.Join(lines, " "), n2)
			}
		}
	}
}
