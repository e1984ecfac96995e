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
)

// deterministic are the trees whose non-test code must take the injected
// clock and seeded randomness: the replicated pipeline, the MVCC store, the
// batching layer and the workload generators. (Engines wrap libraries that
// keep their own time; cmd and bench's wall-clock probes are outside.)
var deterministic = []string{"cluster", "mvcc", "workloads", "engines/backend"}

// forbiddenTime are package time's functions that read or wait on the wall
// clock; time.Duration arithmetic and constants stay allowed.
var forbiddenTime = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "Tick": true, "NewTimer": true, "NewTicker": true,
}

// allowedRand are math/rand(/v2) functions that make a seeded source rather
// than draw from the global one.
var allowedRand = map[string]bool{
	"New": true, "NewSource": true, "NewPCG": true, "NewChaCha8": true, "NewZipf": true,
}

func TestNoWallClockOrGlobalRand(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	for _, tree := range deterministic {
		err := filepath.WalkDir(filepath.Join(root, tree), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			checked++
			for _, p := range violations(t, path) {
				t.Errorf("%s: %s (use internal/clock and a seeded source)", p.pos, p.what)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 40 {
		t.Fatalf("checked only %d files: run from internal/lint", checked)
	}
}

type violation struct {
	pos  token.Position
	what string
}

func violations(t *testing.T, path string) []violation {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	// Local names of the imports that matter (an import may be renamed).
	kind := map[string]string{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := filepath.Base(p)
		if p == "math/rand/v2" {
			name = "rand"
		}
		if imp.Name != nil {
			name = imp.Name.Name
		}
		switch p {
		case "time":
			kind[name] = "time"
		case "math/rand", "math/rand/v2":
			kind[name] = "rand"
		}
	}
	var out []violation
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		switch kind[id.Name] {
		case "time":
			if forbiddenTime[sel.Sel.Name] {
				out = append(out, violation{fset.Position(sel.Pos()), "time." + sel.Sel.Name})
			}
		case "rand":
			if !allowedRand[sel.Sel.Name] && ast.IsExported(sel.Sel.Name) && !isType(sel.Sel.Name) {
				out = append(out, violation{fset.Position(sel.Pos()), id.Name + "." + sel.Sel.Name + " (global source)"})
			}
		}
		return true
	})
	return out
}

// isType reports whether name is one of math/rand's types, which may be
// named (in declarations) without drawing from anything.
func isType(name string) bool {
	switch name {
	case "Rand", "Source", "Source64", "PCG", "ChaCha8", "Zipf":
		return true
	}
	return false
}

// TestLintCatches keeps the lint honest: it must flag each kind of violation.
func TestLintCatches(t *testing.T) {
	dir := t.TempDir()
	src := `package x

import (
	"math/rand"
	r2 "math/rand/v2"
	"time"
)

func f() {
	_ = time.Now()
	time.Sleep(time.Second)
	_ = rand.Intn(3)
	_ = r2.N(10)
	_ = rand.New(rand.NewSource(1)) // allowed
	var d time.Duration             // allowed
	_ = d
}
`
	path := filepath.Join(dir, "x.go")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range violations(t, path) {
		got = append(got, v.what)
	}
	want := []string{"time.Now", "time.Sleep", "rand.Intn (global source)", "r2.N (global source)"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("flagged %q, want %q", got, want)
	}
}
