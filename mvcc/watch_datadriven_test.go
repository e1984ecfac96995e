package mvcc

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestWatchDataDriven runs testdata/watch/* on every engine. Watchers are
// registered on the store directly, each with its own channel (buf=), and
// the sync and victim passes run only when a command says so, so every
// response is sent from the command's goroutine and `recv` sees exactly what
// was sent. Commands: put, del, txn-put (keys=a,b), watch (id, k, end (all: to the last key), rev,
// buf, noput, nodelete), sync, victims, compact, recv (id), groups.
func TestWatchDataDriven(t *testing.T) {
	for _, name := range testEngineNames() {
		t.Run("engine="+name, func(t *testing.T) {
			datadriven.Walk(t, "testdata/watch", func(t *testing.T, path string) {
				s := openStore(t, name, t.TempDir(), Config{WatchBatchMaxRevs: 2})
				defer func() { _ = s.Close() }()
				chans := map[WatchID]chan WatchResponse{}
				ws := map[WatchID]*watcher{}
				datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
					str := func(k string) string {
						var v string
						if d.HasArg(k) {
							d.ScanArgs(t, k, &v)
						}
						return v
					}
					num := func(k string, def int64) int64 {
						if !d.HasArg(k) {
							return def
						}
						var v int64
						d.ScanArgs(t, k, &v)
						return v
					}
					switch d.Cmd {
					case "put":
						return fmt.Sprintf("rev=%d", wput(t, s, str("k"), str("v")))
					case "del":
						r, err := s.DeleteRange(&pb.DeleteRangeRequest{Key: []byte(str("k")), RangeEnd: []byte(str("end"))})
						if err != nil {
							return "error: " + err.Error()
						}
						return fmt.Sprintf("deleted=%d rev=%d", r.Deleted, r.Header.Revision)
					case "txn-put":
						var ops []*pb.RequestOp
						for _, k := range strings.Split(str("keys"), ",") {
							ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k), Value: []byte(str("v"))}}})
						}
						r, err := s.Txn(&pb.TxnRequest{Success: ops})
						if err != nil {
							return "error: " + err.Error()
						}
						return fmt.Sprintf("rev=%d", r.Header.Revision)
					case "watch":
						id := WatchID(num("id", 0))
						ch := make(chan WatchResponse, num("buf", 128))
						var end []byte
						switch e := str("end"); e {
						case "":
						case "all": // range_end "\x00": every key from k on
							end = []byte{}
						default:
							end = []byte(e)
						}
						opts := WatchOptions{NoPut: d.HasArg("noput"), NoDelete: d.HasArg("nodelete")}
						ws[id] = s.watchKey([]byte(str("k")), end, num("rev", 0), id, opts, ch)
						chans[id] = ch
						return watcherState(s, ws[id])
					case "sync":
						return fmt.Sprintf("unsynced=%d", s.syncWatchers())
					case "victims":
						return fmt.Sprintf("moved=%d", s.moveVictims())
					case "compact":
						if err := s.CompactSync(num("rev", 0)); err != nil {
							return "error: " + err.Error()
						}
						return "ok"
					case "recv":
						var out []string
						for ch := chans[WatchID(num("id", 0))]; ; {
							select {
							case r := <-ch:
								out = append(out, respString(r))
								continue
							default:
							}
							break
						}
						if len(out) == 0 {
							return "none"
						}
						return strings.Join(out, "\n")
					case "groups":
						ids := make([]int, 0, len(ws))
						for id := range ws {
							ids = append(ids, int(id))
						}
						sort.Ints(ids)
						var out []string
						for _, id := range ids {
							out = append(out, fmt.Sprintf("%d: %s", id, watcherState(s, ws[WatchID(id)])))
						}
						return strings.Join(out, "\n")
					}
					t.Fatalf("unknown command %q", d.Cmd)
					return ""
				})
			})
		})
	}
}

func watcherState(s *Store, w *watcher) string {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	switch {
	case w.compacted:
		return "compacted"
	case w.victim:
		return fmt.Sprintf("victim min-rev=%d", w.minRev)
	case s.watch.synced.has(w):
		return fmt.Sprintf("synced min-rev=%d", w.minRev)
	case s.watch.unsynced.has(w):
		return fmt.Sprintf("unsynced min-rev=%d", w.minRev)
	}
	return "gone"
}
