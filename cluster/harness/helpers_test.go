package harness_test

import "etcdlab/internal/clustertest"

// The shared test helpers (internal/clustertest) under the names the tests
// used when they lived in package cluster.
var (
	testSeed        = clustertest.Seed
	fastNode        = clustertest.FastNode
	startCluster    = clustertest.Start
	checkGoroutines = clustertest.CheckGoroutines
	waitLeader      = clustertest.WaitLeader
	waitFor         = clustertest.WaitFor
	ctxT            = clustertest.Ctx
	put             = clustertest.Put
	key             = clustertest.Key
	waitApplied     = clustertest.WaitApplied
	checkConverged  = clustertest.CheckConverged
	converged       = clustertest.Converged
	rangeAll        = clustertest.RangeAll
	runParallel     = clustertest.RunParallel
	aFollower       = clustertest.AFollower
)
