package bbolt

import (
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Reclaim implements engine.Engine with etcd's defrag
// (server/storage/backend/backend.go): with views and commits shut out, copy
// every bucket into a new file in key order, committing every 10000 keys,
// then swap it in. Making pending writes durable first (etcd's ForceCommit)
// is the caller's job; every batch Committed so far is copied.
//
// As in etcd the temporary db is opened with bbolt's default options (synced
// commits, synced freelist, no initial mmap) except that it keeps the db's
// page size, and every bucket is filled to seq-fill-percent (etcd: 0.9 for
// all) because the copy inserts keys in order. The copy is fsynced before the
// rename, which is followed by a directory fsync.
//
// An error before the old db is closed leaves it open and untouched. After
// that, a failed rename reopens the old file; a failed reopen of the new
// file (which holds every committed key) leaves the engine unusable, every
// call then returning that error.
func (e *Engine) Reclaim() error {
	// An open live transaction holds the gate's read side: take it away
	// (its batch replays at Commit) and keep new ones out while waiting.
	e.blockLive()
	defer e.unblockLive()
	e.gate.Lock()
	defer e.gate.Unlock()
	if err := e.usable(); err != nil {
		return err
	}
	tmpf, err := os.CreateTemp(e.dir, defragTmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("bbolt: reclaim: creating temporary file in %s: %w", e.dir, err)
	}
	tmpPath := tmpf.Name()
	tmpdb, err := bolt.Open(tmpPath, 0o600, &bolt.Options{
		PageSize: e.pageSize,
		OpenFile: func(string, int, os.FileMode) (*os.File, error) { return tmpf, nil },
	})
	if err != nil {
		_ = tmpf.Close()
		_ = os.Remove(tmpPath)
		return fmt.Errorf("bbolt: reclaim: opening temporary db %s: %w", tmpPath, err)
	}
	// bbolt's init of the new file: 4 pages, one fdatasync.
	fsyncs, written := int64(1), 4*int64(e.pageSize)
	var size sizeWatch
	size.observe(tmpf)

	commits, growSyncs, err := copyDB(e.db, tmpdb, e.opts.SeqFillPercent, tmpf, &size)
	if err == nil {
		// Every copy commit synced data and meta pages.
		fsyncs += 2*commits + growSyncs
		st := tmpdb.Stats()
		written += st.TxStats.GetPageAlloc() + commits*int64(e.pageSize)
	}
	if cerr := tmpdb.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing temporary db %s: %w", tmpPath, cerr)
	}
	if err != nil {
		_ = os.Remove(tmpPath)
		return fmt.Errorf("bbolt: reclaim of %s: %w", e.path, err)
	}

	e.dbMu.Lock()
	defer e.dbMu.Unlock()
	if err := e.db.Close(); err != nil {
		_ = os.Remove(tmpPath)
		return e.reopenAfter(fmt.Errorf("bbolt: reclaim: closing %s: %w", e.path, err))
	}
	e.db, e.file = nil, nil
	if err := os.Rename(tmpPath, e.path); err != nil {
		_ = os.Remove(tmpPath)
		return e.reopenAfter(fmt.Errorf("bbolt: reclaim: renaming %s to %s: %w", tmpPath, e.path, err))
	}
	e.metaOps.Add(1)
	dirErr := syncDir(e.dir)
	if dirErr == nil {
		fsyncs++
	}
	if err := e.reopenAfter(nil); err != nil {
		return err
	}
	e.fsyncs.Add(fsyncs)
	e.bytesWritten.Add(written)
	e.reclaimBytes.Add(written)
	e.reclaims.Add(1)
	if dirErr != nil {
		return fmt.Errorf("bbolt: reclaim: new file in place but %w", dirErr)
	}
	return nil
}

// reopenAfter reopens e.path after Reclaim closed the db; cause is the error
// that made Reclaim give up (nil on success). The caller holds dbMu.
func (e *Engine) reopenAfter(cause error) error {
	db, f, err := e.openDB()
	if err != nil {
		e.db, e.file = nil, nil
		e.broken = fmt.Errorf("bbolt: engine unusable, reopening %s after reclaim failed: %w", e.path, err)
		if cause != nil {
			return fmt.Errorf("%w; %w", cause, e.broken)
		}
		return e.broken
	}
	e.setDB(db, f)
	return cause
}

// copyDB copies every bucket of src into dst as etcd's defragdb does. It
// returns the number of commits made on dst and how many of them grew (and so
// fsynced) dst's file.
func copyDB(src, dst *bolt.DB, fill float64, dstFile *os.File, size *sizeWatch) (commits, growSyncs int64, err error) {
	commit := func(tx *bolt.Tx) error {
		if err := tx.Commit(); err != nil {
			return err
		}
		commits++
		if size.observe(dstFile) {
			growSyncs++
		}
		return nil
	}
	rtx, err := src.Begin(false)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = rtx.Rollback() }()
	wtx, err := dst.Begin(true)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if wtx != nil {
			_ = wtx.Rollback()
		}
	}()
	count := 0
	err = rtx.ForEach(func(name []byte, b *bolt.Bucket) error {
		nb, err := wtx.CreateBucketIfNotExists(name)
		if err != nil {
			return fmt.Errorf("creating bucket %q: %w", name, err)
		}
		nb.FillPercent = fill
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return fmt.Errorf("bucket %q holds a nested bucket %s, which etcdlab never creates", name, keyString(k))
			}
			if count++; count > defragLimit {
				if err := commit(wtx); err != nil {
					wtx = nil
					return err
				}
				if wtx, err = dst.Begin(true); err != nil {
					return err
				}
				nb = wtx.Bucket(name)
				nb.FillPercent = fill
				count = 1
			}
			return nb.Put(k, v)
		})
	})
	if err != nil {
		return commits, growSyncs, err
	}
	err = commit(wtx)
	wtx = nil
	return commits, growSyncs, err
}

// sizeWatch tracks a file's size to notice bbolt growing it.
type sizeWatch struct{ last int64 }

func (a *sizeWatch) observe(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	grew := fi.Size() > a.last
	a.last = fi.Size()
	return grew
}
