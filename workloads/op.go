package workloads

// OpKind is the kind of one generated operation. The zero value is invalid so a
// forgotten Next call cannot pass for a get.
type OpKind uint8

// The op kinds. Their String forms are the names used in results and histograms.
const (
	_ OpKind = iota
	// OpGet reads one key (an etcd Range of a single key).
	OpGet
	// OpPut writes Value to an existing key id (an update in YCSB's terms).
	OpPut
	// OpDelete deletes one key (etcd DeleteRange of a single key).
	OpDelete
	// OpRange reads up to Limit keys in [Key, End) (a YCSB scan, a Kubernetes list).
	OpRange
	// OpTxnCAS is one etcd Txn: if mod_revision(Key) equals the revision the
	// client last saw for Key, put Value, else get Key (the shape of
	// Kubernetes' GuaranteedUpdate). How the client learns that revision (its
	// own cache or a read first) is the runner's business, not the generator's.
	OpTxnCAS
	// OpRMW is YCSB's read-modify-write: a get of Key, then an unconditional
	// put of Value.
	OpRMW
	// OpInsert puts Value under a key id never used before; it grows the key
	// space shared by all workers (KeySpace.Count).
	OpInsert

	numOpKinds = int(OpInsert) + 1
)

// OpKinds lists every valid kind in a fixed order (for per-kind histograms).
func OpKinds() []OpKind {
	return []OpKind{OpGet, OpPut, OpDelete, OpRange, OpTxnCAS, OpRMW, OpInsert}
}

// String returns "get", "put", "delete", "range", "txn-cas", "rmw" or "insert".
func (k OpKind) String() string {
	switch k {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpRange:
		return "range"
	case OpTxnCAS:
		return "txn-cas"
	case OpRMW:
		return "rmw"
	case OpInsert:
		return "insert"
	}
	return "invalid"
}

// IsRead reports whether the op reads (so Op.Serializable is meaningful).
func (k OpKind) IsRead() bool {
	return k == OpGet || k == OpRange || k == OpTxnCAS || k == OpRMW
}

// IsWrite reports whether the op writes.
func (k OpKind) IsWrite() bool {
	return k == OpPut || k == OpDelete || k == OpTxnCAS || k == OpRMW || k == OpInsert
}

// Op is one generated operation. Generator.Next and Loader.Next overwrite it in
// place and reuse its buffers: Key and End are owned by the generator and are
// valid only until the next call; Value is a read-only window into a random
// block shared by all workers of a KeySpace and must never be modified (copy
// it if the client keeps or mutates it).
type Op struct {
	Kind OpKind
	// ID is the key id Key was rendered from (for a Kubernetes-shaped range,
	// the id whose resource and namespace are listed).
	ID uint64
	// Key is the key of a point op, or the start of a range.
	Key []byte
	// End is the exclusive end of a range, nil for point ops. etcd's
	// convention applies: End == "\x00" means every key >= Key.
	End []byte
	// Value is the value to write for put, insert, rmw and txn-cas; nil
	// otherwise.
	Value []byte
	// Limit caps the keys a range returns; 0 means no limit (etcd's meaning).
	Limit int64
	// Serializable asks for a serializable (local, possibly stale) read
	// instead of a linearizable one. It is only set on reads: get, range and
	// the read half of rmw and txn-cas.
	Serializable bool
}
