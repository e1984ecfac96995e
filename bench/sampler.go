package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// resources is one sample of the process's resource use.
type resources struct {
	RSS          int64 // resident set size, bytes (0 if unknown)
	Heap         int64 // live Go heap, bytes
	GCPauseTotal int64 // cumulative GC stop-the-world pause, ns
	NumGC        int64
	DiskWritten  int64 // /proc/self/io write_bytes (-1 if unknown)
	// CPUUser and CPUSys are the process's cumulative CPU time in ns
	// (getrusage RUSAGE_SELF: every thread, so every in-process node, the
	// clients and the harness), -1 if unknown. It counts work, not waiting:
	// a figure a shared, noisy machine disturbs far less than wall time.
	CPUUser, CPUSys int64
}

// sampleResources reads /proc/self/statm, /proc/self/io and the Go runtime's
// memory statistics (ReadMemStats stops the world briefly: once a second is
// the intended rate).
func sampleResources() resources {
	var r resources
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.Heap = int64(ms.HeapAlloc)
	r.GCPauseTotal = int64(ms.PauseTotalNs)
	r.NumGC = int64(ms.NumGC)
	r.RSS = readRSS()
	r.DiskWritten = readWriteBytes()
	r.CPUUser, r.CPUSys = readCPU()
	return r
}

// readCPU returns the process's user and system CPU time in ns, or -1, -1
// where getrusage fails.
func readCPU() (user, sys int64) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return -1, -1
	}
	return ru.Utime.Nano(), ru.Stime.Nano()
}

func readRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// readWriteBytes returns the bytes this process caused to be sent to the
// storage layer (write_bytes of /proc/self/io), or -1 where the kernel does
// not account them.
func readWriteBytes() int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if v, ok := bytes.CutPrefix(line, []byte("write_bytes:")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}
