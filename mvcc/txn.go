package mvcc

import (
	"bytes"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// Txn runs a transaction as etcd's txn.Txn: the compares of the whole chosen
// path (nested txns included) are evaluated against the state before the txn,
// every request on that path is checked, and only then are the ops run. A
// mutating txn takes one main revision; its changes take sub-revisions 0, 1...
func (s *Store) Txn(r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := s.cfg.ValidateTxn(r); err != nil {
		return nil, err
	}
	if isTxnReadOnly(r) {
		if err := s.rlock(); err != nil {
			return nil, err
		}
		defer s.mu.RUnlock()
		v, tx := s.openRead()
		defer tx.Close()
		path := s.compareToPath(v, r)
		resp, _, err := s.execTxn(v, nil, r, path)
		if err != nil {
			return nil, err
		}
		resp.Header.Revision = v.readRev
		return resp, nil
	}
	w, err := s.beginWrite()
	if err != nil {
		return nil, err
	}
	path := s.compareToPath(w.view(), r)
	if err := s.checkTxn(w.view(), r, path); err != nil {
		w.end()
		return nil, err
	}
	resp, _, err := s.execTxn(w.view(), &w, r, path)
	rev := w.end()
	if err != nil {
		// Only a damaged backend fails here: every request was checked above.
		return nil, err
	}
	resp.Header.Revision = rev
	return resp, nil
}

// isTxnReadOnly: every op of both branches is a Range (a nested txn counts as
// a write, as in etcd).
func isTxnReadOnly(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			if op.GetRequestRange() == nil {
				return false
			}
		}
	}
	return true
}

// compareToPath evaluates the compares of r and of the nested txns on the
// chosen branches, depth first, all against v.
func (s *Store) compareToPath(v txnView, r *pb.TxnRequest) []bool {
	ok := s.applyCompares(v, r.Compare)
	path := []bool{ok}
	ops := r.Success
	if !ok {
		ops = r.Failure
	}
	for _, op := range ops {
		if t := op.GetRequestTxn(); t != nil {
			path = append(path, s.compareToPath(v, t)...)
		}
	}
	return path
}

func (s *Store) applyCompares(v txnView, cs []*pb.Compare) bool {
	for _, c := range cs {
		if !s.applyCompare(v, c) {
			return false
		}
	}
	return true
}

// applyCompare: over a range every live key must satisfy the compare; with no
// live key, VERSION/CREATE/MOD/LEASE compare as 0 and VALUE fails.
func (s *Store) applyCompare(v txnView, c *pb.Compare) bool {
	kvs, _, err := s.rangeKeys(v, c.Key, rangeEnd(c.RangeEnd), 0, 0, false)
	if err != nil {
		return false
	}
	if len(kvs) == 0 {
		if c.Target == pb.Compare_VALUE {
			return false
		}
		return compareKV(c, &mvccpb.KeyValue{})
	}
	for i := range kvs {
		if !compareKV(c, &kvs[i]) {
			return false
		}
	}
	return true
}

func compareKV(c *pb.Compare, kv *mvccpb.KeyValue) bool {
	var result int
	switch c.Target {
	case pb.Compare_VALUE:
		result = bytes.Compare(kv.Value, c.GetValue())
	case pb.Compare_CREATE:
		result = cmpInt(kv.CreateRevision, c.GetCreateRevision())
	case pb.Compare_MOD:
		result = cmpInt(kv.ModRevision, c.GetModRevision())
	case pb.Compare_VERSION:
		result = cmpInt(kv.Version, c.GetVersion())
	case pb.Compare_LEASE:
		result = cmpInt(kv.Lease, c.GetLease())
	}
	switch c.Result {
	case pb.Compare_EQUAL:
		return result == 0
	case pb.Compare_NOT_EQUAL:
		return result != 0
	case pb.Compare_GREATER:
		return result > 0
	case pb.Compare_LESS:
		return result < 0
	}
	return true
}

// checkTxn checks every request on the chosen path against the state before
// the txn, so that a txn is applied whole or not at all: ranges at compacted
// or future revisions, puts needing an existing key.
func (s *Store) checkTxn(v txnView, r *pb.TxnRequest, path []bool) error {
	_, err := s.checkTxnPath(v, r, path)
	return err
}

func (s *Store) checkTxnPath(v txnView, r *pb.TxnRequest, path []bool) ([]bool, error) {
	ops := r.Success
	if !path[0] {
		ops = r.Failure
	}
	path = path[1:]
	for _, op := range ops {
		switch t := op.Request.(type) {
		case *pb.RequestOp_RequestRange:
			if rr := t.RequestRange; rr.Revision != 0 {
				if _, err := v.checkRev(rr.Revision); err != nil {
					return nil, err
				}
			}
		case *pb.RequestOp_RequestPut:
			if err := s.checkPut(v, t.RequestPut); err != nil {
				return nil, err
			}
		case *pb.RequestOp_RequestTxn:
			var err error
			if path, err = s.checkTxnPath(v, t.RequestTxn, path); err != nil {
				return nil, err
			}
		}
	}
	return path, nil
}

// execTxn runs the ops of the chosen path; ranges inside a write txn see the
// txn's earlier writes. It returns the unconsumed rest of path.
func (s *Store) execTxn(rv txnView, w *writeTxn, r *pb.TxnRequest, path []bool) (*pb.TxnResponse, []bool, error) {
	resp := &pb.TxnResponse{Header: &pb.ResponseHeader{}, Succeeded: path[0]}
	ops := r.Success
	if !path[0] {
		ops = r.Failure
	}
	path = path[1:]
	resp.Responses = make([]*pb.ResponseOp, len(ops))
	for i, op := range ops {
		v := rv
		if w != nil {
			v = w.view()
		}
		var err error
		switch t := op.Request.(type) {
		case *pb.RequestOp_RequestRange:
			var rr *pb.RangeResponse
			rr, err = s.execRange(v, t.RequestRange)
			resp.Responses[i] = &pb.ResponseOp{Response: &pb.ResponseOp_ResponseRange{ResponseRange: rr}}
		case *pb.RequestOp_RequestPut:
			var pr *pb.PutResponse
			pr, err = s.execPut(w, t.RequestPut)
			resp.Responses[i] = &pb.ResponseOp{Response: &pb.ResponseOp_ResponsePut{ResponsePut: pr}}
		case *pb.RequestOp_RequestDeleteRange:
			var dr *pb.DeleteRangeResponse
			dr, err = s.execDeleteRange(w, t.RequestDeleteRange)
			resp.Responses[i] = &pb.ResponseOp{Response: &pb.ResponseOp_ResponseDeleteRange{ResponseDeleteRange: dr}}
		case *pb.RequestOp_RequestTxn:
			var tr *pb.TxnResponse
			tr, path, err = s.execTxn(rv, w, t.RequestTxn, path)
			resp.Responses[i] = &pb.ResponseOp{Response: &pb.ResponseOp_ResponseTxn{ResponseTxn: tr}}
		default:
			err = fmt.Errorf("%w: empty request op", ErrKeyNotFound)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return resp, path, nil
}
