package workloads_test

import (
	"fmt"

	"etcdlab/workloads"
)

func Example() {
	spec, err := workloads.ParseSpec([]byte(`
base: ycsb-b
keys: {count: 1000}
read_consistency: serializable
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ks, err := workloads.NewKeySpace(spec, 42) // record the seed with the results
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("preload", ks.Preload(), "keys")
	g := ks.Generator(0) // one per worker
	var op workloads.Op
	for range 3 {
		if err := g.Next(&op); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %s value=%dB serializable=%v\n", op.Kind, op.Key, len(op.Value), op.Serializable)
	}
	_, err = workloads.ParseSpec([]byte("ops: {get: 0.5, put: 0.4}\nvalue_size: {min: -1, max: 10}\n"))
	fmt.Println(err)
	// Output:
	// preload 1000 keys
	// get user00000000000000000293 value=0B serializable=true
	// put user00000000000000000413 value=1000B serializable=false
	// get user00000000000000000211 value=0B serializable=true
	// workloads: invalid spec: value_size.min: negative size -1
	// workloads: invalid spec: ops: fractions add up to 0.9, want 1
}
