// Command etcd is the etcd 3.6 server, built from the Go module proxy: it only
// calls etcdmain.Main, so the binary is etcd's own code at the version go.mod pins.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
