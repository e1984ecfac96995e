//go:build !linux

package bbolt

// mmapFlags: MAP_POPULATE exists only on Linux; etcd uses no flag elsewhere.
const mmapFlags = 0
