package clock

import (
	"testing"
	"time"
)

func TestFakeTickerAndTimer(t *testing.T) {
	start := time.Unix(1000, 0)
	f := NewFake(start)
	tk := f.NewTicker(100 * time.Millisecond)
	tm := f.NewTimer(250 * time.Millisecond)
	f.Advance(99 * time.Millisecond)
	select {
	case <-tk.C():
		t.Fatal("ticker fired early")
	default:
	}
	f.Advance(1 * time.Millisecond)
	if got := <-tk.C(); !got.Equal(start.Add(100 * time.Millisecond)) {
		t.Fatalf("tick at %v", got)
	}
	f.Advance(200 * time.Millisecond)
	if got := <-tm.C(); !got.Equal(start.Add(250 * time.Millisecond)) {
		t.Fatalf("timer at %v", got)
	}
	if tm.Stop() {
		t.Fatal("Stop of a fired timer reported true")
	}
	tk.Stop()
	<-tk.C() // the tick at 200ms or 300ms is buffered; nothing after Stop
	f.Advance(time.Second)
	select {
	case <-tk.C():
		t.Fatal("stopped ticker fired")
	default:
	}
	if f.Since(start) != 1300*time.Millisecond {
		t.Fatalf("Since = %v", f.Since(start))
	}
}
