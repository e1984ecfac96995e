package v3rpc

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"etcdlab/internal/clock"

	"github.com/HdrHistogram/hdrhistogram-go"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkClient measures one request through etcd's client, gRPC and the
// API layer down to an mvcc store (no raft): the cost etcdlab's v3 API adds
// on top of the storage pipeline. Reported: ns/op and p50/p99 latency.
func BenchmarkClient(b *testing.B) {
	const keys = 1000
	for _, engineName := range []string{"memory", "bbolt", "pebble"} {
		for _, op := range []string{"put", "range", "txn-cas"} {
			b.Run(fmt.Sprintf("engine=%s/op=%s/value=256", engineName, op), func(b *testing.B) {
				env := startEnv(b, engineName, Options{})
				ctx := context.Background()
				value := strings.Repeat("v", 256)
				for i := range keys {
					mustPut(b, ctx, env.cli, fmt.Sprintf("key%06d", i), value)
				}
				do := map[string]func(i int) error{
					"put": func(i int) error {
						_, err := env.cli.Put(ctx, fmt.Sprintf("key%06d", i%keys), value)
						return err
					},
					"range": func(i int) error {
						_, err := env.cli.Get(ctx, fmt.Sprintf("key%06d", i%keys))
						return err
					},
					"txn-cas": func(i int) error {
						k := fmt.Sprintf("key%06d", i%keys)
						_, err := env.cli.Txn(ctx).If(clientv3.Compare(clientv3.Version(k), ">", 0)).
							Then(clientv3.OpPut(k, value)).Commit()
						return err
					},
				}[op]
				clk := clock.Real()
				hist := hdrhistogram.New(1, 10_000_000_000, 3)
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					start := clk.Now()
					if err := do(i); err != nil {
						b.Fatal(err)
					}
					_ = hist.RecordValue(clk.Since(start).Nanoseconds())
				}
				b.ReportMetric(float64(hist.ValueAtQuantile(50)), "p50-ns")
				b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-ns")
			})
		}
	}
}
