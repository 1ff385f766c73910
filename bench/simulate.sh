#!/usr/bin/env bash
# punch simulate's speed on a generated history (bench/history.py), with the CPU time punch
# and Redis used, so a figure can be taken again and compared:
#
#   bash bench/simulate.sh            (after make build)
#
# Environment: EVENTS=1000000 MEMBERS=20000 (the history; generated once into
# HISTORY=/tmp/punch-history-EVENTS-MEMBERS.jsonl and kept), WORKERS="1 2" (one run per value),
# PUNCH=build/punch, SCRIPTS=scripts, MAX_SECONDS=900, KEEP_TMP=1.
# Redis is a throwaway redis-server of the run's own (Unix socket, no persistence), so its
# CPU can be read from /proc; punch's is its user + system time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EVENTS=${EVENTS:-1000000}
MEMBERS=${MEMBERS:-20000}
WORKERS=${WORKERS:-1 2}
SCRIPTS=$(realpath "${SCRIPTS:-$ROOT/scripts}")
HISTORY=${HISTORY:-/tmp/punch-history-$EVENTS-$MEMBERS.jsonl}
MAX_SECONDS=${MAX_SECONDS:-900}
PUNCHD=$(realpath "${PUNCH:-$ROOT/build/punch}") # bench_start copies it

BENCH_NAME=simulate
STOP_TRIES=50
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
for t in redis-server redis-cli python3; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done
[ -x "$PUNCHD" ] || die "$PUNCHD not found: run 'make build' first"
if [ ! -s "$HISTORY" ]; then
	log "generating $HISTORY"
	python3 "$ROOT/bench/history.py" "$EVENTS" "$MEMBERS" >"$HISTORY.part" && mv "$HISTORY.part" "$HISTORY"
fi
bench_start

# CPU seconds (user + system) of a pid, from /proc.
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }

redis-server --port 0 --unixsocket "$TMP/redis.sock" --unixsocketperm 700 --dir "$TMP" \
	--logfile "$TMP/redis.log" --save '' --appendonly no &
RPID=$!
PIDS+=("$RPID")
wait_for 100 redis-cli -s "$TMP/redis.sock" ping || die "redis-server did not start"

what="commit $COMMIT"
[ -n "${PUNCH:-}" ] && what="$PUNCH"
echo "simulate $(date -u +%Y-%m-%dT%H:%MZ), $what, $(wc -l <"$HISTORY") events of $HISTORY"
for w in $WORKERS; do
	load=$(cut -d' ' -f1 /proc/loadavg)
	r0=$(cpu_of "$RPID")
	start=$(date +%s.%N)
	# shellcheck disable=SC2086
	/usr/bin/time -f '%U %S' -o "$TMP/time" "$PUNCHD" simulate --workers "$w" --no-progress \
		--redis "$TMP/redis.sock" --scripts "$SCRIPTS" "$HISTORY" >"$TMP/out.$w" 2>"$TMP/err.$w" &
	bg_wait $! || die "punch simulate failed: $(tail -3 "$TMP/err.$w")"
	end=$(date +%s.%N)
	r1=$(cpu_of "$RPID")
	line=$(grep -m1 '^scripts ' "$TMP/out.$w")
	read -r u s <"$TMP/time"
	awk -v w="$w" -v n="$(wc -l <"$HISTORY")" -v wall="$(echo "$end - $start" | bc)" \
		-v u="$u" -v s="$s" -v r="$(echo "$r1 - $r0" | bc)" -v l0="$load" \
		-v l1="$(cut -d' ' -f1 /proc/loadavg)" -v line="$line" 'BEGIN {
		printf "  --workers %s: %s\n", w, line
		printf "    wall %.1f s; punch CPU %.1f s (%.1f us/event); Redis CPU %.1f s (%.1f us/event); load %s -> %s\n",
			wall, u + s, (u + s) * 1e6 / n, r, r * 1e6 / n, l0, l1 }'
	sed -n '/^events/,$p' "$TMP/out.$w" >"$TMP/figures.$w"
done
# The figures must not depend on --workers.
first=""
for w in $WORKERS; do
	if [ -z "$first" ]; then
		first=$w
	elif ! cmp -s "$TMP/figures.$first" "$TMP/figures.$w"; then
		diff "$TMP/figures.$first" "$TMP/figures.$w" >&2 || true
		die "the figures differ between --workers $first and $w"
	fi
done
[ -n "$first" ] && sed 's/^/    /' "$TMP/figures.$first" | head -40
