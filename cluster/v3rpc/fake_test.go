package v3rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"etcdlab/engines"
	"etcdlab/engines/backend"
	"etcdlab/lease"
	"etcdlab/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Errors as the raft node defines them: other sentinels with etcd's texts.
// The API layer cannot import them and must recognise them by their text.
var (
	errNodeNoSpace        = errors.New("etcdserver: mvcc: database space exceeded")
	errNodeMemberNotFound = errors.New("membership: member not found")
	errNodeNotLearner     = errors.New("membership: can only promote a learner member")
)

// fakeNode is a single-member node without raft: every request goes straight
// to an mvcc.Store. It implements Backend as the raft node will, including
// the NOSPACE alarm rule (puts rejected while it is raised) and membership.
type fakeNode struct {
	store  *mvcc.Store
	lessor *lease.Lessor

	mu      sync.Mutex
	fail    map[string]error // op name → error returned instead of serving
	alarms  []*pb.AlarmMember
	members []*pb.Member
	nextID  uint64
	leader  uint64
	applied uint64
}

var _ Backend = (*fakeNode)(nil)

const (
	fakeClusterID = 0xc1
	fakeMemberID  = 0x1
	fakeTerm      = 7
)

func newFakeNode(t testing.TB, engineName string) *fakeNode {
	t.Helper()
	e, err := engines.Open(engineName, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := backend.New(e, backend.Config{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	le, err := lease.New(b, lease.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := mvcc.Open(b, mvcc.Config{Lessor: le})
	if err != nil {
		_ = b.Close()
		t.Fatal(err)
	}
	le.SetDeleter(s)
	le.Promote(0)
	t.Cleanup(func() {
		le.Close()
		s.WaitCompactions()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return &fakeNode{
		store:   s,
		lessor:  le,
		fail:    map[string]error{},
		members: []*pb.Member{{ID: fakeMemberID, Name: "m1", PeerURLs: []string{"http://127.0.0.1:2380"}, ClientURLs: []string{"http://127.0.0.1:2379"}}},
		nextID:  fakeMemberID + 1,
		leader:  fakeMemberID,
	}
}

// failWith makes op return err until cleared with a nil err.
func (f *fakeNode) failWith(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, op)
		return
	}
	f.fail[op] = err
}

func (f *fakeNode) failure(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[op]; err != nil {
		return fmt.Errorf("fake node: %s: %w", op, err)
	}
	return nil
}

func (f *fakeNode) noSpace() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.alarms {
		if a.Alarm == pb.AlarmType_NOSPACE {
			return true
		}
	}
	return false
}

func (f *fakeNode) wrote() {
	f.mu.Lock()
	f.applied++
	f.mu.Unlock()
}

func (f *fakeNode) Range(_ context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := f.failure("range"); err != nil {
		return nil, err
	}
	return f.store.Range(r)
}

func (f *fakeNode) Put(_ context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := f.failure("put"); err != nil {
		return nil, err
	}
	if f.noSpace() {
		return nil, fmt.Errorf("fake node: put %q: %w", r.Key, errNodeNoSpace)
	}
	defer f.wrote()
	return f.store.Put(r)
}

func (f *fakeNode) DeleteRange(_ context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if err := f.failure("delete"); err != nil {
		return nil, err
	}
	defer f.wrote()
	return f.store.DeleteRange(r)
}

func txnHasPut(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			if op.GetRequestPut() != nil || (op.GetRequestTxn() != nil && txnHasPut(op.GetRequestTxn())) {
				return true
			}
		}
	}
	return false
}

func (f *fakeNode) Txn(_ context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := f.failure("txn"); err != nil {
		return nil, err
	}
	if txnHasPut(r) && f.noSpace() {
		return nil, fmt.Errorf("fake node: txn: %w", errNodeNoSpace)
	}
	defer f.wrote()
	return f.store.Txn(r)
}

func (f *fakeNode) Compact(_ context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	if err := f.failure("compact"); err != nil {
		return nil, err
	}
	done, err := f.store.Compact(r.Revision)
	if err != nil {
		return nil, err
	}
	if r.Physical {
		<-done
	}
	return &pb.CompactionResponse{Header: &pb.ResponseHeader{Revision: f.store.Rev()}}, nil
}

func (f *fakeNode) Status(context.Context) (Status, error) {
	if err := f.failure("status"); err != nil {
		return Status{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.store.Backend()
	return Status{
		Leader:           f.leader,
		RaftIndex:        f.applied,
		RaftAppliedIndex: f.applied,
		RaftTerm:         fakeTerm,
		DbSize:           b.Size(),
		DbSizeInUse:      b.SizeInUse(),
	}, nil
}

func (f *fakeNode) Alarms(_ context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &pb.AlarmResponse{}
	find := func() int {
		for i, a := range f.alarms {
			if a.Alarm == r.Alarm && a.MemberID == r.MemberID {
				return i
			}
		}
		return -1
	}
	switch r.Action {
	case pb.AlarmRequest_GET:
		for _, a := range f.alarms {
			if r.Alarm == pb.AlarmType_NONE || a.Alarm == r.Alarm {
				resp.Alarms = append(resp.Alarms, a)
			}
		}
	case pb.AlarmRequest_ACTIVATE:
		a := &pb.AlarmMember{MemberID: r.MemberID, Alarm: r.Alarm}
		if find() < 0 {
			f.alarms = append(f.alarms, a)
		}
		resp.Alarms = []*pb.AlarmMember{a}
	case pb.AlarmRequest_DEACTIVATE:
		if i := find(); i >= 0 {
			resp.Alarms = []*pb.AlarmMember{f.alarms[i]}
			f.alarms = append(f.alarms[:i], f.alarms[i+1:]...)
		}
	}
	return resp, nil
}

func (f *fakeNode) Defragment(context.Context) error {
	if err := f.failure("defrag"); err != nil {
		return err
	}
	return f.store.Backend().Defrag()
}

func (f *fakeNode) HashKV(_ context.Context, rev int64) (uint32, int64, int64, error) {
	h, _, err := f.store.HashByRev(rev)
	if err != nil {
		return 0, 0, 0, err
	}
	return h.Hash, h.CompactRevision, h.Revision, nil
}

func (f *fakeNode) Snapshot(_ context.Context, w io.Writer) (int64, error) {
	if err := f.failure("snapshot"); err != nil {
		return 0, err
	}
	return f.store.Backend().Snapshot(w)
}

func (f *fakeNode) MemberList(context.Context, bool) ([]*pb.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*pb.Member(nil), f.members...), nil
}

func (f *fakeNode) MemberAdd(_ context.Context, peerURLs []string, learner bool) (*pb.Member, []*pb.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &pb.Member{ID: f.nextID, PeerURLs: peerURLs, IsLearner: learner}
	f.nextID++
	f.members = append(f.members, m)
	return m, append([]*pb.Member(nil), f.members...), nil
}

func (f *fakeNode) memberIndex(id uint64) int {
	for i, m := range f.members {
		if m.ID == id {
			return i
		}
	}
	return -1
}

func (f *fakeNode) MemberRemove(_ context.Context, id uint64) ([]*pb.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.memberIndex(id)
	if i < 0 {
		return nil, fmt.Errorf("fake node: remove %x: %w", id, errNodeMemberNotFound)
	}
	f.members = append(f.members[:i], f.members[i+1:]...)
	return append([]*pb.Member(nil), f.members...), nil
}

func (f *fakeNode) MemberPromote(_ context.Context, id uint64) ([]*pb.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.memberIndex(id)
	if i < 0 {
		return nil, fmt.Errorf("fake node: promote %x: %w", id, errNodeMemberNotFound)
	}
	if !f.members[i].IsLearner {
		return nil, fmt.Errorf("fake node: promote %x: %w", id, errNodeNotLearner)
	}
	// A new record, so that member lists already handed out stay unchanged.
	m := *f.members[i]
	m.IsLearner = false
	f.members[i] = &m
	return append([]*pb.Member(nil), f.members...), nil
}

func (f *fakeNode) NewWatchStreamFunc(deliver func(mvcc.WatchResponse) bool) (*mvcc.WatchStream, error) {
	return f.store.NewWatchStreamFunc(deliver), nil
}

// The fake's lessor is primary and applies grants and revokes at once.
func (f *fakeNode) LeaseGrant(_ context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	if err := f.failure("lease-grant"); err != nil {
		return nil, err
	}
	if r.ID == 0 {
		f.mu.Lock()
		f.nextID++
		r.ID = int64(f.nextID) << 8
		f.mu.Unlock()
	}
	info, err := f.lessor.Grant(lease.ID(r.ID), r.TTL)
	if err != nil {
		return nil, err
	}
	return &pb.LeaseGrantResponse{Header: &pb.ResponseHeader{}, ID: int64(info.ID), TTL: info.TTL}, nil
}

func (f *fakeNode) LeaseRevoke(_ context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	rev, err := f.lessor.Revoke(lease.ID(r.ID))
	if err != nil {
		return nil, err
	}
	return &pb.LeaseRevokeResponse{Header: &pb.ResponseHeader{Revision: rev}}, nil
}

func (f *fakeNode) LeaseRenew(_ context.Context, id int64) (int64, error) {
	if err := f.failure("lease-renew"); err != nil {
		return 0, err
	}
	return f.lessor.Renew(lease.ID(id))
}

func (f *fakeNode) LeaseTimeToLive(_ context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	info, err := f.lessor.TimeToLive(lease.ID(r.ID), r.Keys)
	if err != nil {
		return nil, err
	}
	return &pb.LeaseTimeToLiveResponse{ID: int64(info.ID), TTL: info.TTL, GrantedTTL: info.GrantedTTL, Keys: info.Keys}, nil
}

func (f *fakeNode) LeaseLeases(context.Context, *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	var out []*pb.LeaseStatus
	for _, id := range f.lessor.Leases() {
		out = append(out, &pb.LeaseStatus{ID: int64(id)})
	}
	return &pb.LeaseLeasesResponse{Leases: out}, nil
}

func (f *fakeNode) Header() HeaderInfo {
	return HeaderInfo{ClusterID: fakeClusterID, MemberID: fakeMemberID, RaftTerm: fakeTerm, Revision: f.store.Rev()}
}

// nilNode returns neither responses nor errors: a broken node.
type nilNode struct{ *fakeNode }

func (nilNode) Range(context.Context, *pb.RangeRequest) (*pb.RangeResponse, error)  { return nil, nil }
func (nilNode) Alarms(context.Context, *pb.AlarmRequest) (*pb.AlarmResponse, error) { return nil, nil }
