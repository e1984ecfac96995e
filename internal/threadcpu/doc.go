// Package threadcpu reads the CPU time (user + system) the calling OS
// thread has used, for measuring what one blocking system call costs in
// CPU rather than in wall time: the kernel work of an fdatasync grows with
// what else is written to the same disk, and that work is what an engine's
// writes add to the raft WAL's syncs.
//
// Contract: the caller pins its goroutine to its thread
// (runtime.LockOSThread) across the two readings, or the difference means
// nothing. On Linux Now reads CLOCK_THREAD_CPUTIME_ID (not
// getrusage(RUSAGE_THREAD), which charges the slice run before a blocking
// call to the call: threadcpu_linux.go); elsewhere Supported
// is false and Now returns 0. Never panics.
package threadcpu
