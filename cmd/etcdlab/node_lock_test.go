package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNodeSecondProcessOnSameDataDirRefused: a second `etcdlab node` on the
// data dir of a running one (here with the memory engine, which locks no
// file of its own, and the same advertised peer URL) exits at once with an
// error naming the locked WAL, instead of running and acknowledging writes
// into the same log; the first node keeps serving.
func TestNodeSecondProcessOnSameDataDirRefused(t *testing.T) {
	c := newProcCluster(t, 1, "--engine", "memory")
	c.start(0)
	cli := c.newClient(c.client[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if _, err := cli.Put(ctx, "k", "v1"); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("first node never served a put: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ports := reservePorts(t, 2)
	args := c.args(0)
	for i, a := range args {
		// Other listeners, same data dir and advertised peer URL.
		if a == "--listen-client-urls" || a == "--advertise-client-urls" {
			args[i+1] = "http://" + ports[0]
		}
		if a == "--listen-peer-urls" {
			args[i+1] = "http://" + ports[1]
		}
	}
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	cmd := exec.CommandContext(sctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), nodeEnv+"=1")
	out, err := cmd.CombinedOutput()
	if sctx.Err() != nil {
		t.Fatalf("second node on %s was still running after 20s:\n%s", filepath.Join(c.dir, c.names[0]), out)
	}
	if err == nil || !strings.Contains(string(out), "in use by another writer") || !strings.Contains(string(out), "wal") {
		t.Fatalf("second node on the same data dir: err %v, output:\n%s", err, out)
	}
	t.Logf("second node refused: %s", strings.TrimSpace(string(out)))
	if _, err := cli.Put(ctx, "k", "v2"); err != nil {
		t.Fatalf("first node after the refused second one: %v", err)
	}
}
