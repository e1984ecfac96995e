package harness_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
)

// TestFirstWriteAfterTornTailRepair: a node killed while a WAL record was
// half written (a torn tail: a length word and part of a record after the
// last complete one) repairs the tail at restart and then accepts and
// applies the first write, on every engine.
func TestFirstWriteAfterTornTailRepair(t *testing.T) {
	for _, eng := range []string{"bbolt", "pebble", "memory"} {
		t.Run("engine="+eng, func(t *testing.T) {
			c := startCluster(t, 1, fastNode(eng), nil)
			waitLeader(t, c)
			cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
			ctx := ctxT(t)
			for i := 0; i < 50; i++ {
				if _, err := cl.Put(ctx, put(key(i), "v")); err != nil {
					t.Fatal(err)
				}
			}
			walDir := filepath.Join(c.NodeDir(1), "member", "wal")
			if err := c.Kill(1); err != nil {
				t.Fatal(err)
			}
			tearTail(t, walDir)
			if err := c.Restart(1); err != nil {
				t.Fatal(err)
			}
			waitLeader(t, c)
			start := time.Now()
			if _, err := cl.Put(ctx, put("after-repair", "x")); err != nil {
				t.Fatalf("first put after the torn-tail repair: %v (after %v)", err, time.Since(start))
			}
			t.Logf("first put after the repair took %v", time.Since(start))
			r, err := cl.Range(ctx, &pb.RangeRequest{Key: []byte("after-repair")})
			if err != nil || len(r.Kvs) != 1 {
				t.Fatalf("the first put after the repair is not applied: %v %v", r, err)
			}
			r, err = cl.Range(ctx, &pb.RangeRequest{Key: []byte(key(49))})
			if err != nil || len(r.Kvs) != 1 {
				t.Fatalf("an acknowledged put before the crash is lost: %v %v", r, err)
			}
		})
	}
}

// tearTail appends half a record after the last complete one of the newest
// WAL segment: what a crash in the middle of an unsynced write leaves.
func tearTail(t *testing.T, walDir string) {
	t.Helper()
	path, _, end := newestSegment(t, walDir)
	end = (end + 7) &^ 7
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rec [8 + 5 + 20]byte
	// A 1,000-byte record of which only the first sector reached the disk:
	// the rest reads as the preallocated zeros.
	binary.LittleEndian.PutUint64(rec[:8], 1000)
	rec[8] = 2 // entry
	for i := 13; i < len(rec); i++ {
		rec[i] = byte(i)
	}
	if _, err := f.WriteAt(rec[:], int64(end)); err != nil {
		t.Fatal(err)
	}
	t.Logf("tore %s at offset %d", filepath.Base(path), end)
}

// TestWALLostSyncedRecordsRefused: when records that had been synced and
// applied are gone from the WAL (zeroed here, as a disk error or a truncated
// copy would leave them), the backend is ahead of the log; a node that
// started anyway would give new entries indexes the backend has applied,
// skip them, and leave their writers waiting (the first put timed out). It
// refuses to start instead, naming both indexes.
func TestWALLostSyncedRecordsRefused(t *testing.T) {
	c := startCluster(t, 1, fastNode("bbolt"), nil)
	waitLeader(t, c)
	cl := c.Client(harness.ClientOptions{Policy: harness.PolicyLeader})
	ctx := ctxT(t)
	for i := 0; i < 50; i++ {
		if _, err := cl.Put(ctx, put(key(i), string(make([]byte, 600)))); err != nil {
			t.Fatal(err)
		}
	}
	n := c.Node(1)
	if err := n.CommitBackend(); err != nil {
		t.Fatal(err)
	}
	walDir := filepath.Join(c.NodeDir(1), "member", "wal")
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	zeroLastRecords(t, walDir, 1500)
	err := c.Restart(1)
	if !errors.Is(err, cluster.ErrWALBehindBackend) {
		t.Fatalf("restart with synced WAL records gone: %v, want ErrWALBehindBackend", err)
	}
	t.Logf("refused: %v", err)
}

// zeroLastRecords zeroes the last n bytes of data (from a sector boundary)
// in the newest WAL segment.
func zeroLastRecords(t *testing.T, walDir string, n int) {
	t.Helper()
	path, data, end := newestSegment(t, walDir)
	start := max(end-n, 0) &^ 511
	if err := os.WriteFile(path, append(data[:start:start], make([]byte, len(data)-start)...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newestSegment reads the newest segment in walDir and returns its path, its
// bytes and the end of its data (the preallocated tail is zeros).
func newestSegment(t *testing.T, walDir string) (path string, data []byte, end int) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no WAL segments in %s: %v", walDir, err)
	}
	sort.Strings(names)
	path = names[len(names)-1]
	if data, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	end = len(data)
	for end > 0 && data[end-1] == 0 {
		end--
	}
	return path, data, end
}
