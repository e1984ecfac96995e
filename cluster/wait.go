package cluster

import (
	"sync"
)

// result is what the apply goroutine hands a waiting proposer.
type result struct {
	resp any
	err  error
}

// waiter maps request IDs to the channel of the proposer waiting for that
// entry's result (etcd's pkg/wait), sharded to keep 1000 clients off one
// lock.
type waiter struct {
	shards [16]waitShard
}

type waitShard struct {
	mu sync.Mutex
	m  map[uint64]chan result
}

func newWaiter() *waiter {
	w := &waiter{}
	for i := range w.shards {
		w.shards[i].m = make(map[uint64]chan result)
	}
	return w
}

func (w *waiter) shard(id uint64) *waitShard { return &w.shards[id%uint64(len(w.shards))] }

func (w *waiter) register(id uint64) chan result {
	ch := make(chan result, 1)
	s := w.shard(id)
	s.mu.Lock()
	s.m[id] = ch
	s.mu.Unlock()
	return ch
}

// trigger delivers r to the waiter of id, if any; it reports whether one was
// waiting.
func (w *waiter) trigger(id uint64, r result) bool {
	s := w.shard(id)
	s.mu.Lock()
	ch, ok := s.m[id]
	delete(s.m, id)
	s.mu.Unlock()
	if ok {
		ch <- r
	}
	return ok
}

func (w *waiter) cancel(id uint64) {
	s := w.shard(id)
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (w *waiter) failAll(err error) {
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		for id, ch := range s.m {
			ch <- result{err: err}
			delete(s.m, id)
		}
		s.mu.Unlock()
	}
}

// indexWaiter lets goroutines wait until the applied index reaches a value
// (etcd's wait.WaitTime).
type indexWaiter struct {
	mu      sync.Mutex
	last    uint64
	waiters map[uint64]chan struct{}
}

func newIndexWaiter() *indexWaiter { return &indexWaiter{waiters: make(map[uint64]chan struct{})} }

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// wait returns a channel closed once trigger(i') with i' ≥ i has happened.
func (w *indexWaiter) wait(i uint64) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i <= w.last {
		return closedCh
	}
	ch, ok := w.waiters[i]
	if !ok {
		ch = make(chan struct{})
		w.waiters[i] = ch
	}
	return ch
}

func (w *indexWaiter) trigger(i uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i <= w.last {
		return
	}
	w.last = i
	for k, ch := range w.waiters {
		if k <= i {
			close(ch)
			delete(w.waiters, k)
		}
	}
}

// notifier is a one-shot broadcast with an error (etcd's notifier).
type notifier struct {
	c   chan struct{}
	err error
}

func newNotifier() *notifier { return &notifier{c: make(chan struct{})} }

func (n *notifier) notify(err error) {
	n.err = err
	close(n.c)
}
