// Command etcdlab runs etcdlab's benchmarks. It only binds flags to the
// library's Config structs (package bench) and prints results; the logic
// lives in the packages.
//
// Exit status: 0 on success, 1 when a run fails, 2 on a usage error (an
// unknown flag, a bad value, an unknown layer, engine, engine option or
// workload), 130 when a run was interrupted (its partial results are
// written).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
