package mvcc

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestStoreDataDriven runs testdata/store/* on every engine: put, del, range,
// compact, reopen and bucket (the key bucket's revisions, t = tombstone). The
// expected output is the same on every engine.
func TestStoreDataDriven(t *testing.T) {
	for _, name := range testEngineNames() {
		t.Run("engine="+name, func(t *testing.T) {
			datadriven.Walk(t, "testdata/store", func(t *testing.T, path string) {
				dir := t.TempDir()
				cfg := Config{CompactionBatchLimit: 2, CompactionSleepInterval: 1}
				s := openStore(t, name, dir, cfg)
				defer func() { _ = s.Close() }()
				datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
					arg := func(k string) []byte {
						if !d.HasArg(k) {
							return nil
						}
						var v string
						d.ScanArgs(t, k, &v)
						return []byte(v)
					}
					var rev int64
					if d.HasArg("rev") {
						d.ScanArgs(t, "rev", &rev)
					}
					switch d.Cmd {
					case "put":
						resp, err := s.Put(&pb.PutRequest{Key: arg("k"), Value: arg("v")})
						if err != nil {
							return "error: " + err.Error()
						}
						return fmt.Sprintf("rev=%d", resp.Header.Revision)
					case "del":
						resp, err := s.DeleteRange(&pb.DeleteRangeRequest{Key: arg("k"), RangeEnd: arg("end")})
						if err != nil {
							return "error: " + err.Error()
						}
						return fmt.Sprintf("deleted=%d rev=%d", resp.Deleted, resp.Header.Revision)
					case "range":
						resp, err := s.Range(&pb.RangeRequest{Key: arg("k"), RangeEnd: arg("end"), Revision: rev})
						if err != nil {
							return "error: " + err.Error()
						}
						var sb strings.Builder
						for _, kv := range resp.Kvs {
							fmt.Fprintf(&sb, "%s=%s create=%d mod=%d ver=%d\n", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version)
						}
						fmt.Fprintf(&sb, "count=%d rev=%d", resp.Count, resp.Header.Revision)
						return sb.String()
					case "compact":
						if err := s.CompactSync(rev); err != nil {
							return "error: " + err.Error()
						}
						return "ok"
					case "reopen":
						if err := s.Close(); err != nil {
							t.Fatal(err)
						}
						s = openStore(t, name, dir, cfg)
						s.WaitCompactions()
						return fmt.Sprintf("rev=%d compact=%d", s.Rev(), s.CompactRev())
					case "bucket":
						return strings.Join(keyBucket(t, s), " ")
					}
					t.Fatalf("unknown command %q", d.Cmd)
					return ""
				})
			})
		})
	}
}
