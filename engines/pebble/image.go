package pebble

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	pdb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"etcdlab/engines/engine"
	"etcdlab/internal/vfsutil"
)

// imageTmpPrefix names the staging directories WriteImage and OpenImage make
// inside the data dir (same file system, so checkpoints hard-link sstables and
// restores rename). Leftovers of a crash are removed by the next Open.
const imageTmpPrefix = ".image-tmp-"

// maxImageFile bounds one file of an image, so that a forged header cannot
// make OpenImage write without end.
const maxImageFile = 1 << 40

func removeStaleTemps(fsys vfs.FS, dir string) {
	names, err := fsys.List(dir)
	if err != nil {
		return
	}
	for _, n := range names {
		if strings.HasPrefix(n, imageTmpPrefix) {
			_ = fsys.RemoveAll(fsys.PathJoin(dir, n))
		}
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteImage streams a tar archive of a pebble checkpoint: the sstables,
// MANIFEST, OPTIONS, markers and WAL of the store as of the last commit. The
// WAL is synced first; with wal=disabled the memtables are flushed first, so
// the image holds every commit made before WriteImage was called. The
// checkpoint is staged in a temporary directory inside dir (hard links) and
// removed afterwards; its I/O is not counted in Stats.
func (e *Engine) WriteImage(w io.Writer) (int64, error) {
	if err := e.enter(false); err != nil {
		return 0, err
	}
	defer e.leave(false)
	if e.opts.WAL == WALDisabled {
		if err := e.db.Flush(); err != nil {
			return 0, fmt.Errorf("pebble: image of %s: flush: %w", e.dir, err)
		}
	}
	fsys := e.opts.FS
	tmp := fsys.PathJoin(e.dir, imageTmpPrefix+"w"+strconv.FormatInt(e.imageSeq.Add(1), 10))
	_ = fsys.RemoveAll(tmp)
	defer func() { _ = fsys.RemoveAll(tmp) }()
	if err := e.db.Checkpoint(tmp, pdb.WithFlushedWAL()); err != nil {
		return 0, fmt.Errorf("pebble: image of %s: checkpoint: %w", e.dir, err)
	}
	names, err := fsys.List(tmp)
	if err != nil {
		return 0, fmt.Errorf("pebble: image of %s: %w", e.dir, err)
	}
	sort.Strings(names)
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	for _, n := range names {
		if err := addFile(tw, fsys, fsys.PathJoin(tmp, n), n); err != nil {
			return cw.n, fmt.Errorf("pebble: image of %s: %w", e.dir, err)
		}
	}
	if err := tw.Close(); err != nil {
		return cw.n, fmt.Errorf("pebble: image of %s: %w", e.dir, err)
	}
	return cw.n, nil
}

func addFile(tw *tar.Writer, fsys vfs.FS, path, name string) error {
	f, err := fsys.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("unexpected directory %s in checkpoint", name)
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return fmt.Errorf("copying %s: %w", name, err)
	}
	return nil
}

// OpenImage restores an image written by (*Engine).WriteImage into dir, which
// must be absent or empty, and opens it. The archive is extracted into a
// staging directory inside dir, every file and the directory are fsynced, and
// the files are renamed into dir with the manifest marker last, so that a
// crash leaves either no store or the whole one. Input that is not a pebble
// image (a bbolt file, random bytes, a tar without MANIFEST and its marker, an
// entry with a path) is rejected with engine.ErrWrongEngine, a truncated or
// unopenable image with engine.ErrCorrupt; either way nothing is left in dir.
func OpenImage(r io.Reader, dir string, opts Options) (*Engine, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	fsys := opts.FS
	created := false
	if names, err := fsys.List(dir); err == nil {
		if len(names) > 0 {
			return nil, fmt.Errorf("pebble: restoring image into %s: directory is not empty (%d entries)", dir, len(names))
		}
	} else {
		if err := fsys.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("pebble: restoring image: creating %s: %w", dir, err)
		}
		created = true
	}
	var placed []string
	fail := func(err error) (*Engine, error) {
		for _, p := range placed {
			_ = fsys.Remove(p)
		}
		removeStaleTemps(fsys, dir)
		if created {
			_ = fsys.RemoveAll(dir)
		}
		return nil, err
	}
	tmp := fsys.PathJoin(dir, imageTmpPrefix+"r")
	if err := fsys.MkdirAll(tmp, 0o755); err != nil {
		return fail(fmt.Errorf("pebble: restoring image into %s: %w", dir, err))
	}
	names, err := extract(r, fsys, tmp)
	if err != nil {
		return fail(fmt.Errorf("pebble: restoring image into %s: %w", dir, err))
	}
	if err := vfsutil.SyncDir(fsys, tmp); err != nil {
		return fail(fmt.Errorf("pebble: restoring image into %s: %w", dir, err))
	}
	// The manifest marker makes the store exist for pebble; move it last.
	sort.SliceStable(names, func(i, j int) bool {
		return !strings.HasPrefix(names[i], "marker.manifest") && strings.HasPrefix(names[j], "marker.manifest")
	})
	for _, n := range names {
		dst := fsys.PathJoin(dir, n)
		if err := fsys.Rename(fsys.PathJoin(tmp, n), dst); err != nil {
			return fail(fmt.Errorf("pebble: restoring image into %s: %w", dir, err))
		}
		placed = append(placed, dst)
	}
	if err := fsys.RemoveAll(tmp); err != nil {
		return fail(fmt.Errorf("pebble: restoring image into %s: %w", dir, err))
	}
	if err := vfsutil.SyncDir(fsys, dir); err != nil {
		return fail(fmt.Errorf("pebble: restoring image into %s: %w", dir, err))
	}
	e, err := open(dir, opts)
	if err != nil {
		if !errors.Is(err, engine.ErrCorrupt) {
			err = fmt.Errorf("%w: image restored into %s does not open: %v", engine.ErrCorrupt, dir, err)
		}
		return fail(err)
	}
	return e, nil
}

// extract writes the archive's regular files into tmp, checking that it is a
// pebble image: flat names only, and a MANIFEST with its marker.
func extract(r io.Reader, fsys vfs.FS, tmp string) ([]string, error) {
	tr := tar.NewReader(r)
	var names []string
	seen := map[string]bool{}
	hasManifest, hasMarker := false, false
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if i == 0 {
				return nil, fmt.Errorf("%w: not a pebble image (not a tar archive: %v)", engine.ErrWrongEngine, err)
			}
			return nil, fmt.Errorf("%w: pebble image entry %d: %v", engine.ErrCorrupt, i, err)
		}
		name := h.Name
		if h.Typeflag != tar.TypeReg || name == "" || name == "." || name == ".." ||
			strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, imageTmpPrefix) {
			return nil, fmt.Errorf("%w: not a pebble image: entry %q (type %c) is not a plain file name",
				engine.ErrWrongEngine, name, h.Typeflag)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: pebble image holds %q twice", engine.ErrCorrupt, name)
		}
		if h.Size < 0 || h.Size > maxImageFile {
			return nil, fmt.Errorf("%w: pebble image entry %q has size %d", engine.ErrCorrupt, name, h.Size)
		}
		seen[name] = true
		hasManifest = hasManifest || strings.HasPrefix(name, "MANIFEST-")
		hasMarker = hasMarker || strings.HasPrefix(name, "marker.manifest.") || name == CurrentFile
		if err := writeFile(fsys, fsys.PathJoin(tmp, name), tr, h.Size); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: pebble image truncated in %q", engine.ErrCorrupt, name)
			}
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		names = append(names, name)
	}
	if !hasManifest || !hasMarker {
		return nil, fmt.Errorf("%w: not a pebble image: no MANIFEST and manifest marker among %d files",
			engine.ErrWrongEngine, len(names))
	}
	return names, nil
}

func writeFile(fsys vfs.FS, path string, r io.Reader, size int64) error {
	f, err := fsys.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
