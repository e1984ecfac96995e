package main

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// raceEnabled is set by race_test.go under -race.
var raceEnabled bool

// TestNodeFlagInitialElectionTickAdvance: --initial-election-tick-advance
// is on by default (etcd's default) and maps to the node option.
func TestNodeFlagInitialElectionTickAdvance(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		advance bool
	}{
		{nil, true},
		{[]string{"--initial-election-tick-advance=true"}, true},
		{[]string{"--initial-election-tick-advance=false"}, false},
	} {
		var f nodeFlags
		fl := pflag.NewFlagSet("node", pflag.ContinueOnError)
		f.register(fl)
		if err := fl.Parse(append([]string{"--name", "a", "--data-dir", "/d"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := f.config()
		if err != nil {
			t.Fatal(err)
		}
		if got := !cfg.Node.NoInitialElectionTickAdvance; got != tc.advance {
			t.Errorf("%v: tick advance %v, want %v", tc.args, got, tc.advance)
		}
	}
}

// firstPutLimit is what the fresh single member must meet outside -race and
// -short: etcd's initial tick advance leaves 1 to ElectionTicks ticks (0.1 s
// to 1 s with the default flags) before the member campaigns, so 1 s plus
// time to start; without the advance it would be 1 s to 1.9 s.
const firstPutLimit = 1500 * time.Millisecond

// TestNodeFirstPutAfterPortOpen: a fresh single `etcdlab node` process with
// etcd's default timing (heartbeat 100ms, election 1000ms) acknowledges a
// put soon after its client port opens. It measures from the first TCP
// connection the port accepts to the first put acknowledged (puts refused
// with "no leader" are retried at once), and logs it. With
// ETCDLAB_COMPARE_ETCD set to an etcd binary it measures etcd the same way.
func TestNodeFirstPutAfterPortOpen(t *testing.T) {
	c := newProcCluster(t, 1)
	c.start(0)
	d := firstPutAfterPortOpen(t, c.client[0])
	t.Logf("etcdlab: first put acknowledged %v after the client port opened", d)
	if !raceEnabled && !testing.Short() && d > firstPutLimit {
		t.Errorf("first put %v after the port opened, want under %v", d, firstPutLimit)
	}

	if bin := os.Getenv("ETCDLAB_COMPARE_ETCD"); bin != "" {
		ec := newProcCluster(t, 1)
		args := ec.args(0)[1:] // the same flags, without "node"
		cmd := exec.Command(bin, args...)
		log, err := os.Create(filepath.Join(ec.dir, "etcd.log"))
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		d := firstPutAfterPortOpen(t, ec.client[0])
		t.Logf("etcd (%s): first put acknowledged %v after the client port opened", bin, d)
	}
}

// firstPutAfterPortOpen polls clientURL's port until it accepts a TCP
// connection, then puts until a put is acknowledged, and returns the time
// between the two.
func firstPutAfterPortOpen(t *testing.T, clientURL string) time.Duration {
	t.Helper()
	u, err := url.Parse(clientURL)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var open time.Time
	for {
		conn, err := net.DialTimeout("tcp", u.Host, 100*time.Millisecond)
		if err == nil {
			open = time.Now()
			_ = conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client port %s never opened: %v", u.Host, err)
		}
		time.Sleep(time.Millisecond)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{clientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := cli.Put(ctx, "first", "put")
		cancel()
		if err == nil {
			return time.Since(open)
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "no leader") {
			t.Fatalf("put %v after the port opened: %v", time.Since(open), err)
		}
		time.Sleep(time.Millisecond)
	}
}
