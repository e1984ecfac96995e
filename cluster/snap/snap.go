package snap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"strings"

	"etcdlab/cluster/wal"
	"etcdlab/internal/vfsutil"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Sentinel errors. ErrCRCMismatch, ErrEmptySnapshot and ErrCorrupt mark a
// damaged file; Load renames such files to .broken and moves on.
var (
	ErrNoSnapshot    = errors.New("snap: no available snapshot")
	ErrEmptySnapshot = errors.New("snap: empty snapshot")
	ErrCRCMismatch   = errors.New("snap: crc mismatch")
	ErrCorrupt       = errors.New("snap: corrupt snapshot file")
	ErrBadOption     = errors.New("snap: bad option")
)

const (
	snapSuffix   = ".snap"
	brokenSuffix = ".broken"
	tmpSuffix    = ".tmp"
	headerBytes  = 16 // magic(4) crc(4) length(8)
	// DefaultMaxSnapshots is etcd's --max-snapshots.
	DefaultMaxSnapshots = 5
)

var (
	magic    = [4]byte{'e', 'l', 's', '1'}
	crcTable = crc32.MakeTable(crc32.Castagnoli)
)

const writeCategory = vfs.WriteCategoryUnspecified

// Options configures a Snapshotter. The zero value means all defaults.
type Options struct {
	// MaxSnapshots is how many .snap files to keep; older ones are deleted
	// after each successful save. Default 5; negative keeps all.
	MaxSnapshots int
}

// EnsureDefaults fills zero fields.
func (o *Options) EnsureDefaults() {
	if o.MaxSnapshots == 0 {
		o.MaxSnapshots = DefaultMaxSnapshots
	}
}

// Validate reports every problem at once (there is nothing to reject yet
// beyond what EnsureDefaults fixes; kept for the Options convention).
func (o *Options) Validate() error { return nil }

// String records the configuration in key=value form, for results.
func (o Options) String() string { return fmt.Sprintf("max-snapshots=%d", o.MaxSnapshots) }

// Snapshotter saves and loads snapshot files in one directory.
type Snapshotter struct {
	fs   vfs.FS
	dir  string
	opts Options
}

// New returns a Snapshotter over dir with default options.
func New(fs vfs.FS, dir string) *Snapshotter {
	s, _ := NewWithOptions(fs, dir, Options{}) // defaults always validate
	return s
}

// NewWithOptions returns a Snapshotter with the given options.
func NewWithOptions(fs vfs.FS, dir string, opts Options) (*Snapshotter, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Snapshotter{fs: fs, dir: dir, opts: opts}, nil
}

func snapName(term, index uint64) string {
	return fmt.Sprintf("%016x-%016x%s", term, index, snapSuffix)
}

func parseSnapName(name string) (term, index uint64, ok bool) {
	if !strings.HasSuffix(name, snapSuffix) {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(name, "%016x-%016x.snap", &term, &index); err != nil {
		return 0, 0, false
	}
	return term, index, snapName(term, index) == name
}

// SaveSnap writes the snapshot durably: temp file, fsync, rename, directory
// fsync. An empty snapshot is ignored, as in etcd.
func (s *Snapshotter) SaveSnap(snapshot raftpb.Snapshot) error {
	if raft.IsEmptySnap(snapshot) {
		return nil
	}
	payload, err := snapshot.Marshal()
	if err != nil {
		return fmt.Errorf("snap: marshal: %w", err)
	}
	buf := make([]byte, headerBytes+len(payload))
	copy(buf, magic[:])
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(payload, crcTable))
	binary.LittleEndian.PutUint64(buf[8:], uint64(len(payload)))
	copy(buf[headerBytes:], payload)
	name := snapName(snapshot.Metadata.Term, snapshot.Metadata.Index)
	if err := ensureDir(s.fs, s.dir); err != nil {
		return err
	}
	if err := writeDurably(s.fs, s.dir, name, bytes.NewReader(buf)); err != nil {
		return fmt.Errorf("snap: save %s: %w", name, err)
	}
	return s.purge()
}

// writeDurably streams r into dir/name.tmp, fsyncs it, renames it to
// dir/name and fsyncs dir. On failure the temp file is removed.
func writeDurably(fs vfs.FS, dir, name string, r io.Reader) error {
	_, err := writeDurablyN(fs, dir, name, r)
	return err
}

func writeDurablyN(fs vfs.FS, dir, name string, r io.Reader) (n int64, err error) {
	tmp := fs.PathJoin(dir, name+tmpSuffix)
	f, err := fs.Create(tmp, writeCategory)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			fs.Remove(tmp)
		}
	}()
	n, err = io.Copy(writerOnly{f}, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if err := fs.Rename(tmp, fs.PathJoin(dir, name)); err != nil {
		return n, err
	}
	return n, vfsutil.SyncDir(fs, dir)
}

// ensureDir creates dir if needed and then fsyncs its parent, so the
// directory itself survives a crash along with the files synced into it.
func ensureDir(fs vfs.FS, dir string) error {
	if _, err := fs.Stat(dir); err == nil {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return vfsutil.SyncDir(fs, fs.PathDir(dir))
}

// writerOnly hides ReadFrom so io.Copy goes through Write (the FS seam).
type writerOnly struct{ io.Writer }

// Read decodes one snapshot file. Damage is reported as ErrEmptySnapshot,
// ErrCRCMismatch or ErrCorrupt (wrapped with the file name).
func Read(fs vfs.FS, path string) (*raftpb.Snapshot, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	name := fs.PathBase(path)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrEmptySnapshot, name)
	}
	if len(b) < headerBytes || !bytes.Equal(b[:4], magic[:]) {
		return nil, fmt.Errorf("%w: %s: bad header", ErrCorrupt, name)
	}
	n := binary.LittleEndian.Uint64(b[8:])
	if n != uint64(len(b)-headerBytes) {
		return nil, fmt.Errorf("%w: %s: header says %d payload bytes, file has %d", ErrCorrupt, name, n, len(b)-headerBytes)
	}
	payload := b[headerBytes:]
	if got, want := crc32.Checksum(payload, crcTable), binary.LittleEndian.Uint32(b[4:]); got != want {
		return nil, fmt.Errorf("%w: %s: crc %#08x, want %#08x", ErrCRCMismatch, name, got, want)
	}
	var snap raftpb.Snapshot
	if err := snap.Unmarshal(payload); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	if term, index, ok := parseSnapName(name); ok && (term != snap.Metadata.Term || index != snap.Metadata.Index) {
		return nil, fmt.Errorf("%w: %s holds term %d index %d", ErrCorrupt, name, snap.Metadata.Term, snap.Metadata.Index)
	}
	return &snap, nil
}

func isDamage(err error) bool {
	return errors.Is(err, ErrEmptySnapshot) || errors.Is(err, ErrCRCMismatch) || errors.Is(err, ErrCorrupt)
}

// snapNames lists the .snap files, newest (highest term, then index) first.
func (s *Snapshotter) snapNames() ([]string, error) {
	names, err := s.fs.List(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no directory yet: no snapshots
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if _, _, ok := parseSnapName(n); ok {
			out = append(out, n)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out, nil
}

// Load returns the newest snapshot that reads back intact.
func (s *Snapshotter) Load() (*raftpb.Snapshot, error) {
	return s.loadMatching(func(uint64, uint64) bool { return true })
}

// LoadNewestAvailable returns the newest intact snapshot that one of the
// WAL's markers vouches for (same term and index).
func (s *Snapshotter) LoadNewestAvailable(walSnaps []wal.Snapshot) (*raftpb.Snapshot, error) {
	return s.loadMatching(func(term, index uint64) bool {
		for i := len(walSnaps) - 1; i >= 0; i-- {
			if walSnaps[i].Term == term && walSnaps[i].Index == index {
				return true
			}
		}
		return false
	})
}

func (s *Snapshotter) loadMatching(match func(term, index uint64) bool) (*raftpb.Snapshot, error) {
	names, err := s.snapNames()
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		term, index, _ := parseSnapName(name)
		if !match(term, index) {
			continue
		}
		path := s.fs.PathJoin(s.dir, name)
		snap, err := Read(s.fs, path)
		if err == nil {
			return snap, nil
		}
		if !isDamage(err) {
			return nil, err
		}
		// Keep the damaged file for inspection, out of the way.
		if rerr := s.fs.Rename(path, path+brokenSuffix); rerr != nil {
			return nil, fmt.Errorf("snap: rename damaged %s: %w (damage: %v)", name, rerr, err)
		}
	}
	return nil, ErrNoSnapshot
}

// purge deletes the oldest .snap files beyond MaxSnapshots.
func (s *Snapshotter) purge() error {
	if s.opts.MaxSnapshots < 0 {
		return nil
	}
	names, err := s.snapNames()
	if err != nil {
		return err
	}
	if len(names) <= s.opts.MaxSnapshots {
		return nil
	}
	for _, n := range names[s.opts.MaxSnapshots:] {
		if err := s.fs.Remove(s.fs.PathJoin(s.dir, n)); err != nil {
			return fmt.Errorf("snap: purge %s: %w", n, err)
		}
	}
	return vfsutil.SyncDir(s.fs, s.dir)
}

// DBFilePath is where the backend image for a snapshot at index lives.
func (s *Snapshotter) DBFilePath(index uint64) string {
	return s.fs.PathJoin(s.dir, fmt.Sprintf("%016x.snap.db", index))
}

// ReceiveDBImage stores a backend image streamed from the leader for the
// snapshot at index: temp file, fsync, rename to DBFilePath(index),
// directory fsync. Only when it returns nil is the image usable; on any
// error no file is left under the final name.
func (s *Snapshotter) ReceiveDBImage(r io.Reader, index uint64) (path string, n int64, err error) {
	if err := ensureDir(s.fs, s.dir); err != nil {
		return "", 0, err
	}
	name := s.fs.PathBase(s.DBFilePath(index))
	n, err = writeDurablyN(s.fs, s.dir, name, &nonEmpty{r: r})
	if err != nil {
		return "", n, fmt.Errorf("snap: receive db image %s: %w", name, err)
	}
	return s.DBFilePath(index), n, nil
}

// nonEmpty fails the copy if the stream ends before any byte: an empty
// backend image is never valid.
type nonEmpty struct {
	r    io.Reader
	seen bool
}

func (ne *nonEmpty) Read(p []byte) (int, error) {
	n, err := ne.r.Read(p)
	if n > 0 {
		ne.seen = true
	}
	if err == io.EOF && !ne.seen {
		return n, fmt.Errorf("%w: db image stream was empty", ErrEmptySnapshot)
	}
	return n, err
}
