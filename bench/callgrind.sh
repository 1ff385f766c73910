#!/usr/bin/env bash
# Instructions per event: punchd and the hello-world under valgrind's callgrind, driven by a
# light wrk load with bench/orders.lua. Instruction counts (Ir) do not depend on what else
# runs on the machine, so this is the figure to compare commits on a busy box.
# User-space instructions only: the kernel's share (sockets) is not counted.
#
#   bash bench/callgrind.sh            (after make build)
#
# Environment: DURATION=5s (measured, per target), CONNS=8, TOP=40 (functions listed),
# KEEP_TMP=1, PUNCHD=build/punchd, MAX_SECONDS=150.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
DURATION=${DURATION:-5s}
CONNS=${CONNS:-8}
TOP=${TOP:-40}
MAX_SECONDS=${MAX_SECONDS:-150}
PUNCHD=$(realpath "${PUNCHD:-$ROOT/build/punchd}")

log() { printf '[callgrind] %s\n' "$*" >&2; }
die() {
	printf '[callgrind] error: %s\n' "$*" >&2
	exit 2
}
for t in valgrind callgrind_annotate callgrind_control wrk redis-server redis-cli cc curl; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing (apt-get install valgrind wrk redis-server redis-tools gcc curl)"
done
[ -x "$PUNCHD" ] || die "$PUNCHD not found: run 'make build' first"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/punch-callgrind.XXXXXX")
cd "$TMP"
PIDS=()
WATCHDOG=""
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null || true
	if [ -s "$TMP/pids" ]; then
		while read -r p; do kill -TERM "$p" 2>/dev/null || true; done <"$TMP/pids"
	fi
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The commit measured: the binary is built from the work tree, which may differ from it.
COMMIT=$(git -C "$ROOT" log -1 --format=%h 2>/dev/null || echo none)
if [ -n "$(git --no-optional-locks -C "$ROOT" status --porcelain -- core include scripts CMakeLists.txt 2>/dev/null)" ]; then
	COMMIT="$COMMIT + uncommitted changes"
fi
# A copy, so a rebuild of build/ during the run cannot pull the binary away.
cp "$PUNCHD" "$TMP/punchd" || die "cannot copy $PUNCHD"
PUNCHD=$TMP/punchd
(
	# Its sleep dies with it, so nothing is left holding the output open.
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	sleep "$MAX_SECONDS" &
	sp=$!
	wait "$sp"
	printf '[%s] error: watchdog: over %ss, stopping\n' "callgrind" "$MAX_SECONDS" >&2
	kill -TERM $$
) </dev/null >/dev/null &
WATCHDOG=$!

# Waits for a background step (wrk under timeout), so that a signal stops the run at once
# (bash interrupts `wait`, not a foreground command); its pid is noted for cleanup.
bg_wait() {
	echo "$1" >>"$TMP/pids"
	wait "$1"
}
free_port() {
	local p used lo
	# Below the ephemeral range, so no client socket (wrk's, hiredis's) can hold it.
	lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$lo" -gt 21000 ] || lo=32768
	used=$(ss -Htan 2>/dev/null | awk '{ print $4 }' | sed 's/.*://' | sort -u)
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % (lo - 20000)))
		grep -qx "$p" <<<"$used" || {
			echo "$p"
			return
		}
	done
	die "no free port found"
}
wait_for() {
	local tenths=$1
	shift
	for _ in $(seq "$tenths"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
NONCE=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')

# Starts "$@" (a server under callgrind, instrumentation off) and waits for $3 = URL to
# answer. Then warms it up, switches instrumentation on, runs the measured load, and stops
# the server. Leaves in $TMP/$name.n the requests answered during the measured window.
measure() {
	local name=$1 url=$2 ready=$3 pid out n
	shift 3
	valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.$name" \
		"$@" >"$TMP/$name.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_for 300 curl -sf --max-time 2 "$ready" || die "$name did not start: $(tail -3 "$TMP/$name.log")"
	LABEL=$name-warm NONCE=$NONCE-$name-warm timeout 60 \
		wrk -t1 -c"$CONNS" -d2s --timeout 10s -s "$BENCH/orders.lua" "$url" >/dev/null 2>&1 &
	bg_wait $! || true
	timeout 20 callgrind_control -i on "$pid" >/dev/null 2>&1 || die "callgrind_control failed"
	LABEL=$name NONCE=$NONCE-$name timeout 60 \
		wrk -t1 -c"$CONNS" -d"$DURATION" --timeout 10s -s "$BENCH/orders.lua" "$url" \
		>"$TMP/wrk-$name.txt" 2>&1 &
	bg_wait $! || die "wrk against $name failed: $(tail -3 "$TMP/wrk-$name.txt")"
	out=$(grep '^RESULT ' "$TMP/wrk-$name.txt") || die "wrk against $name printed no RESULT"
	timeout 20 callgrind_control -i off "$pid" >/dev/null 2>&1 || true
	stop_pid "$pid"
	# Requests answered in the window; up to CONNS more may have been in flight.
	n=$(field ok "$out")
	log "$name: $n requests under callgrind ($(field rps "$out") req/s)"
	echo "$n" >"$TMP/$name.n"
}
# Stops one process we started (callgrind writes its file on the way out) and forgets it.
stop_pid() {
	local p=$1 q keep=()
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
	PIDS=("${keep[@]}")
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

HIR=$(total_ir "$TMP/cg.hello")
PIR=$(total_ir "$TMP/cg.punchd")
echo
echo "callgrind $(date -u +%Y-%m-%dT%H:%MZ), commit $COMMIT: user-space instructions per request"
awk -v h="$HIR" -v hn="$HN" -v p="$PIR" -v pn="$PN" 'BEGIN {
	hi = h / (hn > 0 ? hn : 1); pi = p / (pn > 0 ? pn : 1)
	printf "  hello-world  %8.0f Ir/request   (%d requests)\n", hi, hn
	printf "  punchd       %8.0f Ir/event     (%d events)   = %.1fx the hello-world\n", pi, pn, (hi > 0 ? pi / hi : 0)
}'
echo
echo "punchd, inclusive, Ir per event (functions with >= 2% of the total):"
callgrind_annotate --inclusive=yes "$TMP/cg.punchd" 2>/dev/null |
	awk -v n="$PN" '/^[ 0-9,]+ \([ 0-9.]+%\) / {
		ir = $1; gsub(",", "", ir); pct = $0; sub(/^[ 0-9,]+\( */, "", pct); sub(/%.*/, "", pct)
		if (pct + 0 < 2) next
		fn = $0; sub(/^[ 0-9,]+ \([ 0-9.]+%\) +/, "", fn)
		sub(/ \[.*\]$/, "", fn); sub(/^.*:/, "", fn)
		if (fn ~ /^0x/ || seen[fn]++) next
		printf "  %7.0f  %5.1f%%  %s\n", ir / (n > 0 ? n : 1), pct, fn }' | head -"$TOP"
echo
echo "punchd, self, Ir per event (top):"
callgrind_annotate "$TMP/cg.punchd" 2>/dev/null |
	awk -v n="$PN" '/^[ 0-9,]+ \([ 0-9.]+%\) / && !/PROGRAM TOTALS/ {
		ir = $1; gsub(",", "", ir); pct = $0; sub(/^[ 0-9,]+\( */, "", pct); sub(/%.*/, "", pct)
		fn = $0; sub(/^[ 0-9,]+ \([ 0-9.]+%\) +/, "", fn)
		lib = fn; sub(/^.*\[/, "", lib); sub(/\]$/, "", lib); sub(/^.*\//, "", lib)
		sub(/ \[.*\]$/, "", fn); sub(/^.*:/, "", fn)
		printf "  %7.0f  %5.1f%%  %s (%s)\n", ir / (n > 0 ? n : 1), pct, fn, lib }' | head -15
