package wal

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// filePipeline creates and preallocates the next segment in the background
// so that a cut only has to rename it, as etcd's filePipeline. At most one
// file waits in the channel; Close stops the goroutine and removes it.
type filePipeline struct {
	fs    vfs.FS
	dir   string
	size  int64
	count int

	filec chan pipeFile
	errc  chan error
	donec chan struct{}
}

type pipeFile struct {
	f    vfs.File
	path string
}

func newFilePipeline(fs vfs.FS, dir string, size int64) *filePipeline {
	fp := &filePipeline{
		fs: fs, dir: dir, size: size,
		filec: make(chan pipeFile),
		errc:  make(chan error, 1),
		donec: make(chan struct{}),
	}
	go fp.run()
	return fp
}

// Open returns a fresh preallocated file, waiting only if the background
// goroutine has not finished preparing it.
func (fp *filePipeline) Open() (pipeFile, error) {
	select {
	case f := <-fp.filec:
		return f, nil
	case err, ok := <-fp.errc:
		if !ok || err == nil {
			return pipeFile{}, fmt.Errorf("wal: file pipeline stopped")
		}
		return pipeFile{}, err
	}
}

// Close stops the goroutine and waits for it.
func (fp *filePipeline) Close() error {
	close(fp.donec)
	return <-fp.errc
}

func (fp *filePipeline) alloc() (pipeFile, error) {
	// Two names alternate: one may be in use as the new tail before the
	// rename while the next is prepared.
	path := fp.fs.PathJoin(fp.dir, fmt.Sprintf("%d.tmp", fp.count%2))
	f, err := fp.fs.Create(path, writeCategory)
	if err != nil {
		return pipeFile{}, fmt.Errorf("wal: pipeline create: %w", err)
	}
	if err := preallocate(f, fp.size); err != nil {
		f.Close()
		fp.fs.Remove(path)
		return pipeFile{}, err
	}
	fp.count++
	return pipeFile{f: f, path: path}, nil
}

func (fp *filePipeline) run() {
	defer close(fp.errc)
	for {
		f, err := fp.alloc()
		if err != nil {
			fp.errc <- err
			return
		}
		select {
		case fp.filec <- f:
		case <-fp.donec:
			f.f.Close()
			fp.fs.Remove(f.path)
			return
		}
	}
}
