package mvcc

import (
	"fmt"

	"etcdlab/engines/backend"
)

// Lessor is what the store needs of a lease manager (etcd's lease.Lessor as
// seen from mvcc): whether a lease exists, which lease a key is attached to,
// and attaching and detaching keys. The store calls Attach and Detach inside
// its write txns, with the backend's BatchTx lock held, so an implementation
// must not take that lock itself in them, and must take its own lock only
// after the BatchTx lock wherever it takes both.
type Lessor interface {
	// Lookup reports whether lease id exists.
	Lookup(id int64) bool
	// KeyLease is the lease key is attached to, 0 if none.
	KeyLease(key []byte) int64
	// Attach attaches key to lease id (a no-op if id does not exist).
	Attach(id int64, key []byte)
	// Detach detaches key from lease id (a no-op if it is not attached).
	Detach(id int64, key []byte)
}

// DeleteKeysTxn deletes keys in one write txn, as a lease revoke does
// (etcd's lessor.Revoke through its TxnDelete). keys is called first, with
// the txn open (the BatchTx lock held), so that it can write its own records
// (the lease bucket) into the same commit and name the keys under the same
// lock the puts attaching keys hold; the keys it returns are deleted in that
// txn, and the txn's events reach watchers as one revision. It returns the
// store's revision after the txn (unchanged if no key was live).
func (s *Store) DeleteKeysTxn(keys func(tx *backend.BatchTx) [][]byte) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	w, err := s.beginWrite()
	if err != nil {
		return 0, err
	}
	for _, k := range keys(w.tx) {
		if _, err := w.deleteRange(k, nil); err != nil {
			w.end()
			return 0, fmt.Errorf("mvcc: deleting %q in a lease revoke: %w", k, err)
		}
	}
	return w.end(), nil
}
