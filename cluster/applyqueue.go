package cluster

import "sync"

// applyQueue is etcd's FIFO scheduler between the raft loop and the applier
// (server.go run: each batch from raftNode's applyc is scheduled as an
// applyAll job on a schedule.FIFOScheduler, whose pending list has no
// bound). The Ready loop hands a batch over without waiting for the apply in
// progress, so raft's cadence — how many proposals each Ready, WAL sync and
// append carries — does not depend on how long the backend takes to apply
// (etcd made this change in 2015: "raft's applyc writes block on the server
// loop's database IO"). What bounds the gap is etcd's check at proposal,
// maxGapBetweenApplyAndCommitIndex (propose.go, ErrTooManyRequests).
type applyQueue struct {
	mu      sync.Mutex
	pending []*toApply
	// ready holds one token while pending may be non-empty.
	ready chan struct{}
}

func newApplyQueue() *applyQueue {
	return &applyQueue{ready: make(chan struct{}, 1)}
}

// push appends ap and never blocks.
func (q *applyQueue) push(ap *toApply) {
	q.mu.Lock()
	q.pending = append(q.pending, ap)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // a token is already there
	}
}

// pop removes and returns the oldest batch, nil when there is none.
func (q *applyQueue) pop() *toApply {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		return nil
	}
	ap := q.pending[0]
	q.pending[0] = nil
	q.pending = q.pending[1:]
	if len(q.pending) == 0 {
		q.pending = nil // let the grown array go
	}
	return ap
}

// len is the number of batches waiting (for tests and metrics).
func (q *applyQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}
