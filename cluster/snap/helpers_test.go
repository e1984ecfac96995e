package snap

import (
	"fmt"
	"strings"
)

// fmtSscan parses a final db image name (%016x.snap.db).
func fmtSscan(name string, idx *uint64) (int, error) {
	if !strings.HasSuffix(name, ".snap.db") || len(name) != 16+len(".snap.db") {
		return 0, fmt.Errorf("not a db image")
	}
	return fmt.Sscanf(name, "%016x.snap.db", idx)
}
