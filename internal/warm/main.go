package main

import (
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/cockroachdb/pebble/v2/vfs/errorfs"
	_ "go.etcd.io/bbolt"
	_ "go.etcd.io/raft/v3"
	_ "go.etcd.io/etcd/api/v3/etcdserverpb"
	_ "go.etcd.io/etcd/api/v3/mvccpb"
	_ "github.com/google/btree"
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/cockroachdb/datadriven"
	_ "github.com/anishathalye/porcupine"
	_ "github.com/spf13/cobra"
	_ "gopkg.in/yaml.v3"
)

func main() {}
