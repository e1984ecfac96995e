package mvcc

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestConcurrentTxnAtomicity: a writer puts x and y to the same counter in one
// txn while readers range over both and compactions run; a reader must never
// see half a txn (etcd-reference.md pitfall 6), at its own revision or an
// older one.
func TestConcurrentTxnAtomicity(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	for _, name := range testEngineNames() {
		t.Run("engine="+name, func(t *testing.T) {
			s := openStore(t, name, t.TempDir(), Config{CompactionBatchLimit: 50, CompactionSleepInterval: 1})
			defer s.Close()
			var done atomic.Bool
			var wg sync.WaitGroup
			errc := make(chan error, 8)
			for r := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !done.Load(); i++ {
						req := &pb.RangeRequest{Key: []byte("x"), RangeEnd: []byte("z")}
						if r == 1 && i%2 == 0 {
							req.Revision = max(s.Rev()-5, 1)
						}
						resp, err := s.Range(req)
						if errors.Is(err, ErrCompacted) {
							continue
						}
						if err != nil {
							errc <- err
							return
						}
						if len(resp.Kvs) == 1 || (len(resp.Kvs) == 2 && !bytes.Equal(resp.Kvs[0].Value, resp.Kvs[1].Value)) {
							errc <- fmt.Errorf("half a txn visible at revision %d: %v", req.Revision, resp.Kvs)
							return
						}
					}
				}()
			}
			for i := range n {
				v := []byte(fmt.Sprint(i))
				if _, err := s.Txn(&pb.TxnRequest{Success: []*pb.RequestOp{
					{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("x"), Value: v}}},
					{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("y"), Value: v}}},
				}}); err != nil {
					t.Fatal(err)
				}
				if i%100 == 99 {
					if _, err := s.Compact(s.Rev() - 10); err != nil {
						t.Fatal(err)
					}
					if _, _, err := s.HashByRev(0); err != nil {
						t.Fatal(err)
					}
				}
			}
			done.Store(true)
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			s.WaitCompactions()
		})
	}
}
