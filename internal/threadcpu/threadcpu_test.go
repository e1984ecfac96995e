package threadcpu

import (
	"runtime"
	"testing"
)

// TestNowCountsThisThread: spinning on a pinned thread moves its clock, and
// the clock never goes back.
func TestNowCountsThisThread(t *testing.T) {
	if !Supported {
		t.Skip("no per-thread CPU clock on this platform")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := Now()
	x := 0
	for i := 0; i < 50_000_000; i++ { // tens of milliseconds of CPU
		x += i
	}
	if t1 := Now(); t1 <= t0 {
		t.Fatalf("a busy loop moved the thread CPU clock from %v to %v", t0, t1)
	}
	_ = x
}
