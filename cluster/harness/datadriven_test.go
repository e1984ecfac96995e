package harness_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/harness"
)

// TestScenarios runs testdata/scenarios/*: each file opens with a prose
// comment and drives a cluster with
//
//	start nodes=N [engine=E] [snapshot-count=K] [quota=B]
//	wait-leader                  -> "ok" once every running node agrees
//	put node=I|leader|follower key=K value=V   -> rev=R or the error
//	get node=... key=K [serializable]          -> K=V version=N mod=R, or the error
//	del node=... key=K                         -> deleted=N
//	kill|stop|restart node=I|leader|follower   (the role resolves to an ID)
//	isolate node=...; heal
//	converged                    -> rev=R once every node agrees (hash too)
//	members                      -> the member list of the leader
//	alarms                       -> the alarms of every node
//
// Node roles (leader, follower) keep the output independent of which node
// won an election.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/scenarios", func(t *testing.T, path string) {
		var c *harness.Cluster
		roles := map[string]uint64{}
		isolated := map[uint64]bool{}
		// leader is the highest-term leader outside the isolated nodes.
		leader := func() uint64 {
			var id uint64
			waitFor(t, "a leader", 20*time.Second, func() bool {
				id = 0
				var term uint64
				for _, n := range c.Nodes() {
					if n.IsLeader() && !isolated[n.ID()] && n.Term() >= term {
						id, term = n.ID(), n.Term()
					}
				}
				return id != 0
			})
			return id
		}
		defer func() {
			if c != nil {
				_ = c.Close()
			}
		}()
		ctx := context.Background()
		// resolve gives the ID of the node the command names (running or not).
		resolve := func(d *datadriven.TestData) uint64 {
			var s string
			d.ScanArgs(t, "node", &s)
			var id uint64
			switch s {
			case "leader":
				id = leader()
			case "follower":
				l := leader()
				for _, n := range c.Nodes() {
					if n.ID() != l && !isolated[n.ID()] {
						id = n.ID()
						break
					}
				}
			default:
				if r, ok := roles[s]; ok {
					id = r
				} else if _, err := fmt.Sscan(s, &id); err != nil {
					d.Fatalf(t, "bad node %q", s)
				}
			}
			if d.HasArg("as") {
				var as string
				d.ScanArgs(t, "as", &as)
				roles[as] = id
			}
			return id
		}
		errText := func(err error) string { return "error: " + err.Error() + "\n" }
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "start":
				nodes, engine := 3, "memory"
				d.MaybeScanArgs(t, "nodes", &nodes)
				d.MaybeScanArgs(t, "engine", &engine)
				o := fastNode(engine)
				if d.HasArg("snapshot-count") {
					d.ScanArgs(t, "snapshot-count", &o.SnapshotCount)
					o.SnapshotCatchUpEntries = o.SnapshotCount / 2
				}
				if d.HasArg("quota") {
					d.ScanArgs(t, "quota", &o.QuotaBytes)
				}
				o.RequestTimeout = 2 * time.Second
				var err error
				c, err = harness.Start(harness.Options{Nodes: nodes, Dir: t.TempDir(), Node: o, Seed: testSeed(t)})
				if err != nil {
					return errText(err)
				}
				return "ok\n"
			case "wait-leader":
				waitLeader(t, c)
				return "ok\n"
			case "put":
				n := c.Node(resolve(d))
				var k, v string
				d.ScanArgs(t, "key", &k)
				d.ScanArgs(t, "value", &v)
				r, err := n.Put(ctx, put(k, v))
				if err != nil {
					return errText(err)
				}
				return fmt.Sprintf("rev=%d\n", r.Header.Revision)
			case "get":
				n := c.Node(resolve(d))
				var k string
				d.ScanArgs(t, "key", &k)
				r, err := n.Range(ctx, &pb.RangeRequest{Key: []byte(k), Serializable: d.HasArg("serializable")})
				if err != nil {
					if errors.Is(err, cluster.ErrTimeout) || errors.Is(err, cluster.ErrLeaderChanged) || errors.Is(err, cluster.ErrNoLeader) {
						return "error: not served (no quorum)\n"
					}
					return errText(err)
				}
				if len(r.Kvs) == 0 {
					return "not found\n"
				}
				kv := r.Kvs[0]
				return fmt.Sprintf("%s=%s version=%d mod=%d\n", kv.Key, kv.Value, kv.Version, kv.ModRevision)
			case "del":
				n := c.Node(resolve(d))
				var k string
				d.ScanArgs(t, "key", &k)
				r, err := n.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: []byte(k)})
				if err != nil {
					return errText(err)
				}
				return fmt.Sprintf("deleted=%d\n", r.Deleted)
			case "kill", "stop", "restart", "isolate":
				id := resolve(d)
				var err error
				switch d.Cmd {
				case "kill":
					err = c.Kill(id)
				case "stop":
					err = c.Stop(id)
				case "restart":
					err = c.Restart(id)
				case "isolate":
					c.Network().Isolate(id)
					isolated[id] = true
					// Wait until the rest elected someone else.
					waitFor(t, "a leader other than the isolated node", 20*time.Second, func() bool {
						for _, o := range c.Nodes() {
							if o.ID() != id && o.IsLeader() {
								return true
							}
						}
						return false
					})
				}
				if err != nil {
					return errText(err)
				}
				return "ok\n"
			case "heal":
				c.Heal()
				clear(isolated)
				return "ok\n"
			case "converged":
				checkConverged(t, c)
				return fmt.Sprintf("rev=%d\n", c.Nodes()[0].Rev())
			case "members":
				var b strings.Builder
				for _, m := range c.Node(waitLeader(t, c)).Members() {
					fmt.Fprintf(&b, "%d learner=%v\n", m.ID, m.Learner)
				}
				return b.String()
			case "alarms":
				var lines []string
				for _, n := range c.Nodes() {
					for _, a := range n.AlarmList() {
						lines = append(lines, fmt.Sprintf("node %d: %s", n.ID(), a.Alarm))
					}
				}
				sort.Strings(lines)
				if len(lines) == 0 {
					return "none\n"
				}
				return strings.Join(dedupe(lines), "\n") + "\n"
			}
			d.Fatalf(t, "unknown command %s", d.Cmd)
			return ""
		})
	})
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
