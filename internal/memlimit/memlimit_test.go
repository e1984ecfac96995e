package memlimit

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeTree lays out a cgroup file system of version under a temp dir, the
// process in cgroup /svc/run, and returns Options for it. Only cgroupfs
// removes a directory that lists files, so rmdir removes the whole tree.
func fakeTree(t *testing.T, version string, delegated bool) (Options, string) {
	t.Helper()
	root := t.TempDir()
	base := root
	proc := "0::/svc/run\n"
	switch version {
	case V2:
		mustWrite(t, filepath.Join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n")
		sc := "cpu"
		if delegated {
			sc = "cpu memory"
		}
		mustWrite(t, filepath.Join(root, "svc/run/cgroup.subtree_control"), sc+"\n")
	case V1:
		base = filepath.Join(root, "memory")
		mustWrite(t, filepath.Join(base, "memory.limit_in_bytes"), "9223372036854771712\n")
		proc = "9:name=systemd:/\n4:memory:/svc/run\n3:cpu,cpuacct:/\n0::/\n"
	}
	mustWrite(t, filepath.Join(base, "svc/run/cgroup.procs"), "1\n")
	pf := filepath.Join(t.TempDir(), "cgroup")
	mustWrite(t, pf, proc)
	return Options{Limit: 1 << 30, Root: root, ProcCgroup: pf, PID: 4242, rmdir: os.RemoveAll}, filepath.Join(base, "svc/run")
}

func mustWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEnterLeave(t *testing.T) {
	// The fake kernel makes no files in a new group, so the swap limits
	// (written only where the file exists) stay out of this test.
	for _, c := range []struct {
		version, limitFile string
	}{
		{V2, "memory.max"},
		{V1, "memory.limit_in_bytes"},
	} {
		t.Run(c.version, func(t *testing.T) {
			o, cur := fakeTree(t, c.version, true)
			g, err := Enter(o)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(cur, "etcdlab-4242")
			if g.Version() != c.version || g.Dir() != dir || g.Limit() != 1<<30 {
				t.Fatalf("group %s at %s limit %d", g.Version(), g.Dir(), g.Limit())
			}
			if got := read(t, filepath.Join(dir, c.limitFile)); got != "1073741824" {
				t.Fatalf("%s = %q", c.limitFile, got)
			}
			if got := read(t, filepath.Join(dir, "cgroup.procs")); got != "4242" {
				t.Fatalf("cgroup.procs = %q", got)
			}
			peakFile := map[string]string{V1: "memory.max_usage_in_bytes", V2: "memory.peak"}[c.version]
			mustWrite(t, filepath.Join(dir, peakFile), "123456\n")
			if got := g.PeakBytes(); got != 123456 {
				t.Fatalf("PeakBytes %d, want 123456 from %s", got, peakFile)
			}
			if err := g.Leave(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("cgroup %s left behind: %v", dir, err)
			}
			if got := read(t, filepath.Join(cur, "cgroup.procs")); got != "4242" {
				t.Fatalf("process not moved back: parent's cgroup.procs = %q", got)
			}
		})
	}
}

// TestEnterExisting: a cgroup of the same name is never taken over.
func TestEnterExisting(t *testing.T) {
	o, cur := fakeTree(t, V2, true)
	mustWrite(t, filepath.Join(cur, "etcdlab-4242", "memory.swap.max"), "max")
	if _, err := Enter(o); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "creating cgroup") {
		t.Fatalf("err %v, want ErrUnavailable creating the cgroup", err)
	}
	if got := read(t, filepath.Join(cur, "etcdlab-4242", "memory.swap.max")); got != "max" {
		t.Fatalf("an existing cgroup was touched: memory.swap.max = %q", got)
	}
}

func TestEnterUnavailable(t *testing.T) {
	t.Run("v2 not delegated", func(t *testing.T) {
		o, cur := fakeTree(t, V2, false)
		_, err := Enter(o)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "subtree_control") {
			t.Fatalf("err %v", err)
		}
		if _, err := os.Stat(filepath.Join(cur, "etcdlab-4242")); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("a cgroup was created")
		}
	})
	t.Run("nothing mounted", func(t *testing.T) {
		_, err := Enter(Options{Limit: 1 << 30, Root: t.TempDir()})
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "neither cgroup v2") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("v2 without memory", func(t *testing.T) {
		root := t.TempDir()
		mustWrite(t, filepath.Join(root, "cgroup.controllers"), "cpu io\n")
		if _, err := Enter(Options{Limit: 1 << 30, Root: root}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("no membership line", func(t *testing.T) {
		o, _ := fakeTree(t, V1, true)
		mustWrite(t, o.ProcCgroup, "1:cpu:/\n")
		if _, err := Enter(o); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestValidate(t *testing.T) {
	o := Options{Limit: 1 << 20, Name: "a/b"}
	o.EnsureDefaults()
	err := o.Validate()
	if !errors.Is(err, ErrBadLimit) || !strings.Contains(err.Error(), "below the minimum") || !strings.Contains(err.Error(), "cgroup name") {
		t.Fatalf("err %v, want both problems", err)
	}
}

// TestRemoveStale: an empty etcdlab-<pid> group of a dead process is
// removed on the next Enter; a live process's, a non-empty one and others
// are not.
func TestRemoveStale(t *testing.T) {
	o, cur := fakeTree(t, V1, true)
	dead := filepath.Join(cur, "etcdlab-999999999") // above pid_max: not running
	live := filepath.Join(cur, "etcdlab-"+strconv.Itoa(os.Getpid()))
	busy := filepath.Join(cur, "etcdlab-999999998")
	other := filepath.Join(cur, "etcdlab-x")
	mustWrite(t, filepath.Join(dead, "cgroup.procs"), "")
	mustWrite(t, filepath.Join(live, "cgroup.procs"), "")
	mustWrite(t, filepath.Join(busy, "cgroup.procs"), "77\n")
	mustWrite(t, filepath.Join(other, "cgroup.procs"), "")
	g, err := Enter(o)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Leave()
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale group kept: %v", err)
	}
	for _, d := range []string{live, busy, other} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s removed: %v", d, err)
		}
	}
}
