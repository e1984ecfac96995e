// Command benchmark is etcd's own benchmark tool (go.etcd.io/etcd/v3
// tools/benchmark) built from the Go module proxy. etcd's root module carries
// replace directives, so `go install go.etcd.io/etcd/v3/tools/benchmark@v3.6.x`
// is refused; this main only calls the tool's root command, the same thing its
// own main does, so nothing of the tool is reimplemented here.
package main

import (
	"fmt"
	"os"

	"go.etcd.io/etcd/v3/tools/benchmark/cmd"
)

func main() {
	if err := cmd.RootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
