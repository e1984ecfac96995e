package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"etcdlab/engines"
)

// engineNameAllowed are the non-test files outside the engine packages that
// may spell an engine's name: the default engine of a run and of a node (a
// choice, not a list), the engines experiment, whose points are
// configurations of two engines by their knobs, and the result sections,
// one of which is "memory" (the run's memory figures, not the engine), and
// the memory cgroup's code, whose "memory" is the kernel's controller.
func engineNameAllowed() map[string]bool {
	return map[string]bool{
		"bench/config.go":               true,
		"cluster/options.go":            true,
		"bench/sweep/experiments.go":    true,
		"results/report/fields.go":      true,
		"internal/memlimit/memlimit.go": true,
	}
}

// TestEnginesListedOnce: the registry (engines/engines.go, which uses each
// engine package's Name) is the one place that lists engines. No other
// non-test code spells an engine's name as a string, so the contract
// package, the plots and the experiments cannot drift from the registry and
// adding an engine touches the registry, not the tree.
func TestEnginesListedOnce(t *testing.T) {
	root := filepath.Join("..", "..")
	names, allowed := map[string]bool{}, engineNameAllowed()
	for _, n := range engines.Names() {
		names[n] = true
		allowed["engines/"+n] = true // an engine's own package names it (its Name constant)
	}
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == "testdata" || d.Name() == "tools" || strings.HasPrefix(d.Name(), ".") && rel != "." || allowed[rel] {
				return filepath.SkipDir
			}
			// Generated output (out/, where compare-etcd exports a copy of
			// this module's source) and any other module are not this tree.
			if rel == "out" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || allowed[rel] {
			return nil
		}
		checked++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && names[s] {
					t.Errorf("%s: spells engine name %q; take it from the registry (etcdlab/engines)", fset.Position(lit.Pos()), s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked only %d files: run from internal/lint", checked)
	}
}
