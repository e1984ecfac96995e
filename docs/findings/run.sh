#!/bin/sh
# Runs every experiment preset at a size a shared 2-core machine allows and
# copies each report (report.md, summary.csv, PNG figures) to
# docs/findings/<experiment>/. Run data stays under out/findings/.
# Usage: sh docs/findings/run.sh [experiment ...]   (from the repository root)
set -eu
GO=${GO:-go}
mkdir -p out/findings
$GO build -o out/etcdlab ./cmd/etcdlab

run() {
	name=$1
	shift
	# A previous, identical run by the same build is resumed; a changed size or
	# another build of etcdlab (the sweep refuses the directory) starts afresh.
	./out/etcdlab experiment "$name" --out "out/findings/$name" "$@" ||
		{ rm -rf "out/findings/$name" && ./out/etcdlab experiment "$name" --out "out/findings/$name" "$@"; }
	dst="docs/findings/$name"
	rm -rf "$dst"
	mkdir -p "$dst/plots"
	cp "out/findings/$name/report.md" "out/findings/$name/summary.csv" "$dst/"
	cp out/findings/"$name"/plots/*.png "$dst/plots/" 2>/dev/null || true
	# Per-run over-time figures (k8s-storage) sit in subdirectories.
	for d in out/findings/"$name"/plots/*/; do
		[ -d "$d" ] && cp -r "$d" "$dst/plots/"
	done
	# Keep the committed findings small: the per-second latency figure (the
	# largest) stays in out/findings only.
	rm -f "$dst/plots/latency-over-time.png"
	awk 'BEGIN{skip=0} /^!\[.*\]\(plots\/latency-over-time\.png\)$/{skip=3} skip>0{skip--; next} {print}' \
		"out/findings/$name/report.md" >"$dst/report.md"
	# summary.csv names run directories under out/; keep them relative.
	sed -i "s#out/findings/$name/##g" "$dst/summary.csv"
}

want() { [ $# -eq 0 ] && return 0; for w in $ALL; do [ "$w" = "$1" ] && return 0; done; return 1; }
ALL="$*"

# Sizes: short runs, two repeats (enough for a confidence interval).
if [ -z "$ALL" ] || want engines; then run engines --repeat 2 --duration 5s; fi
if [ -z "$ALL" ] || want read-consistency; then run read-consistency --repeat 2 --duration 4s; fi
if [ -z "$ALL" ] || want snapshot-count; then run snapshot-count --repeat 1 --duration 8s; fi
if [ -z "$ALL" ] || want read-write-ratio; then run read-write-ratio --repeat 2 --duration 5s --param read-ratio=0.5,0.9,0.99; fi
if [ -z "$ALL" ] || want batch; then run batch --repeat 2 --duration 5s --param batch-limit=10000; fi
if [ -z "$ALL" ] || want quota; then run quota --repeat 1 --duration 12s; fi
if [ -z "$ALL" ] || want parity; then run parity --repeat 16; fi
if [ -z "$ALL" ] || want faults; then run faults; fi
# At its default size (2 GB per run, 6 runs): about 25 minutes.
if [ -z "$ALL" ] || want k8s-storage; then run k8s-storage; fi
