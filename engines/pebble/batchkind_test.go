package pebble

import (
	"encoding/binary"
	"testing"

	pdb "github.com/cockroachdb/pebble/v2"
)

// BenchmarkBatchKind weighs the two ways a pebble batch can take the
// backend's writes as they are applied (issue #12): a plain batch (the
// engine's choice: writes encoded into the batch at apply time, inserted
// into the memtable at commit) and an indexed batch (also inserted into the
// batch's own skiplist at apply time, so the batch could serve reads, which
// the backend's read buffer already does). ns/put is per write, commit
// included.
func BenchmarkBatchKind(b *testing.B) {
	for _, kind := range []string{"plain", "indexed"} {
		b.Run("kind="+kind, func(b *testing.B) {
			e, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			const perBatch = 1000
			key := make([]byte, 9)
			val := make([]byte, 256)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var pb *pdb.Batch
				if kind == "indexed" {
					pb = e.db.NewIndexedBatch()
				} else {
					pb = e.db.NewBatch()
				}
				for j := 0; j < perBatch; j++ {
					key[0] = 1
					binary.BigEndian.PutUint64(key[1:], uint64(i*perBatch+j))
					if err := pb.Set(key, val, nil); err != nil {
						b.Fatal(err)
					}
				}
				if err := pb.Commit(pdb.NoSync); err != nil {
					b.Fatal(err)
				}
				_ = pb.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perBatch), "ns/put")
		})
	}
}
