// Package deps pins modules that later code will import, so concurrent work
// does not race on go.mod. It is removed once real imports exist.
package deps

import (
	_ "github.com/schollz/progressbar/v3"
	_ "go.etcd.io/etcd/client/v3"
	_ "golang.org/x/term"
	_ "gonum.org/v1/plot"
	_ "gonum.org/v1/plot/plotter"
	_ "gonum.org/v1/plot/vg"
)
