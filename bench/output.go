package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/anishathalye/porcupine"

	"etcdlab/internal/lincheck"
	"etcdlab/results"
)

// LinVizFile is porcupine's visualization of a history that failed the
// linearizability check, written into the run directory.
const LinVizFile = "linearizability.html"

// RunToDir runs cfg and writes the run directory out: result.json,
// latency.hlog (and service.hlog in open loop), timeline.jsonl and
// bench.txt. Everything is written into a staging directory next to out and
// renamed into place at the end, so a run that fails leaves nothing at out.
// The engine's data lives in another temporary directory next to out
// (cfg.DataDir overrides), so the environment's fsync probe measures the
// same file system; it is removed unless cfg.KeepData.
//
// Cancelling ctx during the measured phase still writes what was measured,
// with result.json's interrupted set.
func RunToDir(ctx context.Context, cfg Config, out string) (*Outcome, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	stage, err := results.Stage(out)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = stage.Abort()
		}
	}()
	if cfg.DataDir == "" {
		dd, err := os.MkdirTemp(filepath.Dir(stage.Final()), ".etcdlab-data-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		cfg.DataDir = dd
		if !cfg.KeepData {
			defer os.RemoveAll(dd)
		}
	}
	env, err := ProbeEnv(ctx, stage.Dir(), cfg.FsyncProbe, cfg.Clock)
	if err != nil {
		return nil, err
	}
	o, err := Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	o.Result.Env = env
	if err := WriteDir(stage, o); err != nil {
		return nil, err
	}
	if err := stage.Commit(); err != nil {
		return nil, err
	}
	ok = true
	return o, nil
}

// WriteDir writes o's files into a staging directory (not committed).
func WriteDir(stage *results.Staging, o *Outcome) error {
	r := o.Result
	files := []string{results.LatencyLogFile, results.TimelineFile, results.BenchFile}
	if len(o.Service) > 0 {
		files = append(files, results.ServiceLogFile)
	}
	viz := o.lin != nil && r.Linearizability != nil && r.Linearizability.Verdict == lincheck.VerdictIllegal
	if viz {
		files = append(files, LinVizFile)
	}
	r.Files = files
	var errs []error
	write := func(name string, fn func(*bytes.Buffer) error) {
		var b bytes.Buffer
		if err := fn(&b); err != nil {
			errs = append(errs, fmt.Errorf("bench: %s: %w", name, err))
			return
		}
		if err := stage.WriteFile(name, b.Bytes()); err != nil {
			errs = append(errs, fmt.Errorf("bench: %s: %w", name, err))
		}
	}
	comment := fmt.Sprintf("etcdlab %s latency in ns, %s", r.BenchName(), "from the intended start in open loop")
	write(results.LatencyLogFile, func(b *bytes.Buffer) error {
		return results.WriteHistogramLog(b, o.Start, comment, o.Latency)
	})
	if len(o.Service) > 0 {
		write(results.ServiceLogFile, func(b *bytes.Buffer) error {
			return results.WriteHistogramLog(b, o.Start, "etcdlab "+r.BenchName()+" service time in ns", o.Service)
		})
	}
	write(results.TimelineFile, func(b *bytes.Buffer) error { return results.WriteTimeline(b, o.Timeline) })
	write(results.BenchFile, func(b *bytes.Buffer) error { return results.WriteBench(b, r) })
	if viz {
		write(LinVizFile, func(b *bytes.Buffer) error { return porcupine.Visualize(lincheck.Model, o.lin.viz, b) })
	}
	write(results.ResultFile, func(b *bytes.Buffer) error {
		data, err := r.Marshal()
		b.Write(data)
		return err
	})
	return errors.Join(errs...)
}
