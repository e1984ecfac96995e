package workloads

import "testing"

// BenchmarkNext measures the cost of generating one op, which the runner
// pays on every request: it must stay far below a request's latency.
func BenchmarkNext(b *testing.B) {
	for _, name := range Presets() {
		b.Run("workload="+name, func(b *testing.B) {
			ks := mustKeySpace(b, mustPreset(b, name), *seedFlag)
			g := ks.Generator(0)
			var op Op
			var bytes int64
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := g.Next(&op); err != nil {
					b.Fatal(err)
				}
				bytes += int64(len(op.Key) + len(op.Value))
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "op-bytes/op")
		})
	}
}

// BenchmarkNewKeySpace measures setup, dominated by zeta for a non-default
// theta (O(ids)) and the value block.
func BenchmarkNewKeySpace(b *testing.B) {
	for _, tc := range []struct {
		name  string
		theta float64
	}{{"theta=0.99", 0.99}, {"theta=0.8", 0.8}} {
		b.Run(tc.name, func(b *testing.B) {
			s := mustPreset(b, "ycsb-a")
			s.Keys.Theta = tc.theta
			for b.Loop() {
				mustKeySpace(b, s, 1)
			}
		})
	}
}
