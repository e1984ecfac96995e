package bench

// RunForBenchmark lets the external tests (bench_test) run a configuration
// as a benchmark with the same metrics as BenchmarkPipeline.
var RunForBenchmark = runForBenchmark
