// Package lease is etcd's lessor (server/lease) over etcdlab's batching
// backend: leases with a TTL, keys attached to them, expiry on the primary
// only, and revocation that deletes every attached key in one mvcc write txn.
//
// Contract, as etcd 3.6's:
//
//   - Grant takes the ID from the caller (etcd's server picks it before
//     proposing); 0 is not a lease. A TTL below Config.MinLeaseTTL is raised
//     to it (etcd: ceil(((3*electionTicks)/2) * heartbeat) in seconds, see
//     MinTTL); a TTL above MaxLeaseTTL fails; an existing ID fails.
//   - Every lease is persisted in the backend's `lease` bucket when granted
//     and deleted from it when revoked, in the revoke's own write txn, so the
//     lease and its keys go in the same commit. New (and Recover) reload the
//     bucket; keys are attached again by mvcc.Open, which reads each live
//     key's lease from its record. Encoding (etcdlab's own; etcd stores a
//     marshalled leasepb.Lease under the same key): key = the ID as 8 bytes
//     big-endian; value = TTL then RemainingTTL, each 8 bytes big-endian.
//   - Only the primary (the raft leader, after Promote) expires leases. A
//     loop every Config.CheckInterval (500ms) takes at most RevokeRate/2
//     expired leases (etcd's leaseRevokeRate 1000 per second) and offers them
//     on ExpiredLeasesC, without blocking, for the server to propose revokes
//     through raft; a lease offered is offered again after
//     ExpiredRetryInterval (3s) if it still exists. Promote extends every
//     lease by the given duration (the election timeout) and spreads piled-up
//     expiries so that no second sees more than 3/4 of the revoke rate;
//     Demote makes every lease live forever until the next Promote.
//   - Renew (keepalive) works on the primary only (ErrNotPrimary elsewhere:
//     forward it); renewing an expired lease waits for its revoke
//     (ErrLeaseNotFound) or for a demotion (ErrNotPrimary), as etcd does.
//   - A put with a lease attaches the key (leaving its previous lease); a
//     put without one or a delete detaches it: mvcc calls Attach and Detach
//     inside its write txns (the mvcc.Lessor interface).
//
// Not implemented: lease checkpoints (etcd's are off by default; RemainingTTL
// is stored as 0 and never set). The raft wiring (grant and revoke applied
// on every member, promotion, expiry, forwarding renews to the leader) is
// the node's, in package cluster.
//
// Locking: the backend's BatchTx lock is always taken before the lessor's
// own, since mvcc calls Attach and Detach with the BatchTx lock held.
package lease
