package bench

import (
	"fmt"
	"os"

	"etcdlab/engines"
	"etcdlab/engines/backend"
	"etcdlab/internal/event"
)

// openBackend opens cfg's engine in dir under the batching layer, reporting
// every engine commit as an event.BackendCommit event.
func openBackend(cfg Config, env LayerEnv) (*backend.Backend, error) {
	if err := os.MkdirAll(env.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	e, err := engines.Open(cfg.Engine, env.Dir, cfg.EngineOptions)
	if err != nil {
		return nil, err
	}
	bcfg := cfg.Backend
	emit := env.Emit
	prev := bcfg.OnCommit
	bcfg.OnCommit = func(ci backend.CommitInfo) {
		if prev != nil {
			prev(ci)
		}
		if emit == nil {
			return
		}
		kind := event.BackendCommit
		detail := fmt.Sprintf("reason=%s ops=%d took=%s", ci.Reason, ci.Ops, ci.Duration)
		if ci.Err != nil {
			kind = event.BackendCommitFailed
			detail += " err=" + ci.Err.Error()
		}
		emit(Event{At: ci.Start, Kind: kind, Detail: detail})
	}
	b, err := backend.New(e, bcfg)
	if err != nil {
		_ = e.Close()
		return nil, err
	}
	return b, nil
}

// backendStats turns the batching layer's figures into the runner's.
func backendStats(b *backend.Backend) Stats {
	bs := b.Stats()
	extra := map[string]float64{
		"backend.commits":        float64(bs.Commits),
		"backend.commit_total_s": bs.CommitTotal.Seconds(),
		"backend.max_commit_s":   bs.MaxCommit.Seconds(),
		"backend.pending_ops":    float64(bs.PendingOps),
		"engine.commits":         float64(bs.Engine.Commits),
		"engine.synced_commits":  float64(bs.Engine.SyncedCommits),
		"engine.logical_bytes":   float64(bs.Engine.LogicalBytes),
		"engine.reclaims":        float64(bs.Engine.Reclaims),
	}
	for k, v := range bs.Engine.Native {
		extra[k] = v
	}
	return Stats{
		EngineBytesWritten: bs.Engine.BytesWritten,
		EngineFsyncs:       bs.Engine.Fsyncs,
		DBSize:             b.DiskSize(),
		DBSizeInUse:        b.SizeInUse(),
		DBQuotaSize:        b.Size(),
		Extra:              extra,
	}
}
