// Package diskfault makes a node's disk slow or full on demand, for fault
// injection during a measured run.
//
// A Disk holds the fault currently set on one node's disk (none, extra
// latency on writes and fsyncs, or ENOSPC) and wraps the two seams a node's
// I/O goes through: the vfs.FS of the raft WAL and snapshots (FS), and the
// storage engine (Engine). The engine is wrapped at the engines.Engine
// interface rather than at its files because bbolt does its own file I/O
// (no vfs seam) while pebble has one: wrapping the interface keeps the
// injected fault the same code, at the same points, for every engine — a
// synced commit pays the fsync latency, every commit the write latency — so
// a comparison of engines under a slow disk compares the engines, not two
// injection mechanisms. What an engine does inside a commit (bbolt's page
// writes and fdatasync, pebble's WAL record) still runs at the real disk's
// speed on top.
//
// Fault changes are atomic and take effect at the next I/O call; files
// opened before a fault was set are affected too. With no fault set, the
// wrappers cost an atomic load per call; they are only installed for runs
// that schedule disk faults.
package diskfault
