package v3rpc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestSendFragments: a response over the limit is split into responses below
// it, each with at least one event, all but the last marked Fragment, the
// events in order (etcd's sendFragments); a small one, or one with a single
// event, goes whole.
func TestSendFragments(t *testing.T) {
	ev := func(i int, size int) *mvccpb.Event {
		return &mvccpb.Event{Kv: &mvccpb.KeyValue{Key: []byte(fmt.Sprint(i)), Value: make([]byte, size), ModRevision: int64(i)}}
	}
	for _, tc := range []struct {
		name  string
		sizes []int
		limit int
		want  string // events per response, "f" marks a fragment
	}{
		{"small", []int{10, 10, 10}, 1000, "3"},
		{"one-big-event", []int{5000}, 1000, "1"},
		{"split", []int{400, 400, 400, 400, 400}, 1000, "2f 2f 1"},
		{"each-over", []int{2000, 2000, 2000}, 1000, "1f 1f 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wr := &pb.WatchResponse{Header: &pb.ResponseHeader{Revision: 9}, WatchId: 3}
			for i, s := range tc.sizes {
				wr.Events = append(wr.Events, ev(i, s))
			}
			var got []string
			next := 0
			err := sendFragments(wr, tc.limit, func(r *pb.WatchResponse) error {
				if len(r.Events) > 1 && r.Size() >= tc.limit {
					t.Errorf("fragment of %d bytes with %d events, limit %d", r.Size(), len(r.Events), tc.limit)
				}
				for _, e := range r.Events {
					if string(e.Kv.Key) != fmt.Sprint(next) {
						t.Errorf("event %s, want %d", e.Kv.Key, next)
					}
					next++
				}
				s := fmt.Sprint(len(r.Events))
				if r.Fragment {
					s += "f"
				}
				got = append(got, s)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Fatalf("responses %q, want %q", g, tc.want)
			}
		})
	}
}

// TestWatchThroughClient: etcd's client against the Watch service: events
// of one txn in one response, and etcd's answers to a negative start
// revision, a duplicate watch ID and a cancel.
func TestWatchThroughClient(t *testing.T) {
	env := startEnv(t, "memory", Options{})
	ctx, cli := testCtx(t), env.cli
	wc := cli.Watch(ctx, "k", clientv3.WithPrefix(), clientv3.WithPrevKV())
	if _, err := cli.Put(ctx, "k0", "old"); err != nil {
		t.Fatal(err)
	}
	var txn []clientv3.Op
	for i := range 3 {
		txn = append(txn, clientv3.OpPut(fmt.Sprintf("k%d", i), "new"))
	}
	tr, err := cli.Txn(ctx).Then(txn...).Commit()
	if err != nil {
		t.Fatal(err)
	}
	var evs []string
	for len(evs) < 4 {
		select {
		case r := <-wc:
			for _, e := range r.Events {
				s := fmt.Sprintf("%s=%s@%d", e.Kv.Key, e.Kv.Value, e.Kv.ModRevision)
				if e.PrevKv != nil {
					s += "/" + string(e.PrevKv.Value)
				}
				evs = append(evs, s)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no watch response")
		}
	}
	rev := tr.Header.Revision
	want := fmt.Sprintf("k0=old@%d k0=new@%d/old k1=new@%d k2=new@%d", rev-1, rev, rev, rev)
	if g := strings.Join(evs, " "); g != want {
		t.Fatalf("events %s, want %s", g, want)
	}

	// A negative start revision: created and cancelled at once with etcd's
	// compacted text.
	conn := cli.ActiveConnection()
	ws, err := pb.NewWatchClient(conn).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: []byte("a"), StartRevision: -1}}}); err != nil {
		t.Fatal(err)
	}
	r, err := ws.Recv()
	if err != nil || !r.Created || !r.Canceled || r.WatchId != -1 || r.CancelReason != rpctypes.ErrCompacted.Error() {
		t.Fatalf("negative start revision: %+v %v", r, err)
	}
	// A duplicate ID: refused with etcd's text.
	for range 2 {
		if err := ws.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: []byte("a"), WatchId: 7}}}); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := ws.Recv(); err != nil || !r.Created || r.Canceled || r.WatchId != 7 {
		t.Fatalf("create 7: %+v %v", r, err)
	}
	if r, err := ws.Recv(); err != nil || !r.Canceled || r.WatchId != -1 || r.CancelReason != "mvcc: duplicate watch ID provided on the WatchStream" {
		t.Fatalf("duplicate 7: %+v %v", r, err)
	}
	if err := ws.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: 7}}}); err != nil {
		t.Fatal(err)
	}
	if r, err := ws.Recv(); err != nil || !r.Canceled || r.WatchId != 7 {
		t.Fatalf("cancel 7: %+v %v", r, err)
	}
}
