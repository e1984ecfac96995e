package cluster

import (
	"context"
	"errors"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/engines/backend"
	"etcdlab/engines/engine"
)

// kvOverhead is etcd's per-put allowance for the revision key and the
// KeyValue record around the key and value (storage/quota.go).
const kvOverhead = 256

func costPut(r *pb.PutRequest) int { return kvOverhead + len(r.Key) + len(r.Value) }

// costTxn is the larger of the two branches' put costs, as etcd's costTxn
// (nested txns are not counted, as in etcd).
func costTxn(r *pb.TxnRequest) int {
	branch := func(ops []*pb.RequestOp) int {
		c := 0
		for _, op := range ops {
			if p := op.GetRequestPut(); p != nil {
				c += costPut(p)
			}
		}
		return c
	}
	return max(branch(r.Success), branch(r.Failure))
}

// quotaAvailable is etcd's BackendQuota.Available: size + cost < quota.
func (n *Node) quotaAvailable(cost int) bool {
	if n.opts.QuotaBytes < 0 {
		return true
	}
	return n.kv.store.Backend().Size()+int64(cost) < n.opts.QuotaBytes
}

// checkQuota rejects a write before it is proposed when it would not fit,
// and raises the NOSPACE alarm through raft (etcd's quotaKVServer.check).
func (n *Node) checkQuota(ctx context.Context, cost int) error {
	if cost == 0 || n.opts.QuotaBytes < 0 {
		return nil
	}
	n.kv.mu.RLock()
	if n.kv.store == nil {
		n.kv.mu.RUnlock()
		return ErrStopped
	}
	ok := n.quotaAvailable(cost)
	n.kv.mu.RUnlock()
	if ok {
		return nil
	}
	if !n.mb.alarmActive(pb.AlarmType_NOSPACE) {
		_, _ = n.Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: n.id, Alarm: pb.AlarmType_NOSPACE})
	}
	return ErrNoSpace
}

// alarmKey is one raised alarm.
type alarmKey struct {
	member uint64
	alarm  pb.AlarmType
}

// alarmBucket persists alarms in the backend (etcd's `alarm` bucket), so a
// restarted node still refuses writes.
func alarmBucket() engine.Bucket { return engine.Bucket{ID: 5, Name: "alarm"} }

// applyAlarm applies an AlarmRequest replicated through raft, so every node
// holds the same alarms.
func (n *Node) applyAlarm(r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	resp := &pb.AlarmResponse{Header: &pb.ResponseHeader{}}
	k := alarmKey{member: r.MemberID, alarm: r.Alarm}
	switch r.Action {
	case pb.AlarmRequest_GET:
		resp.Alarms = n.AlarmList()
		return resp, nil
	case pb.AlarmRequest_ACTIVATE:
		if r.Alarm == pb.AlarmType_NONE {
			return resp, nil
		}
		if n.mb.setAlarm(k, true) {
			n.persistAlarm(k, true)
			n.emit(EventAlarmRaised, 0, "%s member=%x", r.Alarm, r.MemberID)
		}
		resp.Alarms = []*pb.AlarmMember{{MemberID: r.MemberID, Alarm: r.Alarm}}
	case pb.AlarmRequest_DEACTIVATE:
		if n.mb.setAlarm(k, false) {
			n.persistAlarm(k, false)
			n.emit(EventAlarmDisarmed, 0, "%s member=%x", r.Alarm, r.MemberID)
			resp.Alarms = []*pb.AlarmMember{{MemberID: r.MemberID, Alarm: r.Alarm}}
		}
	}
	return resp, nil
}

func alarmKeyBytes(k alarmKey) []byte {
	b, _ := (&pb.AlarmMember{MemberID: k.member, Alarm: k.alarm}).Marshal()
	return b
}

// persistAlarm writes the alarm into the backend within the applying entry's
// write txn, so it is committed together with the consistent index.
func (n *Node) persistAlarm(k alarmKey, on bool) {
	tx := n.kv.store.Backend().BatchTx()
	tx.Lock()
	if on {
		tx.UnsafePut(alarmBucket(), alarmKeyBytes(k), []byte{})
	} else {
		tx.UnsafeDelete(alarmBucket(), alarmKeyBytes(k))
	}
	tx.Unlock()
}

func (n *Node) loadAlarms() {
	n.kv.mu.RLock()
	rt := n.kv.store.Backend().ReadTx()
	n.kv.mu.RUnlock()
	defer rt.Close()
	alarms := make(map[alarmKey]struct{})
	_ = rt.Scan(alarmBucket(), nil, nil, 0, func(k, _ []byte) bool {
		var am pb.AlarmMember
		if am.Unmarshal(k) == nil {
			alarms[alarmKey{member: am.MemberID, alarm: am.Alarm}] = struct{}{}
		}
		return true
	})
	n.mb.setAlarms(alarms)
}

// AlarmList returns the alarms raised in the cluster, as this node knows.
func (n *Node) AlarmList() []*pb.AlarmMember {
	return n.mb.alarmList()
}

// Alarm replicates an alarm change (GET is answered locally).
func (n *Node) Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	if r.Action == pb.AlarmRequest_GET {
		return &pb.AlarmResponse{Header: &pb.ResponseHeader{}, Alarms: n.AlarmList()}, nil
	}
	res, err := n.propose(ctx, &pb.InternalRaftRequest{Alarm: r})
	if err != nil {
		return nil, err
	}
	resp, _ := res.resp.(*pb.AlarmResponse)
	return resp, res.err
}

// stopContext is a context that ends when the node stops or cancel is
// called, for work the node starts on its own (no caller's context).
func (n *Node) stopContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-n.loops.stopc:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// raiseNoSpaceAsync proposes the NOSPACE alarm from outside the apply
// goroutine (which must not wait on its own proposals), as etcd does.
func (n *Node) raiseNoSpaceAsync() {
	if n.mb.alarmActive(pb.AlarmType_NOSPACE) {
		return
	}
	select {
	case <-n.loops.stopc:
		return
	default:
	}
	n.loops.wg.Add(1)
	go func() {
		defer n.loops.wg.Done()
		ctx, cancel := n.stopContext()
		defer cancel()
		_, _ = n.Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: n.id, Alarm: pb.AlarmType_NOSPACE})
	}()
}

// Defrag reclaims the backend's free space on this node (etcd's defragment,
// per member).
func (n *Node) Defrag() error {
	n.kv.mu.RLock()
	defer n.kv.mu.RUnlock()
	if n.kv.store == nil {
		return ErrStopped
	}
	b := n.kv.store.Backend()
	// The sizes before and after are read outside the timed part: the
	// disk size may list the engine's directory.
	before, diskBefore := b.Size(), b.DiskSize()
	start := n.clk.Now()
	n.m.DefragInflight.Set(1)
	err := b.Defrag()
	n.m.DefragInflight.Set(0)
	end := n.clk.Now()
	n.m.BackendDefrag.Observe(end.Sub(start).Seconds())
	if err != nil {
		return errors.Join(errors.New("cluster: defrag"), err)
	}
	after, diskAfter := b.Size(), b.DiskSize()
	if n.opts.OnEvent != nil {
		f := backend.DefragFigures{Before: before, After: after, DiskBefore: diskBefore, DiskAfter: diskAfter}
		n.opts.OnEvent(Event{Node: n.id, Time: end, Kind: EventDefrag, Duration: end.Sub(start), Detail: f.Detail(), Values: f.Values()})
	}
	return nil
}
