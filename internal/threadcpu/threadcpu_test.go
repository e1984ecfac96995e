package threadcpu

import (
	"runtime"
	"testing"
	"time"
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

// TestNowExcludesWorkBeforeTheCall: CPU spent before the first reading is
// not charged to a blocking call between two readings. A sleep uses almost
// no CPU, so the readings around it must differ by far less than the spin
// before it; getrusage(RUSAGE_THREAD), whose figure is only brought up to
// date when the thread is switched out, charged most of each spin to the
// sleep (this test failed with it: 28 ms charged for 40 ms of spinning).
func TestNowExcludesWorkBeforeTheCall(t *testing.T) {
	if !Supported {
		t.Skip("no per-thread CPU clock on this platform")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const rounds, spin = 20, 2 * time.Millisecond
	var charged time.Duration
	for i := 0; i < rounds; i++ {
		// Spin by the wall clock: spinning on Now would end the loop right
		// after a stale clock's tick update and hide the staleness.
		for start := time.Now(); time.Since(start) < spin; {
		}
		before := Now()
		time.Sleep(time.Millisecond) // blocks: the thread is switched out
		charged += Now() - before
	}
	// Generous bound: a wake-up and the timer's work are microseconds; the
	// old clock charged about 70% of the spin.
	if limit := rounds * spin / 4; charged > limit {
		t.Fatalf("readings around %d sleeps differ by %v in all, more than %v: CPU spent before the first reading was charged to the sleep", rounds, charged, limit)
	}
}
