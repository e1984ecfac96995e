package mvcc

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestKeyIndexDataDriven runs testdata/key_index*: one keyIndex per file,
// driven by put, tombstone, get, compact, keep, restore and print.
func TestKeyIndexDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/key_index", func(t *testing.T, path string) {
		var ki *keyIndex
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			rev := func() Revision {
				var r Revision
				d.ScanArgs(t, "rev", &r.Main)
				if d.HasArg("sub") {
					d.ScanArgs(t, "sub", &r.Sub)
				}
				return r
			}
			switch d.Cmd {
			case "new":
				var key string
				d.ScanArgs(t, "key", &key)
				ki = &keyIndex{key: []byte(key)}
				return "ok"
			case "put":
				if err := ki.put(rev()); err != nil {
					return "error: " + err.Error()
				}
				return ki.String()
			case "tombstone":
				if err := ki.tombstone(rev()); err != nil {
					return "error: " + err.Error()
				}
				return ki.String()
			case "restore":
				var created, ver int64
				d.ScanArgs(t, "created", &created)
				d.ScanArgs(t, "ver", &ver)
				ki.restore(Revision{Main: created}, rev(), ver)
				return ki.String()
			case "restore-tombstone":
				ki.restoreTombstone(rev())
				return ki.String()
			case "get":
				var at int64
				d.ScanArgs(t, "at", &at)
				mod, created, ver, err := ki.get(at)
				if err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprintf("mod=%v created=%v ver=%d", mod, created, ver)
			case "compact", "keep":
				var at int64
				d.ScanArgs(t, "at", &at)
				avail := map[Revision]struct{}{}
				if d.Cmd == "compact" {
					ki.compact(at, avail)
				} else {
					ki.keep(at, avail)
				}
				return fmt.Sprintf("available: %s\nindex: %s empty=%t", revSet(avail), ki, ki.isEmpty())
			case "print":
				return fmt.Sprintf("%s empty=%t", ki, ki.isEmpty())
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

func revSet(m map[Revision]struct{}) string {
	rs := make([]Revision, 0, len(m))
	for r := range m {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[j].GreaterThan(rs[i]) })
	ss := make([]string, len(rs))
	for i, r := range rs {
		ss[i] = r.String()
	}
	return "[" + strings.Join(ss, " ") + "]"
}
