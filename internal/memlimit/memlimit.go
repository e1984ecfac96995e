// Package memlimit runs the process in a memory-limited cgroup of its own,
// so that a run's page cache counts against the limit (both cgroup
// versions charge it) and data larger than memory can be studied on a
// machine with more memory than that.
//
// Contract:
//   - Enter creates a cgroup named Options.Name as a child of the cgroup the
//     process is in now (never above it: a limit the process is under
//     already keeps applying), sets its memory limit, and moves the whole
//     process (every thread) into it. cgroup v2 is used when the unified
//     hierarchy is mounted at Options.Root (memory.max, and memory.swap.max
//     0 when present so swap does not dodge the limit), else cgroup v1's
//     memory controller at Root/memory (memory.limit_in_bytes, and
//     memory.memsw.limit_in_bytes equal to it when present).
//   - Group.Leave moves the process back to the cgroup it came from and
//     removes the one Enter made; the pages charged to it go to the parent
//     (the kernel reparents them). A process killed before Leave (the OOM
//     killer, when the limit is too tight for the process itself) leaves an
//     empty cgroup behind, named after its pid: the next Enter under the
//     same parent removes those whose process is gone.
//   - Every failure is an error wrapping ErrUnavailable (no memory
//     controller, no permission, a read-only cgroup file system, the v2
//     controller not delegated to the current cgroup) or ErrBadLimit, and
//     says what to do; Enter undoes what it did before failing.
package memlimit

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Cgroup versions, as Group.Version reports them.
const (
	V2 = "v2"
	V1 = "v1"
)

// MinLimit is the smallest limit Enter accepts: below it the Go runtime and
// an in-process cluster cannot start.
const MinLimit = 64 << 20

var (
	// ErrUnavailable marks a machine or process where the limit cannot be
	// set.
	ErrUnavailable = errors.New("memlimit: cgroup memory limit unavailable")
	// ErrBadLimit marks a limit below MinLimit.
	ErrBadLimit = errors.New("memlimit: bad limit")
)

// Options says which limit to set and where the cgroup file system is.
type Options struct {
	// Limit is the memory limit in bytes, at least MinLimit.
	Limit int64
	// Root is the cgroup file system's mount point. Default /sys/fs/cgroup.
	Root string
	// ProcCgroup is the process's cgroup membership file. Default
	// /proc/self/cgroup.
	ProcCgroup string
	// PID is the process moved. Default os.Getpid().
	PID int
	// Name is the new cgroup's name. Default "etcdlab-<PID>".
	Name string

	// rmdir removes a cgroup directory (os.Remove; tests on a plain
	// directory replace it, since only cgroupfs removes a directory that
	// lists files).
	rmdir func(string) error
}

// EnsureDefaults fills unset fields with their documented defaults.
func (o *Options) EnsureDefaults() {
	if o.Root == "" {
		o.Root = "/sys/fs/cgroup"
	}
	if o.ProcCgroup == "" {
		o.ProcCgroup = "/proc/self/cgroup"
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.Name == "" {
		o.Name = "etcdlab-" + strconv.Itoa(o.PID)
	}
	if o.rmdir == nil {
		o.rmdir = os.Remove
	}
}

// Validate reports every problem of an EnsureDefaults'd Options.
func (o *Options) Validate() error {
	var errs []error
	if o.Limit < MinLimit {
		errs = append(errs, fmt.Errorf("%w: %d bytes is below the minimum of %d", ErrBadLimit, o.Limit, MinLimit))
	}
	if o.Name == "" || strings.ContainsAny(o.Name, "/\x00") || o.Name == "." || o.Name == ".." {
		errs = append(errs, fmt.Errorf("%w: cgroup name %q", ErrBadLimit, o.Name))
	}
	return errors.Join(errs...)
}

// Group is the cgroup the process entered.
type Group struct {
	version string
	dir     string // the new cgroup
	from    string // the cgroup the process came from
	pid     int
	limit   int64
	rmdir   func(string) error
}

// Version returns V2 or V1.
func (g *Group) Version() string { return g.version }

// Dir returns the new cgroup's directory.
func (g *Group) Dir() string { return g.dir }

// Limit returns the limit set, in bytes.
func (g *Group) Limit() int64 { return g.limit }

// Enter moves the process into a new cgroup limited to o.Limit bytes (see
// the package comment).
func Enter(o Options) (*Group, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	version, base, limitFile, swapFile, err := detect(o.Root)
	if err != nil {
		return nil, err
	}
	cur, err := currentCgroup(o.ProcCgroup, version)
	if err != nil {
		return nil, err
	}
	from := filepath.Join(base, cur)
	if version == V2 {
		// A v2 child gets the memory controller only if its parent hands it
		// down (cgroup.subtree_control), which a cgroup holding processes
		// other than the root cannot do: enabling it is the system's call.
		sc, err := os.ReadFile(filepath.Join(from, "cgroup.subtree_control"))
		if err != nil || !hasWord(string(sc), "memory") {
			return nil, fmt.Errorf("%w: cgroup v2: the memory controller is not enabled for the children of %s (its cgroup.subtree_control); run from a cgroup that delegates it, e.g. systemd-run --scope -p Delegate=yes", ErrUnavailable, from)
		}
	}
	removeStale(from, o.rmdir)
	g := &Group{version: version, dir: filepath.Join(from, o.Name), from: from, pid: o.PID, limit: o.Limit, rmdir: o.rmdir}
	if err := os.Mkdir(g.dir, 0o755); err != nil {
		return nil, explain(fmt.Sprintf("creating cgroup %s", g.dir), err)
	}
	undo := func(err error) (*Group, error) {
		if rerr := g.rmdir(g.dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("memlimit: removing %s: %w", g.dir, rerr))
		}
		return nil, err
	}
	lim := strconv.FormatInt(o.Limit, 10)
	if err := write(filepath.Join(g.dir, limitFile), lim); err != nil {
		return undo(explain("setting the memory limit", err))
	}
	if swapFile != "" {
		// Without it swap would take what the limit keeps out of memory.
		// Best effort: a kernel without swap accounting has no such file.
		swap := "0"
		if version == V1 {
			swap = lim // memsw counts memory + swap: equal means no swap
		}
		if _, err := os.Stat(filepath.Join(g.dir, swapFile)); err == nil {
			if err := write(filepath.Join(g.dir, swapFile), swap); err != nil {
				return undo(explain("limiting swap", err))
			}
		}
	}
	if err := write(filepath.Join(g.dir, "cgroup.procs"), strconv.Itoa(o.PID)); err != nil {
		return undo(explain("moving the process into "+g.dir, err))
	}
	return g, nil
}

// PeakBytes returns the cgroup's peak memory use so far, page cache
// included (v1: memory.max_usage_in_bytes; v2: memory.peak, kernel 5.19 and
// later), or 0 when the kernel does not report it.
func (g *Group) PeakBytes() int64 {
	name := "memory.peak"
	if g.version == V1 {
		name = "memory.max_usage_in_bytes"
	}
	b, err := os.ReadFile(filepath.Join(g.dir, name))
	if err != nil {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// Leave moves the process back to the cgroup it came from and removes the
// one Enter made.
func (g *Group) Leave() error {
	if err := write(filepath.Join(g.from, "cgroup.procs"), strconv.Itoa(g.pid)); err != nil {
		return explain("moving the process back to "+g.from, err)
	}
	if err := g.rmdir(g.dir); err != nil {
		return explain("removing "+g.dir, err)
	}
	return nil
}

// removeStale removes the cgroups a killed etcdlab left in parent (the
// kernel's OOM killer ends a process that its limit holds too tightly, and
// a killed process cannot leave): those named etcdlab-<pid> that hold no
// process and whose pid is not running. Best effort: one that cannot be
// removed is left alone.
func removeStale(parent string, rmdir func(string) error) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "etcdlab-"))
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "etcdlab-") || err != nil || pid <= 0 {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil || strings.TrimSpace(string(procs)) != "" || running(pid) {
			continue
		}
		_ = rmdir(dir)
	}
}

// running reports whether a process with pid exists (signal 0 probes it;
// EPERM means it exists but is not ours).
func running(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// detect finds the cgroup version at root: the unified hierarchy's
// cgroup.controllers listing memory means v2; a v1 memory controller at
// root/memory means v1. It returns the hierarchy's base directory and the
// limit and swap files' names.
func detect(root string) (version, base, limitFile, swapFile string, err error) {
	if c, err := os.ReadFile(filepath.Join(root, "cgroup.controllers")); err == nil {
		if !hasWord(string(c), "memory") {
			return "", "", "", "", fmt.Errorf("%w: cgroup v2 at %s has no memory controller (cgroup.controllers: %q)", ErrUnavailable, root, strings.TrimSpace(string(c)))
		}
		return V2, root, "memory.max", "memory.swap.max", nil
	}
	base = filepath.Join(root, "memory")
	if _, err := os.Stat(filepath.Join(base, "memory.limit_in_bytes")); err == nil {
		return V1, base, "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", nil
	}
	return "", "", "", "", fmt.Errorf("%w: neither cgroup v2 (%s/cgroup.controllers) nor cgroup v1's memory controller (%s/memory.limit_in_bytes) is mounted", ErrUnavailable, root, base)
}

// currentCgroup reads the process's cgroup in the hierarchy of version from
// its /proc/<pid>/cgroup: v2's "0::<path>" line, v1's line whose
// controllers include memory.
func currentCgroup(procFile, version string) (string, error) {
	f, err := os.Open(procFile)
	if err != nil {
		return "", fmt.Errorf("%w: reading the process's cgroup: %w", ErrUnavailable, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case version == V2 && parts[0] == "0" && parts[1] == "":
			return parts[2], nil
		case version == V1 && hasWord(strings.ReplaceAll(parts[1], ",", " "), "memory"):
			return parts[2], nil
		}
	}
	return "", fmt.Errorf("%w: %s names no %s memory cgroup", ErrUnavailable, procFile, version)
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// write writes a cgroup control file (which takes one write, no
// truncation or creation semantics).
func write(path, v string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(v)
	return errors.Join(werr, f.Close())
}

// explain wraps a file system error in ErrUnavailable with what it most
// likely means.
func explain(what string, err error) error {
	hint := ""
	switch {
	case errors.Is(err, fs.ErrPermission):
		hint = ": run as root (or in a cgroup delegated to this user)"
	case errors.Is(err, syscall.EROFS):
		hint = ": the cgroup file system is mounted read-only (a container without cgroup write access)"
	case errors.Is(err, syscall.EBUSY):
		hint = ": the cgroup is busy"
	}
	return fmt.Errorf("%w: %s: %w%s", ErrUnavailable, what, err, hint)
}
