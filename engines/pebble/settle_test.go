package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"etcdlab/engines/engine"
)

// writeRevisions commits n batches of per revision-keyed puts plus a meta
// key, the write pattern of etcd's apply loop (new `key` bucket revisions
// and the consistent index in `meta` with every commit).
func writeRevisions(t *testing.T, e *Engine, n, per int, rev *uint64) {
	t.Helper()
	val := make([]byte, 1024)
	for range n {
		commit(t, e, false, func(b engine.Batch) {
			for range per {
				*rev++
				b.Put(bKey, binary.BigEndian.AppendUint64(nil, *rev), val)
			}
			b.Put(bMeta, []byte("consistent_index"), binary.BigEndian.AppendUint64(nil, *rev))
		})
	}
}

// TestSettle checks that Settle leaves no memtable data, no flush or
// compaction in progress and nothing for the compaction picker to do, and
// that a cancelled context stops it with an error that says so.
func TestSettle(t *testing.T) {
	e := openT(t, t.TempDir(), Options{MemTableSize: 1 << 20, L0CompactionThreshold: 2})
	defer e.Close()
	var rev uint64
	writeRevisions(t, e, 64, 128, &rev) // 8 MiB of values: several flushes
	if err := e.Settle(context.Background()); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	m := e.db.Metrics()
	if m.Flush.NumInProgress != 0 || m.Compact.NumInProgress != 0 {
		t.Fatalf("after Settle: %d flushes and %d compactions in progress", m.Flush.NumInProgress, m.Compact.NumInProgress)
	}
	if m.Flush.Count == 0 {
		t.Fatalf("after Settle: no flush ran (memtable %d bytes)", m.MemTable.Size)
	}
	if l0 := m.Levels[0].TablesCount; l0 >= 2 {
		t.Fatalf("after Settle: %d sstables in L0, at or above the compaction threshold 2", l0)
	}
	if m.Compact.Count == 0 {
		t.Fatalf("after Settle: no compaction ran over %d flushes", m.Flush.Count)
	}

	writeRevisions(t, e, 8, 128, &rev)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Settle(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Settle with a cancelled context: %v, want context.Canceled", err)
	}
	if got, ok := get(t, e, bMeta, "consistent_index"); !ok || binary.BigEndian.Uint64([]byte(got)) != rev {
		t.Fatalf("meta key after Settle: %q %v, want revision %d", got, ok, rev)
	}
}
