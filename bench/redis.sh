#!/usr/bin/env bash
# What Redis spends per event, for a build of punch and a baseline measured in the same run:
#
#   BASE=/path/to/baseline/punch bash bench/redis.sh        (after make build)
#
# Each build replays the same history (bench/history.py) with `punch simulate --workers 1`
# against a redis-server of its own (Unix socket, no persistence), the builds taking turns
# ROUNDS times so that a change of the machine's load hits both. Per event it prints Redis's
# CPU time (from /proc), its EVALSHA calls and their time as INFO commandstats counts it
# (usec per call, inclusive of the commands a script calls), the events/s punch printed,
# and each figure of the build as a ratio to the baseline's.
# CALLGRIND=1 also runs each redis-server under valgrind's callgrind on a CG_EVENTS slice of
# the history and prints instructions: per EVALSHA (inclusive) and Redis's total per event.
# Instructions depend on the machine's load far less than CPU time: compare those.
#
# Environment: PUNCH=build/punch, BASE= (none: the build alone), EVENTS=100000 MEMBERS=5000
# (the history, written once to HISTORY=/tmp/punch-history-EVENTS-MEMBERS.jsonl), ROUNDS=2,
# CALLGRIND=0, CG_EVENTS=10000, SCRIPTS=scripts, MAX_SECONDS=900, KEEP_TMP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EVENTS=${EVENTS:-100000}
MEMBERS=${MEMBERS:-5000}
ROUNDS=${ROUNDS:-2}
CALLGRIND=${CALLGRIND:-0}
CG_EVENTS=${CG_EVENTS:-10000}
SCRIPTS=$(realpath "${SCRIPTS:-$ROOT/scripts}")
HISTORY=${HISTORY:-/tmp/punch-history-$EVENTS-$MEMBERS.jsonl}
MAX_SECONDS=${MAX_SECONDS:-900}
PUNCHD=$(realpath "${PUNCH:-$ROOT/build/punch}") # bench_start copies it
BASE=${BASE:-}

BENCH_NAME=redis
STOP_TRIES=50
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
for t in redis-server redis-cli python3 bc; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done
[ "$CALLGRIND" = 1 ] && { command -v valgrind >/dev/null 2>&1 || die "valgrind is missing"; }
[ -x "$PUNCHD" ] || die "$PUNCHD not found: run 'make build' first"
[ -z "$BASE" ] || [ -x "$BASE" ] || die "BASE=$BASE is not an executable"
if [ ! -s "$HISTORY" ]; then
	log "generating $HISTORY"
	python3 "$ROOT/bench/history.py" "$EVENTS" "$MEMBERS" >"$HISTORY.part" && mv "$HISTORY.part" "$HISTORY"
fi
bench_start
builds=("$PUNCHD")
names=("build ($COMMIT)")
if [ -n "$BASE" ]; then
	cp "$BASE" "$TMP/base" || die "cannot copy $BASE"
	builds=("$TMP/base" "$PUNCHD")
	names=("baseline" "build ($COMMIT)")
fi
head -n "$CG_EVENTS" "$HISTORY" >"$TMP/slice.jsonl"

cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }

# One replay: run N BUILD HISTORY [callgrind] -> a line "events ev/s cpu_s calls usec ir_eval ir_all".
run() {
	local n=$1 punch=$2 history=$3 cg=${4:-} dir="$TMP/r$1" rpid r0 r1 line calls usec ir_eval=0 ir_all=0
	mkdir -p "$dir"
	local server=(redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700
		--dir "$dir" --logfile "$dir/redis.log" --save '' --appendonly no)
	if [ -n "$cg" ]; then
		valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "${server[@]}" \
			>"$dir/valgrind.log" 2>&1 &
	else
		"${server[@]}" &
	fi
	rpid=$!
	PIDS+=("$rpid")
	wait_for 300 redis-cli -s "$dir/redis.sock" ping || die "redis-server did not start"
	redis-cli -s "$dir/redis.sock" config resetstat >/dev/null
	r0=$(cpu_of "$rpid")
	"$punch" simulate --workers 1 --no-progress --redis "$dir/redis.sock" --scripts "$SCRIPTS" \
		"$history" >"$dir/out" 2>"$dir/err" &
	bg_wait $! || die "punch simulate failed: $(tail -3 "$dir/err")"
	r1=$(cpu_of "$rpid")
	line=$(redis-cli -s "$dir/redis.sock" info commandstats | tr -d '\r' | grep '^cmdstat_evalsha:')
	calls=$(echo "$line" | sed 's/^cmdstat_evalsha:calls=\([0-9]*\).*/\1/')
	usec=$(echo "$line" | sed 's/.*,usec=\([0-9]*\).*/\1/')
	redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true
	wait "$rpid" 2>/dev/null || true
	if [ -n "$cg" ]; then
		callgrind_annotate --inclusive=yes "$dir/cg.out" >"$dir/cg.txt" 2>/dev/null
		ir_all=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$dir/cg.txt")
		ir_eval=$(awk '/:evalShaCommand / { gsub(",", "", $1); print $1; exit }' "$dir/cg.txt")
	fi
	echo "$(wc -l <"$history") $(grep -m1 '^scripts ' "$dir/out" | sed 's/.*, \([0-9]*\) events\/s.*/\1/') \
$(echo "$r1 - $r0" | bc) $calls $usec $ir_eval $ir_all"
	sed -n '/^events/,$p' "$dir/out" >"$dir/figures"
}

echo "redis per event $(date -u +%Y-%m-%dT%H:%MZ), $(wc -l <"$HISTORY") events of $HISTORY, load $(cut -d' ' -f1-3 /proc/loadavg)"
n=0
for round in $(seq "$ROUNDS"); do
	for b in "${!builds[@]}"; do
		n=$((n + 1))
		echo "$b $(run "$n" "${builds[$b]}" "$HISTORY")" >>"$TMP/rows"
		cmp -s "$TMP/r1/figures" "$TMP/r$n/figures" || die "the figures of run $n differ from run 1"
		log "round $round, ${names[$b]}: done"
	done
done
if [ "$CALLGRIND" = 1 ]; then
	for b in "${!builds[@]}"; do
		n=$((n + 1))
		echo "$b $(run "$n" "${builds[$b]}" "$TMP/slice.jsonl" cg)" >>"$TMP/cg"
		log "callgrind, ${names[$b]}: done"
	done
fi
# Per build: the sums over its rounds, then the figures and their ratios to the baseline's.
awk -v nb="${#builds[@]}" -v names="$(printf '%s|' "${names[@]}")" -v cgfile="$TMP/cg" '
BEGIN { split(names, nm, "|") }
{ b = $1; ev[b] += $2; rate[b] += $3; cnt[b]++; cpu[b] += $4; calls[b] += $5; usec[b] += $6 }
END {
	while ((getline line < cgfile) > 0) {
		split(line, f, " ")
		cgev[f[1]] = f[2]; cgcalls[f[1]] = f[5]; ireval[f[1]] = f[7]; irall[f[1]] = f[8]
	}
	printf "| build | events/s | Redis CPU us/event | EVALSHA/event | EVALSHA us/call | EVALSHA us/event |"
	if (length(irall)) printf " Ir/EVALSHA | Redis Ir/event |"
	printf "\n|---|--:|--:|--:|--:|--:|%s\n", length(irall) ? "--:|--:|" : ""
	for (b = 0; b < nb; b++) {
		v[b, 1] = rate[b] / cnt[b]; v[b, 2] = cpu[b] * 1e6 / ev[b]; v[b, 3] = calls[b] / ev[b]
		v[b, 4] = usec[b] / calls[b]; v[b, 5] = usec[b] / ev[b]
		if (b in irall) { v[b, 6] = ireval[b] / cgcalls[b]; v[b, 7] = irall[b] / cgev[b] }
		printf "| %s | %d | %.1f | %.2f | %.2f | %.1f |", nm[b + 1], v[b, 1], v[b, 2], v[b, 3], v[b, 4], v[b, 5]
		if (b in irall) printf " %d | %d |", v[b, 6], v[b, 7]
		printf "\n"
	}
	if (nb == 2) {
		printf "| build / baseline | %.2fx | %.2fx | %.2fx | %.2fx | %.2fx |", v[1, 1] / v[0, 1], v[1, 2] / v[0, 2], v[1, 3] / v[0, 3], v[1, 4] / v[0, 4], v[1, 5] / v[0, 5]
		if (1 in irall && 0 in irall) printf " %.2fx | %.2fx |", v[1, 6] / v[0, 6], v[1, 7] / v[0, 7]
		printf "\n"
	}
}' "$TMP/rows"
echo "load after $(cut -d' ' -f1-3 /proc/loadavg); figures identical in every run"
