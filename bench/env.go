package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"etcdlab/internal/clock"
	"etcdlab/results"
)

// ProbeEnv fingerprints the machine for a result: Go version, CPU model,
// kernel, the file system dir lives on, the git commit of the working
// directory, and, unless fsyncs < 0, the median and p99 of fsyncs
// fdatasyncs of a 4 KiB overwrite of a temporary file in dir (removed
// afterwards). Parts that cannot be read are "unknown", never an error;
// only a failing fsync probe is.
func ProbeEnv(ctx context.Context, dir string, fsyncs int, clk clock.Clock) (results.Env, error) {
	env := results.Env{
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU:     runtime.NumCPU(),
		CPU:        cpuModel(),
		Kernel:     kernel(),
		Filesystem: filesystem(dir),
		Commit:     gitCommit(ctx),
	}
	env.Hostname, _ = os.Hostname()
	if fsyncs > 0 {
		p50, p99, err := fsyncProbe(dir, fsyncs, clk)
		if err != nil {
			return env, err
		}
		env.FsyncP50Us, env.FsyncP99Us, env.FsyncProbeSize = p50, p99, fsyncs
	}
	return env, nil
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name", "Model", "cpu model":
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return "unknown"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		var u unix.Utsname
		if unix.Uname(&u) == nil {
			return unix.ByteSliceToString(u.Release[:])
		}
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// fsMagic names common statfs f_type values (linux/magic.h).
var fsMagic = map[int64]string{
	0xEF53:     "ext4",
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0x01021994: "tmpfs",
	0x858458F6: "ramfs",
	0x794C7630: "overlayfs",
	0x2FC12FC1: "zfs",
	0x6969:     "nfs",
	0xF2F52010: "f2fs",
	0x65735546: "fuse",
	0x01021997: "9p",
	0x5346544E: "ntfs",
	0x4D44:     "vfat",
	0xCA451A4E: "bcachefs",
}

func filesystem(dir string) string {
	var st unix.Statfs_t
	for d := dir; ; d = filepath.Dir(d) {
		if err := unix.Statfs(d, &st); err == nil {
			break
		}
		if d == filepath.Dir(d) {
			return "unknown"
		}
	}
	if name, ok := fsMagic[int64(st.Type)]; ok {
		return name
	}
	return fmt.Sprintf("0x%x", st.Type)
}

func gitCommit(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func fsyncProbe(dir string, n int, clk clock.Clock) (p50, p99 float64, err error) {
	f, err := os.CreateTemp(dir, ".fsync-probe-")
	if err != nil {
		return 0, 0, fmt.Errorf("bench: fsync probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	if _, err := f.WriteAt(buf, 0); err != nil {
		return 0, 0, fmt.Errorf("bench: fsync probe: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, 0, fmt.Errorf("bench: fsync probe: %w", err)
	}
	lat := make([]time.Duration, n)
	for i := range n {
		buf[0] = byte(i)
		if _, err := f.WriteAt(buf, 0); err != nil {
			return 0, 0, fmt.Errorf("bench: fsync probe: %w", err)
		}
		t0 := clk.Now()
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return 0, 0, fmt.Errorf("bench: fsync probe: fdatasync: %w", err)
		}
		lat[i] = clk.Since(t0)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pick := func(q float64) float64 {
		i := int(q * float64(n-1))
		return float64(lat[i]) / 1e3
	}
	return pick(0.5), pick(0.99), nil
}
