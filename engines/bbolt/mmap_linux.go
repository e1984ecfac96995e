package bbolt

import "syscall"

// mmapFlags pre-faults the mapping as etcd does on Linux (MAP_POPULATE), so
// the first reads after open do not page-fault one page at a time.
const mmapFlags = syscall.MAP_POPULATE
