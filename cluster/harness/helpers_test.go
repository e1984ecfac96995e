package harness_test

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
	bounds         = clustertest.HistogramBounds
	value          = clustertest.MetricValue
	put            = clustertest.Put
	key            = clustertest.Key
	checkConverged = clustertest.CheckConverged
	rangeAll       = clustertest.RangeAll
	runParallel    = clustertest.RunParallel
)
