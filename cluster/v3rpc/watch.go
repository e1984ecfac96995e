package v3rpc

import (
	"context"
	"errors"
	"io"
	"sync"

	"etcdlab/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// watchServer is etcd's Watch service (api/v3rpc/watch.go) over a member's
// local store: one mvcc.WatchStream per gRPC stream; a receive loop turns
// create, cancel and progress requests into calls on it, and its responses
// are turned into WatchResponses and sent on the watch stream's own
// goroutine (etcd's send loop, without a hand-off between two goroutines
// per response). What mvcc.WatchStream does itself (prev_kv, filters,
// progress notification, compaction notices) is not repeated here.
type watchServer struct {
	w   Watchable
	hdr header
	// maxRequestBytes is etcd's MaxRequestBytesWithOverhead: a response of
	// a fragmenting watcher is split below it.
	maxRequestBytes int
	stopping        <-chan struct{}
}

var _ pb.WatchServer = (*watchServer)(nil)

// watchErrors are the storage errors a create may fail with, answered
// with their texts alone, as etcd's CancelReason (etcdlab's errors carry
// the ID or range after the text).
var watchErrors = []error{mvcc.ErrWatcherDuplicateID, mvcc.ErrEmptyWatcherRange, mvcc.ErrWatcherNotExist, mvcc.ErrWatchStreamClosed}

func cancelReason(err error) string {
	for _, e := range watchErrors {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

type serverWatchStream struct {
	s    *watchServer
	grpc pb.Watch_WatchServer
	ws   *mvcc.WatchStream

	// sendMu serializes the sends on the gRPC stream (the watch stream's
	// responses, sent on its goroutine, and the control responses, sent by
	// the receive loop) and guards what they share (etcd's send loop state):
	// ids, the watchers whose created response went out; pending, the
	// responses of watchers whose created response has not; fragment, the
	// watchers that asked for fragmented responses; ended, set once the
	// handler returns, after which nothing is sent.
	sendMu   sync.Mutex
	ids      map[mvcc.WatchID]bool
	pending  map[mvcc.WatchID][]*pb.WatchResponse
	fragment map[mvcc.WatchID]bool
	ended    bool
}

func (s *watchServer) Watch(stream pb.Watch_WatchServer) error {
	sws := &serverWatchStream{
		s:        s,
		grpc:     stream,
		ids:      map[mvcc.WatchID]bool{},
		pending:  map[mvcc.WatchID][]*pb.WatchResponse{},
		fragment: map[mvcc.WatchID]bool{},
	}
	ws, err := s.w.NewWatchStreamFunc(sws.deliver)
	if err != nil {
		return ToGRPCError(err)
	}
	sws.ws = ws
	errc := make(chan error, 1)
	// As etcd's, the receive loop is not waited for: Recv may block past
	// the stream's end; it returns once the gRPC stream is torn down.
	go func() {
		if rerr := sws.recvLoop(); rerr != nil {
			errc <- rerr
		}
	}()
	select {
	case err = <-errc:
		if errors.Is(err, context.Canceled) {
			err = rpctypes.ErrGRPCWatchCanceled
		}
	case <-stream.Context().Done():
		err = stream.Context().Err()
		if errors.Is(err, context.Canceled) {
			err = rpctypes.ErrGRPCWatchCanceled
		}
	case <-s.stopping:
		err = rpctypes.ErrGRPCStopped
	}
	// After Close no response is delivered; after ended no control
	// response is sent: the gRPC stream is not used past the handler.
	sws.ws.Close()
	sws.sendMu.Lock()
	sws.ended = true
	sws.sendMu.Unlock()
	return err
}

func (sws *serverWatchStream) header(rev int64) *pb.ResponseHeader {
	h := sws.s.hdr.fill(&pb.ResponseHeader{Revision: rev})
	return h
}

func (sws *serverWatchStream) recvLoop() error {
	for {
		req, err := sws.grpc.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch uv := req.RequestUnion.(type) {
		case *pb.WatchRequest_CreateRequest:
			if uv.CreateRequest == nil {
				break
			}
			if !sws.create(uv.CreateRequest) {
				return nil
			}
		case *pb.WatchRequest_CancelRequest:
			if uv.CancelRequest == nil {
				break
			}
			id := uv.CancelRequest.WatchId
			if err := sws.ws.Cancel(mvcc.WatchID(id)); err == nil {
				if !sws.sendCtrl(&pb.WatchResponse{Header: sws.header(sws.ws.Rev()), WatchId: id, Canceled: true}) {
					return nil
				}
			}
		case *pb.WatchRequest_ProgressRequest:
			if uv.ProgressRequest != nil {
				sws.ws.RequestProgressAll()
			}
		default:
			// etcd ignores an unknown request rather than end the stream.
		}
	}
}

// create starts a watcher and sends its created (or refused) response; it
// reports false once the stream is closing.
func (sws *serverWatchStream) create(creq *pb.WatchCreateRequest) bool {
	key := creq.Key
	if len(key) == 0 {
		key = []byte{0} // the smallest key
	}
	if creq.StartRevision < 0 {
		return sws.sendCtrl(&pb.WatchResponse{
			Header:       sws.header(sws.ws.Rev()),
			WatchId:      int64(mvcc.InvalidWatchID),
			Canceled:     true,
			Created:      true,
			CancelReason: rpctypes.ErrCompacted.Error(),
		})
	}
	opts := mvcc.WatchOptions{PrevKV: creq.PrevKv, ProgressNotify: creq.ProgressNotify}
	for _, f := range creq.Filters {
		switch f {
		case pb.WatchCreateRequest_NOPUT:
			opts.NoPut = true
		case pb.WatchCreateRequest_NODELETE:
			opts.NoDelete = true
		}
	}
	// range_end empty: key alone; "\x00": every key from key on (mvcc's
	// Watch takes etcd's conventions as they are).
	id, err := sws.ws.Watch(mvcc.WatchID(creq.WatchId), key, creq.RangeEnd, creq.StartRevision, opts)
	if err == nil && creq.Fragment {
		sws.sendMu.Lock()
		sws.fragment[id] = true
		sws.sendMu.Unlock()
	}
	wr := &pb.WatchResponse{Header: sws.header(sws.ws.Rev()), WatchId: int64(id), Created: true, Canceled: err != nil}
	if err != nil {
		wr.WatchId = int64(mvcc.InvalidWatchID)
		wr.CancelReason = cancelReason(err)
	}
	return sws.sendCtrl(wr)
}

// sendCtrl sends a created or cancelled response; after a created one, the
// watcher's held responses follow it. It reports false once the stream
// cannot send.
func (sws *serverWatchStream) sendCtrl(c *pb.WatchResponse) bool {
	sws.sendMu.Lock()
	defer sws.sendMu.Unlock()
	if sws.ended {
		return false
	}
	if err := sws.grpc.Send(c); err != nil {
		return false
	}
	wid := mvcc.WatchID(c.WatchId)
	if c.Canceled && wid != mvcc.InvalidWatchID {
		delete(sws.ids, wid)
		delete(sws.fragment, wid)
		return true
	}
	if c.Created {
		sws.ids[wid] = true
		for _, wr := range sws.pending[wid] {
			if !sws.sendLocked(wid, wr) {
				return false
			}
		}
		delete(sws.pending, wid)
	}
	return true
}

// deliver sends one response of the watch stream, on its goroutine; the
// responses of a watcher whose created response has not gone out yet wait
// for it (etcd's pending map).
func (sws *serverWatchStream) deliver(wresp mvcc.WatchResponse) bool {
	events := make([]*mvccpb.Event, len(wresp.Events))
	for i := range wresp.Events {
		events[i] = &wresp.Events[i]
	}
	wr := &pb.WatchResponse{
		Header:          sws.header(wresp.Revision),
		WatchId:         int64(wresp.WatchID),
		Events:          events,
		CompactRevision: wresp.CompactRevision,
		Canceled:        wresp.CompactRevision != 0,
	}
	sws.sendMu.Lock()
	defer sws.sendMu.Unlock()
	if sws.ended {
		return false
	}
	// A progress notification for the whole stream has ID -1.
	if wresp.WatchID != mvcc.InvalidWatchID && !sws.ids[wresp.WatchID] {
		sws.pending[wresp.WatchID] = append(sws.pending[wresp.WatchID], wr)
		return true
	}
	return sws.sendLocked(wresp.WatchID, wr)
}

// sendLocked sends one response, in fragments if its watcher asked for
// them; sendMu is held.
func (sws *serverWatchStream) sendLocked(id mvcc.WatchID, wr *pb.WatchResponse) bool {
	var err error
	if sws.fragment[id] {
		err = sendFragments(wr, sws.s.maxRequestBytes, sws.grpc.Send)
	} else {
		err = sws.grpc.Send(wr)
	}
	return err == nil
}

// sendFragments splits wr into responses below maxBytes, each holding at
// least one event, all but the last marked Fragment (etcd's
// sendFragments). A response below the limit, or with fewer than two
// events, goes whole.
func sendFragments(wr *pb.WatchResponse, maxBytes int, send func(*pb.WatchResponse) error) error {
	if wr.Size() < maxBytes || len(wr.Events) < 2 {
		return send(wr)
	}
	ow := *wr
	ow.Events = make([]*mvccpb.Event, 0)
	ow.Fragment = true
	idx := 0
	for {
		cur := ow
		for _, ev := range wr.Events[idx:] {
			cur.Events = append(cur.Events, ev)
			if len(cur.Events) > 1 && cur.Size() >= maxBytes {
				cur.Events = cur.Events[:len(cur.Events)-1]
				break
			}
			idx++
		}
		if idx == len(wr.Events) {
			cur.Fragment = false
		}
		if err := send(&cur); err != nil {
			return err
		}
		if !cur.Fragment {
			return nil
		}
	}
}
