//go:build !linux

package threadcpu

import "time"

// Supported reports whether Now measures anything on this platform.
const Supported = false

// Now returns 0: no per-thread CPU clock is read on this platform.
func Now() time.Duration { return 0 }
