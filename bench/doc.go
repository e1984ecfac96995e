// Package bench is etcdlab's load generator and recorder: it drives one
// layer of the pipeline with a workload and measures it honestly.
//
// Layers ("--layer"), so costs can be taken apart:
//
//   - engine: the raw engine under the shared batching layer
//     (engines.Open + backend.New); ops become read txns and write txns.
//   - mvcc: etcd's MVCC store without raft (like etcd's `benchmark mvcc`);
//     ops become etcdserverpb requests.
//   - cluster: the full pipeline (raft, WAL, snapshots, apply) on N
//     in-process nodes, or etcd v3 clients of --endpoints; its constructor
//     is in cluster_target.go.
//
// A layer is a Target (Do one op, Close); optional capabilities are found by
// type assertion: StatsSource (disk bytes, fsyncs, db and WAL size) and
// Flusher (make acknowledged but still batched writes durable after the
// measured phase, so their disk bytes and fsyncs are counted with them),
// QuotaRecoverer (compact + defrag + disarm after a run that raised
// NOSPACE, Config.QuotaRecovery) and Recoverer (kill a follower, restart it,
// time serving and catch-up, Config.MeasureRecovery). The two recovery
// phases run after the measured phase and its figures are taken; the
// events they cause appear on the timeline but not in the event counts.
// Layers report events (leader changes, snapshots, backend commits...)
// through LayerEnv.Emit; a timed event (a compaction, a defrag: Event.Dur,
// Values) becomes a band on the timeline and one of Result.Maintenance's
// events, and is never dropped from the event log. Config.DefragInterval
// defragments the layer's backends on a schedule during the measured phase
// (defragmenter: every in-process node one after another, or the mvcc and
// engine layers' backend).
//
// Contract of a run (Run, RunTarget, RunToDir):
//
//  1. Config.EnsureDefaults fills documented defaults; Validate reports
//     every problem at once. The master seed drives every workload stream.
//  2. The preload (workloads Loader) is written first, through the same
//     layer and pipeline as the measured ops but batched (PreloadOptions):
//     on the mvcc and cluster layers one Txn request per batch, its puts in
//     the success branch and no compare, within etcd's --max-txn-ops (128
//     puts) and under its --max-request-bytes (128 KiB by default, see
//     DefaultPreloadTxnBytes), from 32 concurrent loaders; on the engine
//     layer one write transaction of the batching layer per batch. Its keys,
//     logical bytes, txns, seconds and MB/s go to the summary (preload_*). A
//     preload the backend quota refuses fails with ErrPreloadNoSpace,
//     naming --quota-backend-bytes and --no-quota; Config.Scale sizes the
//     preload in logical bytes and is refused up front when above the quota.
//     Then, with RateFraction, the capacity probe (3); then the workload
//     runs unmeasured for Warmup, then the measured phase runs for Duration
//     or until Ops ops have completed (split evenly over the clients).
//  3. Closed loop: Clients clients each start an op when the last ends;
//     latency is completion - start. Open loop (Rate > 0): each op has an
//     intended start on a fixed schedule and latency is completion -
//     intended start, so a stall shows in every op it delays (coordinated
//     omission is not hidden); the service time (completion - actual start)
//     is recorded separately. The ops a stall leaves unstarted (or cancelled
//     in flight) at the end of the measured phase have no latency: their
//     count is summary.open_loop_missed. RateFraction F (0 < F <= 1): after
//     the preload, a closed-loop probe of CapacityProbe (default 20 s) with
//     the same clients measures the capacity C (ops without error per
//     second, summary.capacity_ops_s; writes, capacity_write_ops_s), and the
//     run continues open loop at Rate = F x C (config.rate_ops_s).
//  4. One HdrHistogram per op kind (1 µs .. 60 s, 3 significant digits,
//     values in ns), recorded per client without shared locks, rotated
//     every second into interval histograms; the totals are the sum of the
//     intervals. Failed ops count as errors and are not in the histograms.
//  5. Once a second: the interval's throughput and percentiles, RSS, Go
//     heap, GC pauses, bytes written to disk (/proc/self/io), WAL and
//     engine fsyncs (these four cumulative from the phase's start) and db
//     size go on the timeline, with the layer's events; so do the process's
//     CPU in the interval (cpu_pct) and the stall (stall_ms: the longest
//     stretch without a successful completion, stall_start_s when it
//     began, and stalls, those of 10 ms or more with their starts, from a
//     per-client bitmap of 1 ms slots that the record path sets with one
//     OR). After the run,
//     Result.Maintenance is computed from the timeline and the interval
//     histograms (results.ComputeMaintenance).
//     Write amplification is disk bytes written / logical (key + value)
//     bytes of the acknowledged writes, over the measured phase. The
//     process's CPU time (getrusage: every in-process node, the clients and
//     the harness) from the start of the measured phase to the end of its
//     flush, per acknowledged op, is the run's CPU cost per op: work, which
//     a noisy shared machine disturbs far less than wall time.
//  6. Cancelling the context during the measured phase stops the clients
//     (in-flight ops get drainGrace to finish), and the figures measured so
//     far are returned with Interrupted set; RunToDir still writes them.
//  7. The result's steady_state is results.SteadyStateOf over the timeline:
//     whether the engine reached its steady state, the last third of the
//     measured phase against the middle third (pebble: L0 sublevels and
//     compaction debt without a shift beyond noise and a flush-compaction
//     cycle; bbolt: its high-water mark grows no more than its live data),
//     with the figures it rests on. A run shorter than 30 s gets "unknown".
//  8. Config.MemoryLimit (Run only) puts the process in a memory-limited
//     cgroup of its own for the run (package internal/memlimit; the version
//     used is config.memory_limit_cgroup) and takes it out afterwards.
//  9. RunToDir writes a run directory (package results) atomically: nothing
//     appears at the output path unless the run succeeds or is interrupted
//     after measuring.
//
// The runner (runner.go, phases.go) is written as phases, after pebble's
// cmd/pebble benchmarks: setup, start and warm-up, begin, run (a tick every
// second), done; each a method of measurement. The closed and open loops
// differ only in when an op starts; what happens to a finished op is one
// body, runner.finishOp.
//
// The harness's own cost is measured by BenchmarkHarness (no-op target),
// BenchmarkRecord (a client's recorder) and BenchmarkRecordOp (finishOp, the
// loops' shared body); BenchmarkPipeline runs the real layers, and
// BenchmarkParity the points of the parity experiment (package sweep).
package bench
