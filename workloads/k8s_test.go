package workloads

import (
	"bytes"
	"compress/flate"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestK8sExampleIsThePreset keeps the shipped, commented k8s.yaml equal
// to the k8s preset, so the file documents the defaults the code has.
func TestK8sExampleIsThePreset(t *testing.T) {
	got, err := LoadSpec("k8s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := mustPreset(t, "k8s"); !reflect.DeepEqual(got, want) {
		ge, _ := got.Encode()
		we, _ := want.Encode()
		t.Fatalf("k8s.yaml:\n%s\npreset:\n%s", ge, we)
	}
}

// TestK8sSpecRoundTrip: a spec with a k8s section encodes to YAML that
// parses back to the same spec, and a file based on the preset overrides
// only what it names (a value_sizes entry replaces that resource's).
func TestK8sSpecRoundTrip(t *testing.T) {
	in := `base: k8s
keys: {count: 500}
k8s:
  time_scale: 10
  event_leases: false
  leader_election: {objects: 3}
  value_sizes:
    pods: 4096
    events: {min: 100, max: 200, tail: 0.5, tail_max: 900}
`
	s, err := ParseSpec([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	k := s.K8s
	if k.TimeScale != 10 || k.Leases() || k.LeaderElection.Objects != 3 || k.LeaderElection.Interval != 2 || k.PageSize != 500 ||
		k.ValueSizes["pods"] != (ValueDist{Min: 4096, Max: 4096}) || k.ValueSizes["secrets"] != K8sValueSizes()["secrets"] ||
		k.ValueSizes["events"] != (ValueDist{Min: 100, Max: 200, Tail: 0.5, TailMax: 900}) || !k.Watches() || s.Keys.Count != 500 {
		t.Fatalf("parsed %+v", *k)
	}
	enc, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSpec(enc)
	if err != nil {
		t.Fatalf("%v\n%s", err, enc)
	}
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip changed the spec:\n%s", enc)
	}
	// NewKeySpace owns its copy: changing the caller's spec changes nothing.
	ks := mustKeySpace(t, s, 1)
	s.K8s.ValueSizes["pods"] = ValueDist{Min: 1, Max: 1}
	s.K8s.TimeScale = 99
	if ks.Spec().K8s.TimeScale != 10 || ks.Spec().K8s.ValueSizes["pods"].Min != 4096 {
		t.Fatal("the key space shares the caller's k8s section")
	}
}

// TestK8sSpecErrors: YAML mistakes name the field and its line, and
// validation names the field by its path.
func TestK8sSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown k8s field", "base: k8s\nk8s:\n  time_scle: 10\n", []string{"line 3: field time_scle not found"}},
		{"unknown value size field", "base: k8s\nk8s:\n  value_sizes:\n    pods: {min: 1, avg: 2}\n", []string{"line 4: field avg not found in value size"}},
		{"value size not a number", "base: k8s\nk8s:\n  value_sizes:\n    pods: big\n", []string{"line 4: size \"big\" is not an integer"}},
		{"bad numbers", "base: k8s\ncompressible: 1.5\nk8s:\n  time_scale: -1\n  page_size: -5\n  get_at_revision: 2\n  lease_max_keys: -1\n", []string{
			"compressible: 1.5 not in [0, 1]", "k8s.time_scale: -1 is not a factor > 0", "k8s.page_size: negative limit -5",
			"k8s.get_at_revision: 2 not in [0, 1]", "k8s.lease_max_keys: -1 must be at least 1"}},
		{"value sizes", "base: k8s\nk8s:\n  value_sizes:\n    nodes: 10\n    pods: {min: 10, max: 5}\n    events: {min: 10, max: 20, tail: 0.1, tail_max: 15}\n", []string{
			"k8s.value_sizes.nodes: not one of keys.resources", "k8s.value_sizes.pods: min 10 > max 5", "k8s.value_sizes.events.tail_max: 15 is below max 20"}},
		{"event resource", "base: k8s\nkeys: {resources: [pods]}\nk8s:\n  value_sizes: null\n", []string{`k8s.event_resource: "events" is not one of keys.resources [pods] (or set k8s.event_leases: false)`}},
		{"flat keys", "ops: {get: 1}\nk8s: {time_scale: 2}\n", []string{"k8s: needs keys.shape k8s"}},
		{"plain puts", "base: k8s\nops: {put: 0.5, txn_cas: 0.5}\n", []string{"ops: put and rmw are no apiserver request"}},
		{"election", "base: k8s\nk8s:\n  leader_election: {objects: 1, interval: -2, resource: a/b}\n", []string{
			"k8s.leader_election.interval: -2 is not a time > 0", `k8s.leader_election.resource: "a/b" is not a resource name`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.yaml))
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("ParseSpec: %v, want ErrInvalidSpec", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// TestMeanObjectBytes: the expected key plus value bytes of an object is
// what the loader writes on average, for k8s and flat keys.
func TestMeanObjectBytes(t *testing.T) {
	flat := validSpec()
	flat.Keys.Size = Between(10, 30)
	flat.ValueSize = Between(100, 300)
	for name, s := range map[string]Spec{"k8s": mustPreset(t, "k8s"), "flat": flat} {
		t.Run(name, func(t *testing.T) {
			s.Keys.Count = 50_000
			ks := mustKeySpace(t, s, testSeed(t))
			l, err := ks.Loader(0, 1)
			if err != nil {
				t.Fatal(err)
			}
			var op Op
			var sum float64
			for l.Next(&op) {
				sum += float64(len(op.Key) + len(op.Value))
			}
			got, want := sum/float64(l.Len()), s.MeanObjectBytes()
			if math.Abs(got-want)/want > 0.02 {
				t.Fatalf("loader's mean %.0f bytes, MeanObjectBytes %.0f", got, want)
			}
		})
	}
}

// TestK8sValueSizes: each resource's values follow its distribution,
// with the tail's share above max.
func TestK8sValueSizes(t *testing.T) {
	s := mustPreset(t, "k8s")
	ks := mustKeySpace(t, s, testSeed(t))
	g := ks.Generator(0)
	var op Op
	tail := map[string][2]int{} // resource -> (above max, writes)
	for range 200_000 {
		next(t, g, &op)
		if op.Value == nil {
			continue
		}
		r := ks.Resources()[ks.Resource(op.ID)]
		d := s.K8s.ValueSizes[r]
		if len(op.Value) < d.Min || len(op.Value) > d.largest() {
			t.Fatalf("%s value of %d bytes, want in [%d, %d]", r, len(op.Value), d.Min, d.largest())
		}
		c := tail[r]
		if len(op.Value) > d.Max {
			c[0]++
		}
		c[1]++
		tail[r] = c
	}
	for r, c := range tail {
		got, want := float64(c[0])/float64(c[1]), s.K8s.ValueSizes[r].Tail
		if math.Abs(got-want) > 0.01 {
			t.Errorf("%s: %.3f of values in the tail, want %.3f", r, got, want)
		}
	}
}

// TestCompressible: a compressor keeps about 1 - compressible of a value
// (flate here; snappy, pebble's, measured 1.03 - 0.9 x compressible).
func TestCompressible(t *testing.T) {
	for _, c := range []float64{0, 0.3, 0.5, 0.8} {
		s := validSpec()
		s.ValueSize = Fixed(4096)
		s.Compressible = c
		ks := mustKeySpace(t, s, testSeed(t))
		v := ks.Values(1 << 40)
		var in, out int
		for range 64 {
			val := v.Of(0)
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, flate.BestSpeed)
			_, _ = w.Write(val)
			_ = w.Close()
			in, out = in+len(val), out+buf.Len()
		}
		ratio := float64(out) / float64(in)
		if ratio < 1-c-0.05 || ratio > 1-c+0.1 {
			t.Errorf("compressible %v: compressed to %.3f", c, ratio)
		}
	}
}

// TestK8sID: every k8s key parses back to its id; other keys do not.
func TestK8sID(t *testing.T) {
	ks := mustKeySpace(t, mustPreset(t, "k8s"), 1)
	for _, id := range []uint64{0, 1, 4, 5, 49, 50, 12345, 999_999*50 + 49} {
		if got, ok := ks.K8sID(ks.AppendKey(nil, id)); !ok || got != id {
			t.Errorf("id %d: key %q parsed to %d %v", id, ks.AppendKey(nil, id), got, ok)
		}
	}
	for _, k := range []string{"compact_rev_key", "/registry/leases/kube-system/kube-scheduler", "/registry/pods/ns-0000x/pod-000001",
		"/registry/pods/ns-00010/pod-000001", "/registry/pods/ns-00001/pod-0000011", "/registry/pods/ns-00001/event-00001"} {
		if id, ok := ks.K8sID([]byte(k)); ok {
			t.Errorf("%q parsed to %d", k, id)
		}
	}
}
