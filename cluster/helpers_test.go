package cluster_test

import "etcdlab/internal/clustertest"

// The shared test helpers (internal/clustertest) under the names the tests
// used when they lived in package cluster.
var (
	testSeed       = clustertest.Seed
	fastNode       = clustertest.FastNode
	startCluster   = clustertest.Start
	waitLeader     = clustertest.WaitLeader
	waitFor        = clustertest.WaitFor
	ctxT           = clustertest.Ctx
	put            = clustertest.Put
	key            = clustertest.Key
	waitApplied    = clustertest.WaitApplied
	checkConverged = clustertest.CheckConverged
	rangeAll       = clustertest.RangeAll
	runParallel    = clustertest.RunParallel
	aFollower      = clustertest.AFollower
)
