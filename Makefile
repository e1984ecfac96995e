# etcdlab: the README's two commands are `make demo` and `make test`.
GO       ?= go
PKGS     := ./...
# Packages whose tests are concurrency-heavy run under the race detector in
# `make test` (and so in CI); the others run without it.
RACE_PKGS := ./engines/... ./cluster/... ./bench/... ./mvcc/... ./lease/...
BENCHTIME ?= 1x
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test test-long bench bench-harness lint fmt vet staticcheck demo plots findings compare-etcd

## demo: bbolt vs pebble on a 3-node in-process cluster, serializable vs
## linearizable reads (about a minute and a half); prints a summary table and
## the path of out/demo/report.md with its plots.
demo:
	@mkdir -p out
	@rm -rf out/demo
	$(GO) build -o out/etcdlab ./cmd/etcdlab
	./out/etcdlab experiment demo --out out/demo

## plots: redraw the figures, summary.csv and report.md of every run or sweep
## directory under out/ from the results already there.
plots:
	$(GO) build -o out/etcdlab ./cmd/etcdlab
	@for d in out/*/ out/*/*/; do [ -f "$$d/result.json" ] || [ -f "$$d/sweep.json" ] || continue; ./out/etcdlab report "$$d" || exit 1; done

## findings: run every experiment at a size this machine allows and write
## the reports under docs/findings/<experiment>/ (several minutes; run data
## is kept under out/findings/).
findings:
	sh docs/findings/run.sh

## test: the quick suite (-short) for every package; race-heavy ones under -race.
test:
	$(GO) test -short -count=1 $$($(GO) list $(PKGS) | grep -v -E '/(engines|cluster|bench|mvcc|lease)(/|$$)')
	$(GO) test -short -count=1 -race $(RACE_PKGS)

## test-long: every test at full size (crash points, model test lengths, sweeps).
test-long:
	$(GO) test -count=1 -timeout 60m $(PKGS)

## bench: every benchmark once, to check they run; set BENCHTIME for figures.
bench:
	$(GO) test -run XXX -bench . -benchtime $(BENCHTIME) $(PKGS)

## bench-harness: the runner and recorder against a no-op target (harness overhead).
bench-harness:
	$(GO) test -run XXX -bench 'Harness|Record' ./bench

## lint: gofmt, go vet and staticcheck.
lint: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) run $(STATICCHECK) $(PKGS)

## compare-etcd: etcdlab nodes vs real etcd 3.6 with etcd's benchmark tool (a
## separate module under tools/, not part of test; ~20 minutes with the watch,
## lease and txn cases, QUICK=1 ~5).
compare-etcd:
	cd tools/compare-etcd && $(GO) run . -out ../../out/compare-etcd $(if $(QUICK),-quick)
