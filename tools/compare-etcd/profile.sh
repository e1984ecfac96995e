#!/usr/bin/env bash
# profile.sh: one member of etcd 3.6 or of etcdlab under one of etcd's
# benchmark cases, with the server's CPU time, write syscalls and bytes per
# request (from /proc) and a 5-second CPU profile taken 2 s in. Used for
# docs/findings/etcd-profile.
#
#   tools/compare-etcd/profile.sh BIN_DIR SYSTEM CASE OUT_DIR
#
# BIN_DIR holds etcd, benchmark and etcdlab (a compare-etcd run's bin/);
# SYSTEM is etcd, bbolt or pebble; CASE is put (1000 clients), put1 (1
# client), range-lin (1000 clients), range-lin1 (1 client), keepalive (1000
# clients), keepalive1 (1 client), watch-latency (per put; 100 watchers) or
# txn-mixed (1000 clients; compare-etcd's settings). Binds
# 127.0.0.1:23790 and :23800 only (CLIENT_PORT and PEER_PORT change them). Compare the profiles with
# `go tool pprof -top -focus=REGEX BIN OUT_DIR/cpu.prof`.
set -euo pipefail
bin=$1 sys=$2 cs=$3 out=$4
rm -rf "$out"; mkdir -p "$out"
cport=${CLIENT_PORT:-23790} pport=${PEER_PORT:-23800}
url=http://127.0.0.1:$cport peer=http://127.0.0.1:$pport
args=(--name=n1 --data-dir="$out/data" --listen-client-urls=$url --advertise-client-urls=$url
  --listen-peer-urls=$peer --initial-advertise-peer-urls=$peer
  --initial-cluster=n1=$peer --initial-cluster-state=new
  --snapshot-count=10000 --quota-backend-bytes=2147483648 --backend-batch-interval=100ms
  --backend-batch-limit=10000 --heartbeat-interval=100 --election-timeout=1000 --enable-pprof)
case $sys in
  etcd) "$bin/etcd" "${args[@]}" >"$out/server.log" 2>&1 & ;;
  bbolt|pebble) "$bin/etcdlab" node --engine="$sys" "${args[@]}" >"$out/server.log" 2>&1 & ;;
  *) echo "profile.sh: unknown system $sys (etcd, bbolt, pebble)" >&2; exit 2 ;;
esac
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  "$bin/benchmark" --endpoints=127.0.0.1:$cport --conns=1 --clients=1 put --total=1 >/dev/null 2>&1 && break
  sleep 0.2
done
case $cs in
  put) b=(--conns=100 --clients=1000 put --key-size=8 --val-size=256 --total=200000 --sequential-keys --key-space-size=100000); n=200000 ;;
  put1) b=(--conns=1 --clients=1 put --key-size=8 --val-size=256 --total=15000 --sequential-keys --key-space-size=100000); n=15000 ;;
  range-lin) b=(--conns=100 --clients=1000 range foo --consistency=l --total=200000); n=200000 ;;
  range-lin1) b=(--conns=1 --clients=1 range foo --consistency=l --total=20000); n=20000 ;;
  keepalive) b=(--conns=100 --clients=1000 lease-keepalive --total=200000); n=200000 ;;
  keepalive1) b=(--conns=1 --clients=1 lease-keepalive --total=60000); n=60000 ;;
  watch-latency) b=(--conns=1 --clients=1 watch-latency --streams=10 --watchers-per-stream=10 --put-rate=100
    --put-total=1000 --key-size=32 --val-size=32); n=1000 ;;
  txn-mixed) b=(--conns=100 --clients=1000 txn-mixed --rw-ratio=4 --limit=100 --key-space-size=10000 --key-size=8
    --val-size=256 --consistency=l --total=50000); n=50000 ;;
  *) echo "profile.sh: unknown case $cs (put, put1, range-lin, range-lin1, keepalive, keepalive1, watch-latency, txn-mixed)" >&2; exit 2 ;;
esac
stat() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
io() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$pid/io"; }
t0=$(stat) w0=$(io syscw) b0=$(io write_bytes)
(sleep 2; curl -s "$url/debug/pprof/profile?seconds=5" -o "$out/cpu.prof") &
prof=$!
"$bin/benchmark" --endpoints=127.0.0.1:$cport --precise "${b[@]}" >"$out/bench.txt" 2>&1
t1=$(stat) w1=$(io syscw) b1=$(io write_bytes)
wait $prof
tck=$(getconf CLK_TCK)
awk -v s="$sys" -v c="$cs" -v n=$n -v t=$((t1 - t0)) -v w=$((w1 - w0)) -v b=$((b1 - b0)) -v k="$tck" \
  -v r="$(awk '/Requests\/sec/ {print $2; exit}' "$out/bench.txt")" \
  'BEGIN { printf "%s %s: %.0f req/s, server CPU %.1f us/req, %.2f write syscalls/req, %.0f bytes written/req\n", s, c, r, t * 1e6 / k / n, w / n, b / n }' \
  | tee "$out/summary.txt"
