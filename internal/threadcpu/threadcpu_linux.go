//go:build linux

package threadcpu

import (
	"time"

	"golang.org/x/sys/unix"
)

// Supported reports whether Now measures anything on this platform.
const Supported = true

// Now returns the calling thread's user + system CPU time so far (0 if the
// kernel refuses, which it does not for RUSAGE_THREAD on Linux ≥ 2.6.26).
func Now() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
