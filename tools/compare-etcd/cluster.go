package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Binaries are the executables a run uses.
type Binaries struct {
	Etcd, Benchmark, Etcdlab string
}

// buildAll builds etcd and the benchmark tool from this module, and etcdlab
// from the main module when an etcdlab system is asked for: from a clean
// export of commit rev (so that other people's uncommitted edits in the
// shared tree never end up in the measured binary), or from the working tree
// as it is when rev is "worktree".
func buildAll(ctx context.Context, out, repo, rev string, systems []string) (Binaries, error) {
	binDir := filepath.Join(out, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return Binaries{}, err
	}
	b := Binaries{
		Etcd:      filepath.Join(binDir, "etcd"),
		Benchmark: filepath.Join(binDir, "benchmark"),
	}
	here, err := os.Getwd()
	if err != nil {
		return b, err
	}
	steps := []struct{ dir, out, pkg string }{
		{here, b.Etcd, "./cmd/etcd"},
		{here, b.Benchmark, "./cmd/benchmark"},
	}
	for _, s := range systems {
		if strings.HasPrefix(s, "etcdlab-") {
			b.Etcdlab = filepath.Join(binDir, "etcdlab")
			src := repo
			if rev != "worktree" {
				if src, err = exportRev(ctx, repo, rev, filepath.Join(out, "src-etcdlab")); err != nil {
					return b, err
				}
			}
			steps = append(steps, struct{ dir, out, pkg string }{src, b.Etcdlab, "./cmd/etcdlab"})
			break
		}
	}
	for _, s := range steps {
		fmt.Fprintf(os.Stderr, "building %s in %s\n", s.pkg, s.dir)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", s.out, s.pkg)
		cmd.Dir = s.dir
		// The main module must be built as itself, never through a
		// workspace that might sit above it.
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if outb, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s in %s: %v\n%s", s.pkg, s.dir, err, outb)
		}
	}
	if b.Etcdlab != "" {
		// etcdlab node must exist: fail before measuring anything.
		cmd := exec.CommandContext(ctx, b.Etcdlab, "node", "--help")
		if outb, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("%s node --help: %v (does this etcdlab have the node command?)\n%s", b.Etcdlab, err, outb)
		}
	}
	return b, nil
}

// exportRev writes the tree of commit rev of the git repository at repo into
// a fresh directory dst (git archive, then tar) and returns dst.
func exportRev(ctx context.Context, repo, rev, dst string) (string, error) {
	if err := os.RemoveAll(dst); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", err
	}
	tarPath := dst + ".tar"
	defer os.Remove(tarPath)
	arch := exec.CommandContext(ctx, "git", "-C", repo, "archive", "--format=tar", "-o", tarPath, rev)
	if outb, err := arch.CombinedOutput(); err != nil {
		return "", fmt.Errorf("git archive %s in %s: %v\n%s", rev, repo, err, outb)
	}
	untar := exec.CommandContext(ctx, "tar", "-xf", tarPath, "-C", dst)
	if outb, err := untar.CombinedOutput(); err != nil {
		return "", fmt.Errorf("tar -xf %s: %v\n%s", tarPath, err, outb)
	}
	return dst, nil
}

// Settings shared by etcd and etcdlab: etcd 3.6's defaults, passed
// explicitly so that both get the same values even if a default drifts.
var commonFlags = []string{
	"--snapshot-count=10000",
	"--quota-backend-bytes=2147483648",
	"--backend-batch-interval=100ms",
	"--backend-batch-limit=10000",
	"--heartbeat-interval=100",
	"--election-timeout=1000",
}

type node struct {
	name       string
	clientURL  string
	peerURL    string
	dataDir    string
	logPath    string
	cmd        *exec.Cmd
	logFile    *os.File
	exited     chan struct{}
	exitErr    error
	clientAddr string
}

// cluster is a running set of nodes of one system.
type cluster struct {
	system string
	nodes  []*node
}

func (c *cluster) endpoints() []string {
	var eps []string
	for _, n := range c.nodes {
		eps = append(eps, n.clientAddr)
	}
	return eps
}

// freePorts asks the kernel for n free ports on 127.0.0.1. They are released
// before the servers bind them; a clash shows up as a failed start.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startCluster starts n nodes of system under dir, each with a fresh data
// directory, and waits until a write and a read go through.
func startCluster(ctx context.Context, bins Binaries, system string, n int, dir string) (*cluster, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &cluster{system: system}
	var initial []string
	for i := 0; i < n; i++ {
		nd := &node{
			name:    fmt.Sprintf("n%d", i+1),
			dataDir: filepath.Join(dir, fmt.Sprintf("n%d.data", i+1)),
			logPath: filepath.Join(dir, fmt.Sprintf("n%d.log", i+1)),
		}
		nd.clientAddr = fmt.Sprintf("127.0.0.1:%d", ports[2*i])
		nd.clientURL = "http://" + nd.clientAddr
		nd.peerURL = fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		initial = append(initial, nd.name+"="+nd.peerURL)
		c.nodes = append(c.nodes, nd)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, nd := range c.nodes {
		args := []string{
			"--name=" + nd.name,
			"--data-dir=" + nd.dataDir,
			"--listen-client-urls=" + nd.clientURL,
			"--advertise-client-urls=" + nd.clientURL,
			"--listen-peer-urls=" + nd.peerURL,
			"--initial-advertise-peer-urls=" + nd.peerURL,
			"--initial-cluster=" + strings.Join(initial, ","),
			"--initial-cluster-state=new",
		}
		args = append(args, commonFlags...)
		bin := bins.Etcd
		switch system {
		case "etcd":
		case "etcdlab-bbolt", "etcdlab-pebble":
			bin = bins.Etcdlab
			args = append([]string{"node", "--engine=" + strings.TrimPrefix(system, "etcdlab-")}, args...)
		default:
			return nil, fmt.Errorf("unknown system %q", system)
		}
		if err := nd.start(bin, args); err != nil {
			c.stop()
			return nil, err
		}
	}
	if err := c.waitHealthy(ctx, 60*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (nd *node) start(bin string, args []string) error {
	f, err := os.Create(nd.logPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "# %s %s\n", bin, strings.Join(args, " "))
	nd.logFile = f
	// Not CommandContext: stopping is done by stop(), with SIGTERM first.
	nd.cmd = exec.Command(bin, args...)
	nd.cmd.Stdout = f
	nd.cmd.Stderr = f
	nd.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := nd.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", nd.name, err)
	}
	nd.exited = make(chan struct{})
	go func() {
		nd.exitErr = nd.cmd.Wait()
		close(nd.exited)
	}()
	return nil
}

// waitHealthy waits until a put and a linearizable get succeed through every
// endpoint, or a node exits, or the timeout passes.
func (c *cluster) waitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for _, nd := range c.nodes {
		for {
			select {
			case <-nd.exited:
				return fmt.Errorf("%s exited during start: %v (log %s):\n%s", nd.name, nd.exitErr, nd.logPath, tail(nd.logPath, 20))
			default:
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not healthy after %v: %v (log %s):\n%s", nd.name, timeout, last, nd.logPath, tail(nd.logPath, 20))
			}
			last = probe(ctx, nd.clientAddr)
			if last == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

func probe(ctx context.Context, ep string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := cli.Put(cctx, "compare-etcd/health", "ok"); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	r, err := cli.Get(cctx, "compare-etcd/health")
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "ok" {
		return fmt.Errorf("get returned %d kvs, want the value just written", len(r.Kvs))
	}
	return nil
}

// seed writes the key the range cases read, with a value the size the put
// cases use, and checks it reads back from every endpoint.
func (c *cluster) seed(ctx context.Context, key string, valSize int) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints()[:1], DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	val := strings.Repeat("v", valSize)
	if _, err := cli.Put(cctx, key, val); err != nil {
		return fmt.Errorf("seed put %q: %w", key, err)
	}
	for _, ep := range c.endpoints() {
		ecli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return err
		}
		r, err := ecli.Get(cctx, key)
		ecli.Close()
		if err != nil {
			return fmt.Errorf("seed get %q from %s: %w", key, ep, err)
		}
		if len(r.Kvs) != 1 || len(r.Kvs[0].Value) != valSize {
			return fmt.Errorf("seed get %q from %s: got %d kvs, want the %d-byte value", key, ep, len(r.Kvs), valSize)
		}
	}
	return nil
}

// alive reports an error naming any node that has exited.
func (c *cluster) alive() error {
	var errs []error
	for _, nd := range c.nodes {
		select {
		case <-nd.exited:
			errs = append(errs, fmt.Errorf("%s exited: %v (log %s):\n%s", nd.name, nd.exitErr, nd.logPath, tail(nd.logPath, 20)))
		default:
		}
	}
	return errors.Join(errs...)
}

// stop sends SIGTERM to every node, then SIGKILL to those still running
// after 15 s.
func (c *cluster) stop() {
	for _, nd := range c.nodes {
		if nd.cmd != nil && nd.cmd.Process != nil {
			_ = nd.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, nd := range c.nodes {
		if nd.exited == nil {
			continue
		}
		select {
		case <-nd.exited:
		case <-time.After(15 * time.Second):
			_ = nd.cmd.Process.Kill()
			<-nd.exited
			fmt.Fprintf(nd.logFile, "# compare-etcd: killed after 15 s without exiting on SIGTERM\n")
		}
		nd.logFile.Close()
	}
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
