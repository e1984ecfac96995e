// Package transport moves raft messages between etcdlab nodes. Two
// implementations share one interface: an in-process network whose links a
// test or experiment controls (one-way delay, jitter, loss, partitions; every
// random choice drawn from a seed), and TCP between processes, so that a
// cluster can span processes and machines. Both stream snapshots: a MsgSnap
// travels with the sender's backend image, as etcd's rafthttp does.
//
// Delivery follows raft's expectations of a network: messages between two
// nodes may be dropped, delayed or (on the in-process network with jitter)
// reordered, and raft retries; Send never blocks the caller's Ready loop.
//
// Contract shared by both transports:
//
//   - Send and SendSnapshot copy the Message and its Entries slice header
//     (not the entry data, which raft never mutates), so the caller may reuse
//     its slices at once.
//   - Queues are bounded (DefaultQueueSize per link or peer, as etcd's
//     stream buffer); a full queue drops the message and reports the peer
//     unreachable, it never blocks.
//   - Handler.ReportUnreachable and Handler.ReportSnapshot run on a
//     transport goroutine, never on the caller of Send, so a handler may take
//     the lock its Ready loop holds while sending. Unreachable reports for a
//     peer merge while one is pending. Every SendSnapshot is reported exactly
//     once (Finish or Failure) unless the sender closes first; a MsgSnap
//     given to Send is refused with a Failure report.
//   - Process and ProcessSnapshot run on transport goroutines (one per
//     in-process link, one per TCP connection) with a context cancelled by
//     Close; Close waits for them, so a handler must not call Close from a
//     callback, nor hold across Close a lock its callbacks take.
//
// The in-process Network is deterministic by seed for a given message
// sequence: each directed link draws loss and jitter from its own PCG seeded
// from (Seed, from, to). With zero delay a message is handed over at once,
// without timers; delays use the injected clock, so tests move time with
// clock.Fake.Advance. Partitions are checked when a message is sent and
// again when it is due, like a cable cut under a packet in flight.
//
// The TCP wire format (header, chunked snapshot image, one-byte ack) is
// described in tcp.go. Frames over TCPOptions.MaxFrameSize, foreign magic or
// version, and malformed messages close the connection and are counted in
// FrameErrors; they never panic or allocate what the peer claims.
package transport
