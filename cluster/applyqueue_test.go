package cluster

import (
	"testing"
	"time"
)

// TestApplyQueueOrder: batches come out in the order they went in, and a
// push made while the consumer drains is never lost.
func TestApplyQueueOrder(t *testing.T) {
	q := newApplyQueue()
	const n = 10000
	done := make(chan []uint64)
	go func() {
		var got []uint64
		for len(got) < n {
			<-q.ready
			for ap := q.pop(); ap != nil; ap = q.pop() {
				got = append(got, ap.snapshot.Metadata.Index)
			}
		}
		done <- got
	}()
	for i := 1; i <= n; i++ {
		ap := &toApply{}
		ap.snapshot.Metadata.Index = uint64(i)
		q.push(ap)
	}
	select {
	case got := <-done:
		for i, idx := range got {
			if idx != uint64(i+1) {
				t.Fatalf("batch %d came out as %d", i+1, idx)
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("consumer stuck with %d batches queued: a wake-up was lost", q.len())
	}
}
