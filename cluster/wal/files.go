package wal

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"etcdlab/internal/vfsutil"
)

const writeCategory vfs.DiskWriteCategory = vfs.WriteCategoryUnspecified

// segment names one WAL file: its sequence number and the index of the first
// entry it may hold.
type segment struct {
	seq, index uint64
	name       string
}

func walName(seq, index uint64) string { return fmt.Sprintf("%016x-%016x.wal", seq, index) }

// parseWALName accepts exactly the names walName produces.
func parseWALName(name string) (seq, index uint64, ok bool) {
	if !strings.HasSuffix(name, ".wal") || len(name) != 16+1+16+4 {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(name, "%016x-%016x.wal", &seq, &index); err != nil {
		return 0, 0, false
	}
	return seq, index, walName(seq, index) == name
}

// readSegments lists the directory's segments in sequence order.
func readSegments(fs vfs.FS, dir string) ([]segment, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, err
	}
	var segs []segment
	for _, n := range names {
		if seq, idx, ok := parseWALName(n); ok {
			segs = append(segs, segment{seq: seq, index: idx, name: n})
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].seq < segs[j].seq })
	return segs, nil
}

// searchIndex returns the position of the last segment whose first index
// is at most index, or -1.
func searchIndex(segs []segment, index uint64) int {
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i].index <= index {
			return i
		}
	}
	return -1
}

// checkSequence reports a gap in sequence numbers as corruption: a missing
// middle segment means lost records. First indexes need not grow: after a
// new leader overwrites an uncommitted tail, the next segment is named by the
// lower last index, as in etcd.
func checkSequence(segs []segment) error {
	for i := 1; i < len(segs); i++ {
		if segs[i].seq != segs[i-1].seq+1 {
			return corruptf(segs[i].name, 0, ErrCorrupt, "sequence gap: %016x follows %016x", segs[i].seq, segs[i-1].seq)
		}
	}
	return nil
}

// Exist reports whether dir holds at least one WAL segment.
func Exist(fs vfs.FS, dir string) bool {
	segs, err := readSegments(fs, dir)
	return err == nil && len(segs) > 0
}

type truncater interface{ Truncate(size int64) error }

// asTruncater finds Truncate on files that have it (os files); MemFS files
// do not, and the callers fall back.
func asTruncater(f vfs.File) (truncater, bool) {
	t, ok := f.(truncater)
	if !ok {
		return nil, false
	}
	if c, ok := f.(interface{ CanTruncate() bool }); ok && !c.CanTruncate() {
		return nil, false
	}
	return t, true
}

// preallocate reserves size bytes and, where the file can be truncated,
// extends it to size (etcd's Preallocate with extendFile): later writes then
// overwrite allocated blocks inside the file size, so fdatasync need not
// log a size change.
func preallocate(f vfs.File, size int64) error {
	if err := f.Preallocate(0, size); err != nil {
		return fmt.Errorf("wal: preallocate: %w", err)
	}
	if t, ok := asTruncater(f); ok {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if st.Size() < size {
			if err := t.Truncate(size); err != nil {
				return fmt.Errorf("wal: extend: %w", err)
			}
		}
	}
	return nil
}

// zeroToEnd zeroes everything from off to the end of the file and syncs:
// bytes after the last valid record are never-synced leftovers of a torn
// write, and appending over some of them but not all would make the next
// read fail its crc check.
func zeroToEnd(f vfs.File, off int64) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size <= off {
		return nil
	}
	if t, ok := asTruncater(f); ok {
		if err := t.Truncate(off); err != nil {
			return err
		}
		if err := f.Preallocate(off, size-off); err != nil {
			return err
		}
		if err := t.Truncate(size); err != nil {
			return err
		}
	} else {
		zeros := make([]byte, 64<<10)
		for o := off; o < size; {
			n := min(int64(len(zeros)), size-o)
			if _, err := f.WriteAt(zeros[:n], o); err != nil {
				return err
			}
			o += n
		}
	}
	return f.SyncData()
}

// copyFile copies src to dst and syncs dst.
func copyFile(fs vfs.FS, src, dst string) error {
	in, err := fs.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := fs.Create(dst, writeCategory)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// truncateFile cuts path to size and makes that durable. Without Truncate it
// writes the prefix to a temporary file and renames it over path.
func truncateFile(fs vfs.FS, dir, name string, size int64) error {
	path := fs.PathJoin(dir, name)
	f, err := fs.OpenReadWrite(path, writeCategory)
	if err != nil {
		return err
	}
	if t, ok := asTruncater(f); ok {
		err := t.Truncate(size)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
		f.Close()
		return err
	}
	f.Close()
	tmp := path + ".trunc.tmp"
	out, err := fs.Create(tmp, writeCategory)
	if err != nil {
		return err
	}
	if _, err := out.Write(buf); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		return err
	}
	return vfsutil.SyncDir(fs, dir)
}

// removeStaleTemps deletes files left by an interrupted pipeline or repair.
func removeStaleTemps(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".tmp") {
			if err := fs.Remove(fs.PathJoin(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}
