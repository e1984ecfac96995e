package results

import (
	"fmt"
	"os"
	"path/filepath"
)

// Staging is a run directory being written: a hidden temporary directory in
// the parent of the final path, renamed into place by Commit.
type Staging struct {
	final string
	dir   string
	done  bool
}

// CheckOut reports whether out can receive a run directory: it must not
// exist or be an empty directory, and its parent must exist.
func CheckOut(out string) error {
	if out == "" {
		return fmt.Errorf("results: no output directory given")
	}
	st, err := os.Stat(out)
	switch {
	case os.IsNotExist(err):
		parent := filepath.Dir(filepath.Clean(out))
		pst, perr := os.Stat(parent)
		if perr != nil {
			return fmt.Errorf("results: parent of output directory: %w", perr)
		}
		if !pst.IsDir() {
			return fmt.Errorf("results: parent of output directory %s is not a directory", parent)
		}
		return nil
	case err != nil:
		return fmt.Errorf("results: %w", err)
	case !st.IsDir():
		return fmt.Errorf("%w: %s exists and is not a directory", ErrOutExists, out)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("%w: %s holds %d entries; give a new or empty directory", ErrOutExists, out, len(ents))
	}
	return nil
}

// Stage checks out and creates the temporary directory that becomes out on
// Commit.
func Stage(out string) (*Staging, error) {
	if err := CheckOut(out); err != nil {
		return nil, err
	}
	out = filepath.Clean(out)
	dir, err := os.MkdirTemp(filepath.Dir(out), tempDirPrefix+filepath.Base(out)+"-")
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return &Staging{final: out, dir: dir}, nil
}

// Dir is the temporary directory to write into.
func (s *Staging) Dir() string { return s.dir }

// Path joins name to the temporary directory.
func (s *Staging) Path(name string) string { return filepath.Join(s.dir, name) }

// Final is the path the run directory will have.
func (s *Staging) Final() string { return s.final }

// Commit moves the temporary directory to its final path. An empty
// directory at the final path (allowed by CheckOut) is replaced.
func (s *Staging) Commit() error {
	if s.done {
		return fmt.Errorf("results: staging of %s already finished", s.final)
	}
	if err := CheckOut(s.final); err != nil {
		return err
	}
	if _, err := os.Stat(s.final); err == nil {
		if err := os.Remove(s.final); err != nil {
			return fmt.Errorf("results: %w", err)
		}
	}
	if err := os.Rename(s.dir, s.final); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	s.done = true
	syncDir(filepath.Dir(s.final))
	return nil
}

// Abort removes the temporary directory. It is a no-op after Commit.
func (s *Staging) Abort() error {
	if s.done {
		return nil
	}
	s.done = true
	return os.RemoveAll(s.dir)
}

// WriteFile writes data to name in the staging directory.
func (s *Staging) WriteFile(name string, data []byte) error {
	return os.WriteFile(s.Path(name), data, resultFileMode)
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync() // best effort: results are not acknowledged data
		_ = f.Close()
	}
}
