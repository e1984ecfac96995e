package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"etcdlab/cluster"
	"etcdlab/engines/backend"
	"etcdlab/internal/clock"
	"etcdlab/internal/event"
	"etcdlab/mvcc"
	"etcdlab/workloads"
)

// defragmenter is a target whose backends the scheduled defrag
// (Config.DefragInterval) can defragment. Each defrag emits a timed
// event.Defrag.
type defragmenter interface {
	// defragAll defragments every backend, one after another.
	defragAll(ctx context.Context) error
}

var (
	_ defragmenter = (*clusterTarget)(nil)
	_ defragmenter = (*mvccTarget)(nil)
	_ defragmenter = (*engineTarget)(nil)
)

// defragAll defragments every running node in ID order, one after another,
// as `etcdctl defrag --cluster` does; each node emits its EventDefrag.
func (t *clusterTarget) defragAll(ctx context.Context) error {
	var errs []error
	for _, n := range t.c.Nodes() {
		if ctx.Err() != nil {
			break
		}
		if err := n.Defrag(); err != nil && !errors.Is(err, cluster.ErrStopped) {
			errs = append(errs, fmt.Errorf("node %x: %w", n.ID(), err))
		}
	}
	return errors.Join(errs...)
}

func (t *mvccTarget) defragAll(context.Context) error {
	return defragBackend(t.kv.s.Backend(), t.clk, t.emit)
}

func (t *engineTarget) defragAll(context.Context) error {
	return defragBackend(t.b, t.clk, t.emit)
}

// defragBackend defragments b and emits the timed event the cluster's
// nodes emit (Node.Defrag), with the same figures.
func defragBackend(b *backend.Backend, clk clock.Clock, emit func(Event)) error {
	before, diskBefore := b.Size(), b.DiskSize()
	start := clk.Now()
	if err := b.Defrag(); err != nil {
		return err
	}
	end := clk.Now()
	after, diskAfter := b.Size(), b.DiskSize()
	if emit != nil {
		f := backend.DefragFigures{Before: before, After: after, DiskBefore: diskBefore, DiskAfter: diskAfter}
		emit(Event{At: end, Dur: end.Sub(start), Kind: event.Defrag, Detail: f.Detail(), Values: f.Values()})
	}
	return nil
}

// compactionEvent turns an mvcc compaction's figures into the timed event
// a cluster node emits for it (cluster.Node.compacted), for the mvcc layer.
func compactionEvent(st mvcc.CompactionStats) Event {
	return Event{At: st.End, Dur: st.End.Sub(st.Start), Kind: event.Compaction, Detail: st.Detail(), Values: st.Values()}
}

// defragSchedule runs the scheduled defrag during the measured phase:
// every interval from its start, defragAll; a defrag that outlasts the
// interval delays the next one (ticks are not queued).
type defragSchedule struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	runs  int
	errs  []string
}

func startDefragSchedule(t defragmenter, interval time.Duration, clk clock.Clock) *defragSchedule {
	s := &defragSchedule{stopc: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(s.done)
		defer cancel()
		tk := clk.NewTicker(interval)
		defer tk.Stop()
		go func() {
			select {
			case <-s.stopc:
				cancel()
			case <-ctx.Done():
			}
		}()
		for {
			select {
			case <-s.stopc:
				return
			case <-tk.C():
			}
			err := t.defragAll(ctx)
			s.mu.Lock()
			s.runs++
			if err != nil && ctx.Err() == nil {
				s.errs = append(s.errs, err.Error())
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// stop ends the schedule and waits for a defrag in progress to finish (a
// defrag cannot be interrupted half way). It returns the rounds started
// and the errors of the failed ones.
func (s *defragSchedule) stop() (runs int, errs []string) {
	close(s.stopc)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs, s.errs
}

// writeOpNames names the op kinds that write, for the maintenance figures.
func writeOpNames() []string {
	var out []string
	for k := range numKinds {
		if kind := workloads.OpKind(k); kind.IsWrite() {
			out = append(out, kind.String())
		}
	}
	return out
}
