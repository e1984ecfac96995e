package workloads

import (
	"math"
	"testing"
)

// TestMeanObjectBytes checks the estimate against the bytes the loader
// actually writes.
func TestMeanObjectBytes(t *testing.T) {
	for _, name := range []string{"ycsb-a", "k8s"} {
		for _, vs := range []Size{Fixed(100), Between(10, 5000)} {
			spec, err := Preset(name)
			if err != nil {
				t.Fatal(err)
			}
			spec.Keys.Count = 20_000
			spec.ValueSize = vs
			spec.EnsureDefaults()
			ks, err := NewKeySpace(spec, 1)
			if err != nil {
				t.Fatal(err)
			}
			l, err := ks.Loader(0, 1)
			if err != nil {
				t.Fatal(err)
			}
			var op Op
			var total float64
			for l.Next(&op) {
				total += float64(len(op.Key) + len(op.Value))
			}
			got, want := spec.MeanObjectBytes(), total/float64(spec.Keys.Count)
			if math.Abs(got-want) > 0.03*want {
				t.Errorf("%s value %v: MeanObjectBytes %.1f, loader wrote %.1f per object", name, vs, got, want)
			}
		}
	}
}
