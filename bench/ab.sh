#!/usr/bin/env bash
# Two (or more) punchd builds, taking turns, on the same load: a quick A/B for a change whose
# effect is smaller than the machine's noise between two bench/run.sh runs.
#
#   BUILDS="/path/to/baseline/punchd build/punchd" ROUNDS=3 bash bench/ab.sh
#
# Each run: a fresh redis-server (Unix socket, no persistence), punchd --workers WORKERS on
# the repo's scripts/, wrk with bench/orders.lua (BATCH=0: single events over CONNS=50
# connections; BATCH=100: batches over CONNS=8), WARMUP then DURATION measured. One line per
# run: events/s, p99, non-2xx, then per event punchd's and Redis's CPU µs (user + system, from
# /proc), Redis's page faults per 1,000 events, and the keys left in Redis. The builds take
# turns ROUNDS times, so a change of the machine's load hits every build; compare a build's
# rounds with the others' rounds, not one line with one line.
#
# Environment: BUILDS (default build/punchd), ROUNDS=3, BATCH=0, CONNS (50, or 8 with BATCH),
# WORKERS=1, MEMBERS=10000, WARMUP=3s, DURATION=6s, SCRIPTS=scripts, MAX_SECONDS=900.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILDS=${BUILDS:-$ROOT/build/punchd}
ROUNDS=${ROUNDS:-3}
BATCH=${BATCH:-0}
CONNS=${CONNS:-$([ "$BATCH" -gt 0 ] && echo 8 || echo 50)}
WORKERS=${WORKERS:-1}
MEMBERS=${MEMBERS:-10000}
WARMUP=${WARMUP:-3s}
DURATION=${DURATION:-6s}
SCRIPTS=$(realpath "${SCRIPTS:-$ROOT/scripts}")
MAX_SECONDS=${MAX_SECONDS:-900}
PUNCHD=$(realpath "${BUILDS%% *}") # bench_start copies the first; each build is copied below

BENCH_NAME=ab
STOP_TRIES=50
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
for t in wrk redis-server redis-cli curl; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing (apt-get install wrk redis-server redis-tools curl)"
done
builds=()
for b in $BUILDS; do
	[ -x "$b" ] || die "$b is not an executable (make build first?)"
	builds+=("$(realpath "$b")")
done
bench_start
for i in "${!builds[@]}"; do
	cp "${builds[$i]}" "$TMP/punchd-$i" || die "cannot copy ${builds[$i]}"
done

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
faults() { awk '{ print $10 }' "/proc/$1/stat"; }

# One run of build $1 (index): prints its line.
run() {
	local i=$1 dir="$TMP/run" rpid ppid port url p0 r0 f0 p1 r1 f1 out n hz
	rm -rf "$dir" && mkdir -p "$dir"
	redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --dir "$dir" \
		--logfile "$dir/redis.log" --save '' --appendonly no &
	rpid=$!
	PIDS+=("$rpid")
	wait_for 100 redis-cli -s "$dir/redis.sock" ping || die "redis-server did not start"
	port=$(free_port)
	"$TMP/punchd-$i" --listen "127.0.0.1:$port" --redis "$dir/redis.sock" --scripts "$SCRIPTS" \
		--namespace "ab$i" --workers "$WORKERS" --log-level warn 2>"$dir/punchd.log" &
	ppid=$!
	PIDS+=("$ppid")
	url="http://127.0.0.1:$port/v1/events"
	wait_for 100 curl -sf --max-time 1 "http://127.0.0.1:$port/healthz" ||
		die "punchd did not become ready: $(tail -3 "$dir/punchd.log")"
	LABEL=warm NONCE=$RANDOM$RANDOM MEMBERS=$MEMBERS BATCH=$BATCH timeout 60 \
		wrk -t1 -c"$CONNS" -d"$WARMUP" -s "$ROOT/bench/orders.lua" "$url" >/dev/null 2>&1 &
	bg_wait $! || die "wrk warm-up failed"
	p0=$(ticks "$ppid") r0=$(ticks "$rpid") f0=$(faults "$rpid")
	LABEL=run NONCE=$RANDOM$RANDOM MEMBERS=$MEMBERS BATCH=$BATCH timeout 60 \
		wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/bench/orders.lua" "$url" >"$dir/wrk.txt" 2>&1 &
	bg_wait $! || die "wrk failed: $(tail -3 "$dir/wrk.txt")"
	p1=$(ticks "$ppid") r1=$(ticks "$rpid") f1=$(faults "$rpid")
	out=$(grep -o 'RESULT.*' "$dir/wrk.txt") || die "wrk printed no RESULT"
	n=$(field requests "$out")
	[ "$n" -gt 0 ] || die "no request answered"
	hz=$(getconf CLK_TCK)
	printf '%s events/s %s p99 %s ms non-2xx %s punchd %s µs/ev Redis %s µs/ev faults/1k %s keys %s\n' \
		"$i" "$(field rps "$out")" "$(field p99_ms "$out")" "$(field non2xx "$out")" \
		"$(awk -v a="$p0" -v b="$p1" -v n="$n" -v h="$hz" 'BEGIN { printf "%.1f", (b - a) * 1e6 / h / n }')" \
		"$(awk -v a="$r0" -v b="$r1" -v n="$n" -v h="$hz" 'BEGIN { printf "%.1f", (b - a) * 1e6 / h / n }')" \
		"$(((f1 - f0) * 1000 / n))" "$(redis-cli -s "$dir/redis.sock" dbsize)"
	stop_pid "$ppid"
	stop_pid "$rpid"
}

echo "ab $(date -u +%Y-%m-%dT%H:%MZ), commit $COMMIT, BATCH=$BATCH CONNS=$CONNS WORKERS=$WORKERS, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in "${!builds[@]}"; do echo "build $i: ${builds[$i]}"; done
for r in $(seq "$ROUNDS"); do
	for i in "${!builds[@]}"; do
		echo "round $r build $(run "$i")"
	done
done
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
