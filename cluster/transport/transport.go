package transport

import (
	"context"
	"io"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Handler is the receiving node, as the transport sees it.
type Handler interface {
	// Process delivers one message to the local raft node.
	Process(ctx context.Context, m raftpb.Message) error
	// ProcessSnapshot delivers a MsgSnap together with the leader's backend
	// image. The handler must consume image fully (saving it durably) before
	// returning; an error tells the sender the snapshot failed.
	ProcessSnapshot(ctx context.Context, m raftpb.Message, image io.Reader) error
	// ReportUnreachable tells raft that a peer could not be reached.
	ReportUnreachable(id uint64)
	// ReportSnapshot tells raft how sending a snapshot to a peer ended.
	ReportSnapshot(id uint64, status raft.SnapshotStatus)
}

// Transport sends messages from one node to its peers.
type Transport interface {
	// Send queues msgs for delivery and returns at once. A message to an
	// unknown or unreachable peer is dropped and reported through
	// Handler.ReportUnreachable; a MsgSnap must go through SendSnapshot.
	Send(msgs []raftpb.Message)
	// SendSnapshot streams m (a MsgSnap) followed by image to m.To in the
	// background, closes image when done, and reports the outcome through
	// Handler.ReportSnapshot.
	SendSnapshot(m raftpb.Message, image io.ReadCloser)
	// AddPeer makes a peer reachable at addr (the in-process network ignores
	// addr). Adding a known peer updates its address.
	AddPeer(id uint64, addr string)
	// RemovePeer forgets a peer; messages to it are dropped from then on.
	RemovePeer(id uint64)
	// Stats returns cumulative counts for the node's side of the transport.
	Stats() Stats
	// Close stops sending and receiving and waits for background work.
	Close() error
}

// Stats counts what a transport carried for one node.
type Stats struct {
	MsgsSent, MsgsDropped, MsgsReceived int64
	BytesSent, BytesReceived            int64
	SnapshotsSent, SnapshotsReceived    int64
}
