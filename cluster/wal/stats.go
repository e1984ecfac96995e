package wal

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Stats is a snapshot of the WAL's I/O counters.
type Stats struct {
	Syncs        int64 // fdatasyncs of segment files (Save, SaveSnapshot, cut, Close)
	DirSyncs     int64 // directory fsyncs (cut, purge)
	BytesWritten int64 // bytes handed to segment files
	Cuts         int64
	SlowSyncs    int64 // syncs slower than Options.SlowSync
	SyncP50      time.Duration
	SyncP99      time.Duration
	SyncP999     time.Duration
	SyncMax      time.Duration
	// SyncCPU is the CPU time (user + system) of the threads that ran the
	// segment fdatasyncs, during those calls (Linux; 0 elsewhere).
	SyncCPU time.Duration
	// SyncLatency is a copy of the sync latency histogram, in microseconds.
	SyncLatency *hdrhistogram.Histogram
}

type stats struct {
	syncs, dirSyncs, bytes, cuts, slowSyncs int64
	syncCPU                                 time.Duration
	hist                                    *hdrhistogram.Histogram
}

// Sync latencies are recorded in microseconds from 1µs to 100s.
const histMaxMicros = 100_000_000

func (s *stats) init() { s.hist = hdrhistogram.New(1, histMaxMicros, 3) }

func (s *stats) recordSync(d time.Duration, bytes int64) {
	s.syncs++
	s.bytes += bytes
	us := d.Microseconds()
	if us < 1 {
		us = 1
	}
	if us > histMaxMicros {
		us = histMaxMicros
	}
	_ = s.hist.RecordValue(us) // in range by construction
}

// Stats returns the counters and sync latency percentiles so far.
func (w *WAL) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := hdrhistogram.Import(w.stats.hist.Export())
	us := func(q float64) time.Duration { return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond }
	return Stats{
		Syncs:        w.stats.syncs,
		DirSyncs:     w.stats.dirSyncs,
		BytesWritten: w.stats.bytes,
		Cuts:         w.stats.cuts,
		SlowSyncs:    w.stats.slowSyncs,
		SyncCPU:      w.stats.syncCPU,
		SyncP50:      us(50),
		SyncP99:      us(99),
		SyncP999:     us(99.9),
		SyncMax:      time.Duration(h.Max()) * time.Microsecond,
		SyncLatency:  h,
	}
}
