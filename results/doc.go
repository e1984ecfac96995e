// Package results is the on-disk form of one etcdlab run: a run directory
// holding result.json (schema etcdlab/result/v1), HdrHistogram interval logs,
// timeline.jsonl and bench.txt in Go benchmark format.
//
// Contract:
//
//  1. Result is the whole of result.json. Schema is always SchemaV1; Load and
//     Read refuse any other schema (ErrUnknownSchema) instead of guessing.
//  2. The field paths listed in RequiredFields keep their meaning for as long
//     as the schema is v1: scripts rely on them. A change of meaning is a new
//     schema. Latencies are in microseconds (float), sizes in bytes, rates
//     per second, durations in seconds, unless the name says otherwise.
//  3. A run directory appears whole or not at all: Stage creates a hidden
//     temporary directory next to the final one, the files are written
//     there, and Commit renames it into place (Abort removes it). A failed
//     start therefore leaves nothing half-written at the output path.
//  4. bench.txt is read by benchstat: a goos/goarch/pkg/cpu header and one
//     line per run and per op kind, named
//     BenchmarkRun/layer=…/engine=…/nodes=…/workload=…[/op=…].
//  5. The interval logs follow the HdrHistogram log format 1.3 (one tagged
//     line per op kind and second, values recorded in nanoseconds, interval
//     max printed in milliseconds), readable by HdrHistogram's log tools and
//     hdrhistogram-go's HistogramLogReader.
//  6. timeline.jsonl holds one Sample per line: a second of the measured
//     phase, an event, or a span (a fault; a compaction or defrag, whose
//     Values carry its figures). Maintenance (result.json's maintenance) is
//     computed from it by ComputeMaintenance, so a report or a figure can
//     recompute it from a run directory.
//
// This package only describes and writes results; measuring is bench's job.
package results
