#!/usr/bin/env bash
# The same load on one Redis and on a 3-master Redis Cluster, side by side, in one run, on
# 127.0.0.1 only. See "Single Redis and Redis Cluster" in bench/README.md.
#
#   MODE=cluster bash bench/run.sh     (or: bash bench/cluster.sh)
#
# Environment (all optional):
#   DURATION=10s   measured wrk run, per target (after WARMUP=3s)
#   CONNS=50       wrk connections;  THREADS=1 wrk threads
#   WORKERS=2      punchd --workers (one Redis connection per worker, per master on a cluster)
#   MEMBERS=10000  distinct members the orders are spread over
#   MAX_SECONDS=150 watchdog for the whole run
#   PUNCHD=build/punchd
# Both Redis setups are reached over TCP (a cluster has no Unix sockets), without persistence.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-2}
MEMBERS=${MEMBERS:-10000}
MAX_SECONDS=${MAX_SECONDS:-150}
PUNCHD=${PUNCHD:-$ROOT/build/punchd}
BENCH_NAME=bench-cluster
STOP_TRIES=50
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

for t in wrk redis-server redis-cli curl; do
	command -v "$t" >/dev/null 2>&1 || die "missing $t (bash bench/run.sh installs what it needs)"
done
[ -x "$PUNCHD" ] || die "$PUNCHD not found: run 'make build' first"
PUNCHD=$(realpath "$PUNCHD")
bench_start

HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
# Summed CPU ticks of a list of pids.
ticks_of() {
	local t=0 p
	for p in "$@"; do t=$((t + $(cpu_ticks "$p"))); done
	echo "$t"
}

# A redis-server on a free port; $1 its name, further args are flags. Echoes the port.
start_redis() {
	local name=$1 port
	shift
	port=$(free_port)
	mkdir -p "$TMP/$name"
	redis-server --bind 127.0.0.1 --port "$port" --dir "$TMP/$name" --logfile "$TMP/$name/log" \
		--save '' --appendonly no --daemonize no "$@" </dev/null >/dev/null 2>&1 &
	echo "$port $!"
}

# ---- one Redis, and a cluster of 3 masters (no replicas: the load, not failover) ----------
read -r SPORT SPID < <(start_redis single)
PIDS+=("$SPID")
wait_for 100 redis-cli -p "$SPORT" ping || die "redis-server did not start"
CPORTS=() CPIDS=()
for i in 1 2 3; do
	read -r p pid < <(start_redis "c$i" --cluster-enabled yes --cluster-config-file nodes.conf \
		--cluster-node-timeout 2000)
	CPORTS+=("$p")
	CPIDS+=("$pid")
	PIDS+=("$pid")
done
for p in "${CPORTS[@]}"; do wait_for 100 redis-cli -p "$p" ping || die "cluster node did not start"; done
timeout 30 redis-cli --cluster create "${CPORTS[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes \
	>"$TMP/create.log" 2>&1 || die "cluster create failed: $(tail -3 "$TMP/create.log")"
wait_for 200 sh -c "redis-cli -p ${CPORTS[0]} cluster info | grep -q cluster_state:ok" ||
	die "cluster not ok"
SEEDS="127.0.0.1:${CPORTS[0]},127.0.0.1:${CPORTS[1]}"
log "redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'): single on :$SPORT; cluster masters ${CPORTS[*]}"

# Runs punchd ($2: its Redis flags) under warm-up then measured wrk; the result line, with the
# CPU per event of punchd and of the Redis pids $3 (space-separated), and others' load.
NONCE=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
measure() {
	local label=$1 redis_flags=$2 rpids=$3 port pid out res s0 r0 s1 r1 m0 m1 n
	port=$(free_port)
	# shellcheck disable=SC2086
	"$PUNCHD" --listen "127.0.0.1:$port" $redis_flags --scripts "$ROOT/scripts" \
		--namespace "b$NONCE" --workers "$WORKERS" --log-level warn 2>"$TMP/punchd-$label.log" &
	pid=$!
	PIDS+=("$pid")
	wait_for 100 curl -sf --max-time 1 "http://127.0.0.1:$port/healthz" ||
		die "punchd ($label) not ready: $(tail -3 "$TMP/punchd-$label.log")"
	for phase in warm run; do
		local dur=$WARMUP
		[ "$phase" = run ] && dur=$DURATION
		out=$TMP/wrk-$label-$phase.txt
		# shellcheck disable=SC2086
		s0=$(cpu_ticks "$pid") r0=$(ticks_of $rpids) m0=$(machine_ticks)
		LABEL=$label-$phase NONCE=$NONCE-$label-$phase MEMBERS=$MEMBERS BATCH=0 timeout 60 \
			wrk -t"$THREADS" -c"$CONNS" -d"$dur" --timeout 5s --latency -s "$BENCH/orders.lua" \
			"http://127.0.0.1:$port/v1/events" >"$out" 2>&1 &
		bg_wait $! || die "wrk $label failed: $(tail -3 "$out")"
		# shellcheck disable=SC2086
		s1=$(cpu_ticks "$pid") r1=$(ticks_of $rpids) m1=$(machine_ticks)
	done
	res=$(grep -m1 '^RESULT ' "$out" | sed 's/^RESULT //') || die "wrk $label printed no RESULT"
	n=$(field requests "$res")
	awk -v res="$res" -v n="$n" -v hz="$HZ" -v ncpu="$NCPU" -v s=$((s1 - s0)) -v r=$((r1 - r0)) \
		-v m0="$m0" -v m1="$m1" 'BEGIN { split(m0, a, " "); split(m1, b, " ")
		busy = b[1] - a[1]; total = b[2] - a[2]; other = (total > 0 ? (busy - s - r) / (total / ncpu) : 0)
		if (n < 1) n = 1
		printf "%s srv_us=%.1f redis_us=%.1f load=%.2f\n", res, s * 1e6 / hz / n, r * 1e6 / hz / n, other }' \
		>"$TMP/res-$label"
	# Correctness: a few members, balance = ledger sum, read through punchd.
	for m in bm0 bm1 "bm$((MEMBERS / 2))" "bm$((MEMBERS - 1))"; do
		local bal sum
		bal=$(curl -sf "http://127.0.0.1:$port/v1/members/$m" | sed -n 's/.*"balances":{[^}]*"stars":\([0-9]*\).*/\1/p')
		sum=$(curl -sf "http://127.0.0.1:$port/v1/members/$m/ledger?limit=1000" |
			grep -o '"delta":-\{0,1\}[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }')
		[ "${bal:-0}" = "$sum" ] || {
			echo "$label $m: balance ${bal:-none}, ledger $sum" >>"$TMP/mismatch"
		}
	done
	stop_pid "$pid"
}

log "punchd --workers $WORKERS on one Redis: warm-up $WARMUP, then $DURATION"
measure single "--redis 127.0.0.1:$SPORT" "$SPID"
log "punchd --workers $WORKERS on the 3-master cluster: warm-up $WARMUP, then $DURATION"
measure cluster "--redis-cluster $SEEDS" "${CPIDS[*]}"

# Keys per master: how evenly the members spread over the cluster.
spread=""
for p in "${CPORTS[@]}"; do spread="$spread $(redis-cli -p "$p" dbsize)"; done

S=$(cat "$TMP/res-single") C=$(cat "$TMP/res-cluster")
echo
echo "Punchcard bench, single Redis vs Redis Cluster, $(date -u +%Y-%m-%dT%H:%MZ), commit $COMMIT"
echo "$NCPU cores, Linux $(uname -r); punchd --workers $WORKERS; wrk -t$THREADS -c$CONNS -d$DURATION (warm-up $WARMUP), bench/orders.lua over $MEMBERS members"
echo
echo "| Redis | events/s | p50 ms | p99 ms | max ms | non-2xx | punchd CPU us/ev | Redis CPU us/ev (all masters) | load besides punchd and Redis, wrk included (cores) |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
row() {
	printf '| %s | %.0f | %.2f | %.2f | %.2f | %s | %.0f | %.1f | %.2f |\n' "$1" "$(field rps "$2")" \
		"$(field p50_ms "$2")" "$(field p99_ms "$2")" "$(field max_ms "$2")" "$(field non2xx "$2")" \
		"$(field srv_us "$2")" "$(field redis_us "$2")" "$(field load "$2")"
}
row "one redis-server" "$S"
row "cluster, 3 masters" "$C"
echo
echo "keys per master after the run:$spread"
awk -v s="$(field redis_us "$S")" -v c="$(field redis_us "$C")" 'BEGIN {
	if (s > 0) printf "Redis CPU per event: one server %.1f us; the cluster %.1f us over 3 masters (%.1f each)\n", s, c, c / 3
	if (s > 0) printf "one Redis core saturates near %.0f events/s; 3 masters on 3 cores near %.0f\n", 1e6 / s, 3 * 1e6 / (c > 0 ? c : s)
}'
if [ -e "$TMP/mismatch" ]; then
	echo "Correctness (balance = ledger sum, sampled members): FAIL"
	cat "$TMP/mismatch"
	exit 1
fi
echo "Correctness (balance = ledger sum, sampled members): PASS"
