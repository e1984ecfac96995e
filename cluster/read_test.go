package cluster_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
	"etcdlab/cluster/wal"
)

// TestSingleNodeLinearizableReadsUseReadLoop: on a one-member cluster a
// linearizable read goes through the read loop as in etcd 3.6 (a ReadIndex
// request with a request ID, shared by every reader waiting when the round
// starts), not through a local shortcut; serializable reads issue no
// ReadIndex at all. The readers are started while the test holds the raft
// lock, so the first round cannot finish before all of them wait: they
// must share at most two rounds.
func TestSingleNodeLinearizableReadsUseReadLoop(t *testing.T) {
	o := fastNode("memory")
	o.ReadRetry = time.Minute // no retries: every request counted is a round
	c := startCluster(t, 1, o, nil)
	waitLeader(t, c)
	n := c.Node(1)
	ctx := ctxT(t)
	if _, err := n.Put(ctx, &pb.PutRequest{Key: []byte("k"), Value: []byte("v1")}); err != nil {
		t.Fatal(err)
	}

	// One read on its own: one ReadIndex request, one round.
	req0, rounds0 := n.TestStats().ReadIndexRequests.Load(), n.TestStats().ReadIndexRounds.Load()
	if _, err := n.Range(ctx, &pb.RangeRequest{Key: []byte("k")}); err != nil {
		t.Fatal(err)
	}
	if d := n.TestStats().ReadIndexRequests.Load() - req0; d != 1 {
		t.Fatalf("one linearizable read issued %d ReadIndex requests, want 1", d)
	}
	if d := n.TestStats().ReadIndexRounds.Load() - rounds0; d != 1 {
		t.Fatalf("one linearizable read took %d read-loop rounds, want 1", d)
	}

	// Concurrent readers are batched.
	const readers = 64
	req0, reads0 := n.TestStats().ReadIndexRequests.Load(), n.TestStats().LinearizableReads.Load()
	n.RaftMu().Lock() // holds up the read loop's ReadIndex call and the raft loop
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := n.Range(ctx, &pb.RangeRequest{Key: []byte("k")})
			if err == nil && (len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1") {
				t.Errorf("linearizable read: %v", resp.Kvs)
			}
			errs <- err
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.TestStats().LinearizableReads.Load()-reads0 < readers {
		if time.Now().After(deadline) {
			n.RaftMu().Unlock()
			t.Fatalf("only %d of %d readers reached the read loop", n.TestStats().LinearizableReads.Load()-reads0, readers)
		}
		<-time.After(time.Millisecond)
	}
	n.RaftMu().Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	reqs := n.TestStats().ReadIndexRequests.Load() - req0
	t.Logf("%d concurrent linearizable reads, %d ReadIndex requests", readers, reqs)
	if reqs < 1 || reqs > 2 {
		t.Fatalf("%d concurrent linearizable reads issued %d ReadIndex requests, want 1 or 2 (batched)", readers, reqs)
	}

	// Serializable reads never ask raft.
	req0 = n.TestStats().ReadIndexRequests.Load()
	for i := 0; i < 50; i++ {
		if _, err := n.Range(ctx, &pb.RangeRequest{Key: []byte("k"), Serializable: true}); err != nil {
			t.Fatal(err)
		}
	}
	if d := n.TestStats().ReadIndexRequests.Load() - req0; d != 0 {
		t.Fatalf("50 serializable reads issued %d ReadIndex requests, want 0", d)
	}
}

// TestSingleNodeReadAfterRestartNotStale: a single member restarts with
// acknowledged entries in its WAL beyond the commit index its last synced
// HardState records (a commit-only HardState is written without fsync, so a
// crash can lose it). Raft answers a single voter's ReadIndex at once with
// its commit index, even before the new leader's first entry in its term is
// committed; a read in that window must still see every entry in the log.
// etcd never serves it: clients are served only once the member has
// published itself through raft, after that first commit. The test stalls
// the new leader's WAL fsync of its first entry, issues the read in the
// window, then lets the fsync go.
func TestSingleNodeReadAfterRestartNotStale(t *testing.T) {
	const puts, commit = 5, 2 // entries 2..6 are puts; the HardState says 2
	dir := t.TempDir()
	walDir := filepath.Join(dir, "node-1", "member", "wal")
	if err := os.MkdirAll(filepath.Dir(walDir), 0o755); err != nil {
		t.Fatal(err)
	}
	meta := make([]byte, 8)
	binary.BigEndian.PutUint64(meta, 1)
	w, err := wal.Create(vfs.Default, walDir, meta, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cc := raftpb.ConfChange{Type: raftpb.ConfChangeAddNode, NodeID: 1, Context: cluster.EncodeConfContext(0, "")}
	ccData, err := cc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ents := []raftpb.Entry{{Term: 1, Index: 1, Type: raftpb.EntryConfChange, Data: ccData}}
	for i := 0; i < puts; i++ {
		req := pb.InternalRaftRequest{Header: &pb.RequestHeader{ID: uint64(100 + i)}, Put: &pb.PutRequest{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte("v")}}
		data, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ents = append(ents, raftpb.Entry{Term: 1, Index: uint64(2 + i), Type: raftpb.EntryNormal, Data: data})
	}
	if err := w.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: commit}, ents); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	fs := newStallFS(vfs.Default)
	o := fastNode("memory")
	o.FS = fs
	c := startCluster(t, 1, o, func(o *harness.Options) { o.Dir = dir })
	n := c.Node(1)
	fs.armIf(c.NodeDir(1), n.IsLeader) // the new leader's first entry
	select {
	case <-fs.stalled:
	case <-time.After(20 * time.Second):
		fs.disarm()
		t.Fatal("no WAL fsync stalled")
	}
	if !n.IsLeader() {
		fs.disarm()
		t.Fatalf("the stalled fsync is not the new leader's (leader %x)", n.Leader())
	}
	type result struct {
		count int64
		err   error
	}
	res := make(chan result, 1)
	ctx := ctxT(t)
	go func() {
		r, err := n.Range(ctx, &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), CountOnly: true})
		if err != nil {
			res <- result{err: err}
			return
		}
		res <- result{count: r.Count}
	}()
	// Raft has taken the ReadIndex once it has a Ready to give again.
	waitFor(t, "the ReadIndex in raft", 10*time.Second, func() bool {
		n.RaftMu().Lock()
		defer n.RaftMu().Unlock()
		return n.RawNode().HasReady()
	})
	fs.disarm()
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.count != puts {
		t.Fatalf("a linearizable read right after the restart saw %d of the %d puts in the log (stale)", r.count, puts)
	}
}
