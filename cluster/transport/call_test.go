package transport

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// callHandler answers calls: "echo X" with "from N: X", anything else with
// an error.
type callHandler struct{ *recHandler }

func (callHandler) HandleCall(_ context.Context, from uint64, req []byte) ([]byte, error) {
	if s, ok := strings.CutPrefix(string(req), "echo "); ok {
		return []byte(string(rune('0'+from)) + ": " + s), nil
	}
	return nil, errors.New("unknown call " + string(req))
}

// TestCall: a call reaches the peer's CallHandler and brings its reply or
// its error back, on TCP and in process; an unknown or partitioned peer is
// unreachable; a handler without CallHandler is a remote error.
func TestCall(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, c Caller, to uint64) {
		t.Helper()
		r, err := c.Call(ctx, to, []byte("echo hi"))
		if err != nil || string(r) != "1: hi" {
			t.Fatalf("echo: %q %v", r, err)
		}
		if _, err := c.Call(ctx, to, []byte("bad")); !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "unknown call bad") {
			t.Fatalf("failing call: %v", err)
		}
		if _, err := c.Call(ctx, 9, []byte("echo hi")); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("call to an unknown peer: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.Call(cctx, to, []byte("echo hi")); err == nil {
			t.Fatal("call with a cancelled context succeeded")
		}
	}
	t.Run("tcp", func(t *testing.T) {
		t2 := newTestTCP(t, 2, "127.0.0.1:0", callHandler{newRecHandler()})
		defer t2.Close()
		t3 := newTestTCP(t, 3, "127.0.0.1:0", newRecHandler())
		defer t3.Close()
		t1 := newTestTCP(t, 1, "127.0.0.1:0", callHandler{newRecHandler()})
		defer t1.Close()
		t1.AddPeer(2, t2.Addr())
		t1.AddPeer(3, t3.Addr())
		check(t, t1, 2)
		if _, err := t1.Call(ctx, 3, []byte("echo hi")); !errors.Is(err, ErrRemote) {
			t.Fatalf("call to a peer without CallHandler: %v", err)
		}
	})
	t.Run("inproc", func(t *testing.T) {
		n, err := NewNetwork(NetworkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e1 := n.Join(1, callHandler{newRecHandler()})
		e2 := n.Join(2, callHandler{newRecHandler()})
		defer e1.Close()
		defer e2.Close()
		check(t, e1.(Caller), 2)
		n.Partition([]uint64{1}, []uint64{2})
		if _, err := e1.(Caller).Call(ctx, 2, []byte("echo hi")); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("call across a partition: %v", err)
		}
	})
}
