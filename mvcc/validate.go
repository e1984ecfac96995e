package mvcc

import (
	"bytes"
	"errors"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Validation runs before anything is written, so a rejected request changes
// nothing. The raft layer calls these before proposing, as etcd's API layer
// does; the store calls them again before applying.

func (c Config) checkSize(size int) error {
	if size > c.MaxRequestBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrRequestTooLarge, size, c.MaxRequestBytes)
	}
	return nil
}

// ValidateRange checks a RangeRequest: size and key.
func (c Config) ValidateRange(r *pb.RangeRequest) error {
	if r == nil {
		return fmt.Errorf("%w: nil range request", ErrEmptyKey)
	}
	if err := c.checkSize(r.Size()); err != nil {
		return err
	}
	return checkRange(r)
}

func checkRange(r *pb.RangeRequest) error {
	if len(r.Key) == 0 {
		return fmt.Errorf("%w: range", ErrEmptyKey)
	}
	return nil
}

// ValidatePut checks a PutRequest: size, key, ignore_value/ignore_lease. It
// does not look the lease up: as in etcd, whether a lease exists is decided
// when the put is applied (the store checks it inside its write txn), in log
// order, so a put proposed right after its lease's grant is never refused by
// a member that has not applied the grant yet.
func (c Config) ValidatePut(r *pb.PutRequest) error {
	if r == nil {
		return fmt.Errorf("%w: nil put request", ErrEmptyKey)
	}
	if err := c.checkSize(r.Size()); err != nil {
		return err
	}
	return c.checkPut(r)
}

func (c Config) checkPut(r *pb.PutRequest) error {
	var errs []error
	if len(r.Key) == 0 {
		errs = append(errs, fmt.Errorf("%w: put", ErrEmptyKey))
	}
	if r.IgnoreValue && len(r.Value) != 0 {
		errs = append(errs, fmt.Errorf("%w: put of %q with ignore_value", ErrValueProvided, r.Key))
	}
	if r.IgnoreLease && r.Lease != 0 {
		errs = append(errs, fmt.Errorf("%w: put of %q with ignore_lease", ErrLeaseProvided, r.Key))
	}
	return errors.Join(errs...)
}

// ValidateDeleteRange checks a DeleteRangeRequest: size and key.
func (c Config) ValidateDeleteRange(r *pb.DeleteRangeRequest) error {
	if r == nil {
		return fmt.Errorf("%w: nil delete-range request", ErrEmptyKey)
	}
	if err := c.checkSize(r.Size()); err != nil {
		return err
	}
	return checkDeleteRange(r)
}

func checkDeleteRange(r *pb.DeleteRangeRequest) error {
	if len(r.Key) == 0 {
		return fmt.Errorf("%w: delete range", ErrEmptyKey)
	}
	return nil
}

// ValidateTxn checks a TxnRequest as etcd's API layer: size, at most
// MaxTxnOps compares and ops per branch at every nesting level, every op well
// formed, and no key written twice (a put and another put of the key, or a put
// inside a delete range, across nested txns; the two branches of one nested
// txn may write the same key, as only one runs).
func (c Config) ValidateTxn(r *pb.TxnRequest) error {
	if r == nil {
		return fmt.Errorf("%w: nil txn request", ErrEmptyKey)
	}
	if err := c.checkSize(r.Size()); err != nil {
		return err
	}
	if err := c.checkTxn(r); err != nil {
		return err
	}
	if _, _, err := checkIntervals(r.Success); err != nil {
		return err
	}
	if _, _, err := checkIntervals(r.Failure); err != nil {
		return err
	}
	return nil
}

func (c Config) checkTxn(r *pb.TxnRequest) error {
	if len(r.Compare) > c.MaxTxnOps || len(r.Success) > c.MaxTxnOps || len(r.Failure) > c.MaxTxnOps {
		return fmt.Errorf("%w: %d compares, %d success ops, %d failure ops, limit %d",
			ErrTooManyOps, len(r.Compare), len(r.Success), len(r.Failure), c.MaxTxnOps)
	}
	for _, cmp := range r.Compare {
		if cmp == nil || len(cmp.Key) == 0 {
			return fmt.Errorf("%w: compare", ErrEmptyKey)
		}
	}
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			if err := c.checkOp(op); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c Config) checkOp(op *pb.RequestOp) error {
	if op == nil {
		return fmt.Errorf("%w: nil request op", ErrKeyNotFound)
	}
	switch t := op.Request.(type) {
	case *pb.RequestOp_RequestRange:
		if t.RequestRange == nil {
			return fmt.Errorf("%w: empty range op", ErrKeyNotFound)
		}
		return checkRange(t.RequestRange)
	case *pb.RequestOp_RequestPut:
		if t.RequestPut == nil {
			return fmt.Errorf("%w: empty put op", ErrKeyNotFound)
		}
		return c.checkPut(t.RequestPut)
	case *pb.RequestOp_RequestDeleteRange:
		if t.RequestDeleteRange == nil {
			return fmt.Errorf("%w: empty delete-range op", ErrKeyNotFound)
		}
		return checkDeleteRange(t.RequestDeleteRange)
	case *pb.RequestOp_RequestTxn:
		if t.RequestTxn == nil {
			return fmt.Errorf("%w: empty txn op", ErrKeyNotFound)
		}
		return c.checkTxn(t.RequestTxn)
	}
	return fmt.Errorf("%w: empty request op", ErrKeyNotFound)
}

// interval is a delete range [start, end); end nil means the single key
// start, end empty means no upper bound (range_end "\x00").
type interval struct{ start, end []byte }

func (iv interval) contains(k []byte) bool {
	if iv.end == nil {
		return bytes.Equal(k, iv.start)
	}
	return bytes.Compare(k, iv.start) >= 0 && (len(iv.end) == 0 || bytes.Compare(k, iv.end) < 0)
}

func intersects(dels []interval, k []byte) bool {
	for _, d := range dels {
		if d.contains(k) {
			return true
		}
	}
	return false
}

// checkIntervals returns the keys put and the ranges deleted by ops and their
// nested txns, or ErrDuplicateKey. Following etcd's checkIntervals; a linear
// list of delete ranges replaces etcd's interval tree (a txn has at most
// MaxTxnOps ops per level). Unlike etcd's interval tree, a from-key delete
// (range_end "\x00") covers every key after its start, so a put into it is
// reported as the duplicate it is.
func checkIntervals(ops []*pb.RequestOp) (map[string]struct{}, []interval, error) {
	var dels []interval
	for _, op := range ops {
		if d := op.GetRequestDeleteRange(); d != nil {
			dels = append(dels, interval{start: d.Key, end: rangeEnd(d.RangeEnd)})
		}
	}
	puts := make(map[string]struct{})
	dup := func(k string) error {
		return fmt.Errorf("%w: key %q", ErrDuplicateKey, k)
	}
	for _, op := range ops {
		t := op.GetRequestTxn()
		if t == nil {
			continue
		}
		putsThen, delsThen, err := checkIntervals(t.Success)
		if err != nil {
			return nil, nil, err
		}
		putsElse, delsElse, err := checkIntervals(t.Failure)
		if err != nil {
			return nil, nil, err
		}
		for k := range putsThen {
			if _, ok := puts[k]; ok || intersects(dels, []byte(k)) {
				return nil, nil, dup(k)
			}
			puts[k] = struct{}{}
		}
		for k := range putsElse {
			if _, ok := puts[k]; ok {
				if _, safe := putsThen[k]; !safe {
					return nil, nil, dup(k)
				}
			}
			if intersects(dels, []byte(k)) {
				return nil, nil, dup(k)
			}
			puts[k] = struct{}{}
		}
		dels = append(dels, delsThen...)
		dels = append(dels, delsElse...)
	}
	for _, op := range ops {
		p := op.GetRequestPut()
		if p == nil {
			continue
		}
		k := string(p.Key)
		if _, ok := puts[k]; ok || intersects(dels, p.Key) {
			return nil, nil, dup(k)
		}
		puts[k] = struct{}{}
	}
	return puts, dels, nil
}
