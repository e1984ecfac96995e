package v3rpc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/version"
)

// maintenanceServer is etcd's Maintenance service over a node.
type maintenanceServer struct {
	m      Maintenance
	hdr    header
	opts   Options
	errMap []ErrorMapping
}

var _ pb.MaintenanceServer = (*maintenanceServer)(nil)

// noLeaderText is what etcd's Status puts in Errors when there is no leader.
const noLeaderText = "etcdserver: no leader"

func (s *maintenanceServer) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	st, err := s.m.Status(ctx)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	alarms, err := s.m.Alarms(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_GET})
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	ver := st.Version
	if ver == "" {
		ver = version.Version
	}
	resp := &pb.StatusResponse{
		Header:           s.hdr.fill(nil),
		Version:          ver,
		DbSize:           st.DbSize,
		Leader:           st.Leader,
		RaftIndex:        st.RaftIndex,
		RaftTerm:         st.RaftTerm,
		RaftAppliedIndex: st.RaftAppliedIndex,
		DbSizeInUse:      st.DbSizeInUse,
		IsLearner:        st.IsLearner,
		StorageVersion:   st.StorageVersion,
		DbSizeQuota:      st.DbSizeQuota,
		DowngradeInfo:    &pb.DowngradeInfo{},
	}
	if st.Leader == 0 {
		resp.Errors = append(resp.Errors, noLeaderText)
	}
	for _, a := range alarms.GetAlarms() {
		resp.Errors = append(resp.Errors, a.String())
	}
	return resp, nil
}

func (s *maintenanceServer) Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	switch r.Action {
	case pb.AlarmRequest_GET, pb.AlarmRequest_ACTIVATE, pb.AlarmRequest_DEACTIVATE:
	default:
		return nil, statusInvalid(fmt.Sprintf("etcdlab: unknown alarm action %d", r.Action))
	}
	resp, err := s.m.Alarms(ctx, r)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	if resp == nil {
		return nil, noResponse("alarm")
	}
	resp.Header = s.hdr.fill(resp.Header)
	return resp, nil
}

func (s *maintenanceServer) Defragment(ctx context.Context, _ *pb.DefragmentRequest) (*pb.DefragmentResponse, error) {
	if err := s.m.Defragment(ctx); err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	return &pb.DefragmentResponse{Header: s.hdr.fill(nil)}, nil
}

func (s *maintenanceServer) HashKV(ctx context.Context, r *pb.HashKVRequest) (*pb.HashKVResponse, error) {
	h, compactRev, hashRev, err := s.m.HashKV(ctx, r.Revision)
	if err != nil {
		return nil, ToGRPCError(err, s.errMap...)
	}
	return &pb.HashKVResponse{
		Header:          s.hdr.fill(nil),
		Hash:            h,
		CompactRevision: compactRev,
		HashRevision:    hashRev,
	}, nil
}

// Snapshot streams the backend image as etcd does: chunks with RemainingBytes
// counting down to 0, then one message whose blob is the SHA-256 of all the
// chunks, which etcdutl checks before restoring. etcd knows the image size
// from its bbolt tx; here the image is spooled to a temporary file so that the
// first chunk already carries the exact remaining byte count.
func (s *maintenanceServer) Snapshot(_ *pb.SnapshotRequest, srv pb.Maintenance_SnapshotServer) (err error) {
	ctx := srv.Context()
	f, err := os.CreateTemp(s.opts.SnapshotSpoolDir, "etcdlab-snapshot-*")
	if err != nil {
		return ToGRPCError(fmt.Errorf("v3rpc: spooling the snapshot: %w", err))
	}
	defer func() {
		// A cleanup failure is reported only when nothing failed before, so
		// that an earlier gRPC error reaches the client unchanged.
		if cerr := errors.Join(f.Close(), os.Remove(f.Name())); cerr != nil && err == nil {
			err = ToGRPCError(fmt.Errorf("v3rpc: removing the spooled snapshot: %w", cerr))
		}
	}()
	n, err := s.m.Snapshot(ctx, f)
	if err != nil {
		return ToGRPCError(err, s.errMap...)
	}
	total, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return ToGRPCError(fmt.Errorf("v3rpc: spooled snapshot: %w", err))
	}
	if total != n {
		return ToGRPCError(fmt.Errorf("v3rpc: snapshot reported %d bytes but wrote %d", n, total))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return ToGRPCError(fmt.Errorf("v3rpc: spooled snapshot: %w", err))
	}
	h := sha256.New()
	var sent int64
	for sent < total {
		// A fresh buffer per message: Send may keep it until the message is
		// written out.
		buf := make([]byte, min(int64(s.opts.SnapshotChunkBytes), total-sent))
		if _, err := io.ReadFull(f, buf); err != nil {
			return ToGRPCError(fmt.Errorf("v3rpc: reading the spooled snapshot at %d of %d: %w", sent, total, err))
		}
		sent += int64(len(buf))
		h.Write(buf)
		if err := srv.Send(&pb.SnapshotResponse{Header: s.hdr.fill(nil), RemainingBytes: uint64(total - sent), Blob: buf}); err != nil {
			return err
		}
	}
	return srv.Send(&pb.SnapshotResponse{Header: s.hdr.fill(nil), RemainingBytes: 0, Blob: h.Sum(nil)})
}

func (s *maintenanceServer) Hash(context.Context, *pb.HashRequest) (*pb.HashResponse, error) {
	return nil, notServed("maintenance Hash (use HashKV)")
}

func (s *maintenanceServer) MoveLeader(context.Context, *pb.MoveLeaderRequest) (*pb.MoveLeaderResponse, error) {
	return nil, notServed("maintenance MoveLeader")
}

func (s *maintenanceServer) Downgrade(context.Context, *pb.DowngradeRequest) (*pb.DowngradeResponse, error) {
	return nil, notServed("maintenance Downgrade")
}
