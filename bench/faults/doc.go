// Package faults describes the faults a run injects during its measured
// phase (a Schedule) and computes what each did to the clients (Figures).
//
// A schedule is written as a comma- (or semicolon-) separated list of
//
//	kind[:target][=value]@at[+for]
//
// where at is the offset from the start of the measured phase and for, when
// given, how long the fault lasts before it is lifted (a killed node is
// restarted, a partition healed, a link or disk restored). Without for, a
// kill lasts until a later restart, a partition, delay or loss until a later
// heal, a disk fault until the end of the run. Kinds:
//
//	kill-leader, kill-follower    crash the node (no clean stop: unsynced
//	                              engine writes are lost, only the WAL's
//	                              synced records survive)
//	restart                       restart every node killed and not yet back
//	partition-leader,
//	partition-follower            cut the node off from every other
//	heal                          end every partition, delay and loss
//	delay=D                       delay every link by D
//	loss=P                        drop a share P (0..1] of every link's messages
//	slow-disk[:T]=S[/W]           add S to every fsync and W (default 0) to
//	                              every write on the disks of target T
//	fill-disk[:T]=wal|engine      make the WAL's or the engine's writes and
//	                              fsyncs fail with ENOSPC on target T
//
// Targets are leader, follower or all; slow-disk defaults to all (the nodes
// of an in-process cluster share one disk), fill-disk to leader. Example:
// "kill-leader@5s,restart@8s" or "slow-disk:leader=20ms@4s+5s". A YAML file
// holds the same as a list under "faults", with the fields kind, target,
// value, at and for.
//
// Which node a fault hits (the leader at that moment, the lowest-ID
// follower) is decided when it is injected; bench applies the schedule
// through the target's FaultInjector capability.
package faults
