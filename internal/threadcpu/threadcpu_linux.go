//go:build linux

package threadcpu

import (
	"time"

	"golang.org/x/sys/unix"
)

// Supported reports whether Now measures anything on this platform.
const Supported = true

// Now returns the calling thread's user + system CPU time so far, read from
// CLOCK_THREAD_CPUTIME_ID (0 if the kernel refuses, which it does not on
// Linux ≥ 2.6.12).
//
// Not getrusage(RUSAGE_THREAD): it reports the scheduler's runtime as of its
// last update (a tick or a context switch), so a reading taken while the
// thread is running misses the slice it has run since, and the next reading
// after a blocking call (which switches the thread out and updates the
// figure) charges that earlier slice to the call. Measured on this project's
// 2-core VM, an fdatasync after 2 ms of spinning: 1.41 ms per sync by
// getrusage against 0.10 ms by this clock. The thread CPU clock asks the
// scheduler for the runtime including the current slice.
func Now() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
