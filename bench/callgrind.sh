#!/usr/bin/env bash
# Instructions per event: punchd and the hello-world under valgrind's callgrind, driven by a
# light wrk load with bench/orders.lua. Instruction counts (Ir) do not depend on what else
# runs on the machine, so this is the figure to compare commits on a busy box.
# User-space instructions only: the kernel's share (sockets) is not counted.
#
#   bash bench/callgrind.sh            (after make build)
#
# Environment: DURATION=5s (measured, per target), CONNS=8, TOP=40 (functions listed),
# KEEP_TMP=1, PUNCHD=build/punchd, MAX_SECONDS=150 (200 with BATCH), BATCH=0 (N: punchd is
# measured a second time on POST /v1/events/batch with N orders per request over 2
# connections, and the report gives its instructions per event beside the single event's).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
DURATION=${DURATION:-5s}
CONNS=${CONNS:-8}
TOP=${TOP:-40}
BATCH=${BATCH:-0}
MAX_SECONDS=${MAX_SECONDS:-$([ "$BATCH" -gt 0 ] && echo 200 || echo 150)}
PUNCHD_GIVEN=${PUNCHD:-}
PUNCHD=$(realpath "${PUNCHD:-$ROOT/build/punchd}")

BENCH_NAME=callgrind
STOP_TRIES=200 # callgrind writes its file on the way out
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
for t in valgrind callgrind_annotate callgrind_control wrk redis-server redis-cli cc curl; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing (apt-get install valgrind wrk redis-server redis-tools gcc curl)"
done
[ -x "$PUNCHD" ] || die "$PUNCHD not found: run 'make build' first"

bench_start
NONCE=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')

# Starts "$@" (a server under callgrind, instrumentation off) and waits for $3 = URL to
# answer. Then warms it up, switches instrumentation on, runs the measured load, and stops
# the server. Leaves in $TMP/$name.n the requests answered during the measured window.
measure() {
	local name=$1 url=$2 ready=$3 pid out n batch=${WRK_BATCH:-0} conns=$CONNS
	[ "$batch" -gt 0 ] && conns=2
	shift 3
	valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.$name" \
		"$@" >"$TMP/$name.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_for 300 curl -sf --max-time 2 "$ready" || die "$name did not start: $(tail -3 "$TMP/$name.log")"
	BATCH=$batch LABEL=$name-warm NONCE=$NONCE-$name-warm timeout 60 \
		wrk -t1 -c"$conns" -d2s --timeout 10s -s "$BENCH/orders.lua" "$url" >/dev/null 2>&1 &
	bg_wait $! || true
	timeout 20 callgrind_control -i on "$pid" >/dev/null 2>&1 || die "callgrind_control failed"
	BATCH=$batch LABEL=$name NONCE=$NONCE-$name timeout 60 \
		wrk -t1 -c"$conns" -d"$DURATION" --timeout 10s -s "$BENCH/orders.lua" "$url" \
		>"$TMP/wrk-$name.txt" 2>&1 &
	bg_wait $! || die "wrk against $name failed: $(tail -3 "$TMP/wrk-$name.txt")"
	out=$(grep '^RESULT ' "$TMP/wrk-$name.txt") || die "wrk against $name printed no RESULT"
	timeout 20 callgrind_control -i off "$pid" >/dev/null 2>&1 || true
	stop_pid "$pid"
	# Requests (events, for a batch) answered in the window; up to CONNS more may have been in flight.
	n=$(field ok "$out")
	log "$name: $n requests under callgrind ($(field rps "$out") req/s)"
	echo "$n" >"$TMP/$name.n"
}
total_ir() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }

# hello-world
# shellcheck disable=SC2046
cc -O2 -g -o "$TMP/hello" "$BENCH/hello.c" $(pkg-config --cflags --libs libevent) ||
	die "cannot compile bench/hello.c"
HPORT=$(free_port)
measure hello "http://127.0.0.1:$HPORT/v1/events" "http://127.0.0.1:$HPORT/" \
	"$TMP/hello" 127.0.0.1 "$HPORT"
HN=$(cat "$TMP/hello.n")

# punchd, with a Redis of its own (no persistence)
redis-server --bind 127.0.0.1 --port 0 --unixsocket "$TMP/redis.sock" --unixsocketperm 700 \
	--dir "$TMP" --logfile "$TMP/redis.log" --save '' --appendonly no &
PIDS+=($!)
wait_for 100 redis-cli -s "$TMP/redis.sock" ping || die "redis-server did not start"
PPORT=$(free_port)
measure punchd "http://127.0.0.1:$PPORT/v1/events" "http://127.0.0.1:$PPORT/healthz" \
	"$PUNCHD" --listen "127.0.0.1:$PPORT" --redis "$TMP/redis.sock" --scripts "$ROOT/scripts" \
	--namespace "cg$NONCE" --log-level warn
PN=$(cat "$TMP/punchd.n")
BN=0
if [ "$BATCH" -gt 0 ]; then
	BPORT=$(free_port)
	WRK_BATCH=$BATCH measure batch "http://127.0.0.1:$BPORT/v1/events/batch" \
		"http://127.0.0.1:$BPORT/healthz" \
		"$PUNCHD" --listen "127.0.0.1:$BPORT" --redis "$TMP/redis.sock" --scripts "$ROOT/scripts" \
		--namespace "cgb$NONCE" --log-level warn
	BN=$(cat "$TMP/batch.n")
fi

HIR=$(total_ir "$TMP/cg.hello")
PIR=$(total_ir "$TMP/cg.punchd")
echo
what="commit $COMMIT"
[ -n "$PUNCHD_GIVEN" ] && what="$PUNCHD_GIVEN"
echo "callgrind $(date -u +%Y-%m-%dT%H:%MZ), $what: user-space instructions per request"
awk -v h="$HIR" -v hn="$HN" -v p="$PIR" -v pn="$PN" 'BEGIN {
	hi = h / (hn > 0 ? hn : 1); pi = p / (pn > 0 ? pn : 1)
	printf "  hello-world  %8.0f Ir/request   (%d requests)\n", hi, hn
	printf "  punchd       %8.0f Ir/event     (%d events)   = %.1fx the hello-world\n", pi, pn, (hi > 0 ? pi / hi : 0)
}'
if [ "$BATCH" -gt 0 ]; then
	BIR=$(total_ir "$TMP/cg.batch")
	awk -v h="$HIR" -v hn="$HN" -v p="$PIR" -v pn="$PN" -v b="$BIR" -v bn="$BN" -v size="$BATCH" 'BEGIN {
		hi = h / (hn > 0 ? hn : 1); pi = p / (pn > 0 ? pn : 1); bi = b / (bn > 0 ? bn : 1)
		if (bn == 0) { printf "  batch of %d: no request answered in the window (a longer DURATION or a smaller BATCH)\n", size; exit }
		printf "  batch of %d %8.0f Ir/event     (%d events)   = %.1fx the hello-world, %.2fx fewer than single\n", size, bi, bn, (hi > 0 ? bi / hi : 0), (bi > 0 ? pi / bi : 0)
	}'
fi
echo
echo "punchd, inclusive, Ir per event (functions with >= 2% of the total):"
callgrind_annotate --inclusive=yes "$TMP/cg.punchd" 2>/dev/null |
	awk -v n="$PN" '/^[ 0-9,]+ \([ 0-9.]+%\) / {
		ir = $1; gsub(",", "", ir); pct = $0; sub(/^[ 0-9,]+\( */, "", pct); sub(/%.*/, "", pct)
		if (pct + 0 < 2) next
		fn = $0; sub(/^[ 0-9,]+ \([ 0-9.]+%\) +/, "", fn)
		sub(/ \[.*\]$/, "", fn); sub(/^.*:/, "", fn)
		if (fn ~ /^0x/ || seen[fn]++) next
		if (++shown <= top) printf "  %7.0f  %5.1f%%  %s\n", ir / (n > 0 ? n : 1), pct, fn }' top="$TOP"
echo
echo "punchd, self, Ir per event (top):"
callgrind_annotate "$TMP/cg.punchd" 2>/dev/null |
	awk -v n="$PN" '/^[ 0-9,]+ \([ 0-9.]+%\) / && !/PROGRAM TOTALS/ {
		ir = $1; gsub(",", "", ir); pct = $0; sub(/^[ 0-9,]+\( */, "", pct); sub(/%.*/, "", pct)
		fn = $0; sub(/^[ 0-9,]+ \([ 0-9.]+%\) +/, "", fn)
		lib = fn; sub(/^.*\[/, "", lib); sub(/\]$/, "", lib); sub(/^.*\//, "", lib)
		sub(/ \[.*\]$/, "", fn); sub(/^.*:/, "", fn)
		if (++shown <= 15) printf "  %7.0f  %5.1f%%  %s (%s)\n", ir / (n > 0 ? n : 1), pct, fn, lib }' 
