#!/usr/bin/env bash
# Punchcard load benchmark: punchd against an evhttp hello-world and redis-benchmark,
# all on this machine, in the same run, on 127.0.0.1 only. See bench/README.md.
#
#   bash bench/run.sh                  (or: make bench)
#   MODE=cluster bash bench/run.sh     the same load on one Redis and on a 3-master Redis
#                                      Cluster, side by side (bench/cluster.sh)
#
# Environment (all optional):
#   DURATION=10s     measured wrk run, per target
#   WARMUP=3s        wrk warm-up before each measured run (not counted in the table)
#   CONNS=50         wrk connections
#   THREADS=1        wrk threads
#   WORKERS=1        punchd --workers; a list ("1 2") measures punchd once per value
#   MEMBERS=10000    distinct members the orders are spread over
#   BATCH=100        also measure POST /v1/events/batch with this many orders per request
#                    (after each punchd's single-event run, same process); 0: skip
#   BATCH_CONNS=8    wrk connections for the batch run
#   REDIS_VIA=unix   how punchd and redis-benchmark reach Redis: unix (socket) or tcp
#   REDIS_AOF=0      0: no persistence at all; 1: appendonly yes, appendfsync everysec
#   BENCH_N=100000   redis-benchmark requests per test
#   PROFILE=0        1: perf record punchd during its (first) measured run, print the top
#   STRICT=0         1: exit non-zero when the project's goal is missed (ratio, p99)
#   WAIT_QUIET=20    wait up to this many seconds for other processes to leave the CPU
#                    (< 0.25 core busy) before measuring; the table shows their load anyway
#   MAX_SECONDS=150  watchdog: the whole script is killed (and cleaned up) after this
#   PUNCHD=build/punchd
#
# Exit status: 0 when the correctness check passes (and, with STRICT=1, the goal is met).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
if [ "${MODE:-}" = cluster ]; then
	exec bash "$BENCH/cluster.sh"
fi
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
MEMBERS=${MEMBERS:-10000}
BATCH=${BATCH:-100}
BATCH_CONNS=${BATCH_CONNS:-8}
REDIS_VIA=${REDIS_VIA:-unix}
REDIS_AOF=${REDIS_AOF:-0}
BENCH_N=${BENCH_N:-100000}
PROFILE=${PROFILE:-0}
STRICT=${STRICT:-0}
MAX_SECONDS=${MAX_SECONDS:-150}
WAIT_QUIET=${WAIT_QUIET:-20}
PUNCHD=${PUNCHD:-$ROOT/build/punchd}
GOAL_RATIO=0.6
GOAL_P99_MS=5

BENCH_NAME=bench
STOP_TRIES=50
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# Seconds in a wrk duration such as 10s, 2m, 500ms is not supported by wrk: s/m/h only.
secs_of() {
	case "$1" in
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}

# ---- tools ---------------------------------------------------------------------------
need_pkgs=""
for t in wrk:wrk redis-server:redis-server redis-cli:redis-tools redis-benchmark:redis-tools \
	cc:gcc pkg-config:pkg-config curl:curl; do
	command -v "${t%%:*}" >/dev/null 2>&1 || need_pkgs="$need_pkgs ${t#*:}"
done
pkg-config --exists libevent 2>/dev/null || need_pkgs="$need_pkgs libevent-dev"
if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null 2>&1; then
	need_pkgs="$need_pkgs linux-perf"
fi
if [ -n "$need_pkgs" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing$need_pkgs"
		apt-get update -q >/dev/null
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			$need_pkgs >/dev/null
	else
		die "missing:$need_pkgs (apt-get install them)"
	fi
fi
[ -x "$PUNCHD" ] || die "$PUNCHD not found: run 'make build' first (or 'make bench')"
PUNCHD=$(realpath "$PUNCHD")
case "$REDIS_VIA" in unix | tcp) ;; *) die "REDIS_VIA must be unix or tcp" ;; esac

# ---- processes and cleanup ---------------------------------------------------------
bench_start

# ---- Redis -------------------------------------------------------------------------
RPORT=$(free_port)
RSOCK=$TMP/redis.sock
if [ "$REDIS_AOF" = 1 ]; then
	persist=(--save '' --appendonly yes --appendfsync everysec)
	persist_desc="appendonly yes, appendfsync everysec, no RDB"
else
	persist=(--save '' --appendonly no)
	persist_desc="no persistence (no RDB, no AOF)"
fi
redis-server --bind 127.0.0.1 --port "$RPORT" --unixsocket "$RSOCK" --unixsocketperm 700 \
	--dir "$TMP" --logfile "$TMP/redis.log" --daemonize no "${persist[@]}" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
if [ "$REDIS_VIA" = unix ]; then
	RCLI=(redis-cli -s "$RSOCK")
	RADDR=$RSOCK
	RBENCH_ADDR=(-s "$RSOCK")
	redis_desc="Unix socket"
else
	RCLI=(redis-cli -h 127.0.0.1 -p "$RPORT")
	RADDR=127.0.0.1:$RPORT
	RBENCH_ADDR=(-h 127.0.0.1 -p "$RPORT")
	redis_desc="TCP 127.0.0.1:$RPORT"
fi
wait_for 100 timeout 2 "${RCLI[@]}" ping || die "redis-server did not start (see $TMP/redis.log)"
log "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on $redis_desc, $persist_desc"

# ---- hello-world -------------------------------------------------------------------
# shellcheck disable=SC2046
cc -O2 -o "$TMP/hello" "$BENCH/hello.c" $(pkg-config --cflags --libs libevent) ||
	die "cannot compile bench/hello.c"
HPORT=$(free_port)
"$TMP/hello" 127.0.0.1 "$HPORT" 2>"$TMP/hello.log" &
HELLO_PID=$!
PIDS+=("$HELLO_PID")
wait_for 50 curl -sf --max-time 1 "http://127.0.0.1:$HPORT/" || die "hello did not start"

# CPU time (user + system, clock ticks, all threads) a process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The machine's busy and total clock ticks, over all cores.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)

# Runs wrk with orders.lua against the server $4; writes its RESULT line's key=value
# fields to $TMP/res-$1, plus the CPU that the server, Redis and wrk spent per request
# (microseconds) and the cores that other processes of the machine kept busy meanwhile.
# $1 label, $2 url, $3 duration, $4 server pid; $5 orders per request (0: POST /v1/events,
# N: POST /v1/events/batch), $6 connections (default CONNS). Rates and counts are per event.
run_wrk() {
	local label=$1 url=$2 dur=$3 spid=$4 per=${5:-0} conns=${6:-$CONNS} out=$TMP/wrk-$1.txt res
	local limit=$(($(secs_of "$dur") + 30))
	local s0 r0 w0 m0 s1 r1 w1 m1 n me=$BASHPID
	# wrk's CPU: what this shell's waited-for children used (cutime + cstime).
	s0=$(cpu_ticks "$spid") r0=$(cpu_ticks "$REDIS_PID") w0=$(awk '{ print $16 + $17 }' "/proc/$me/stat")
	m0=$(machine_ticks)
	LABEL=$label NONCE=$NONCE-$label MEMBERS=$MEMBERS BATCH=$per timeout "$limit" \
		wrk -t"$THREADS" -c"$conns" -d"$dur" --timeout 5s --latency -s "$BENCH/orders.lua" "$url" \
		>"$out" 2>&1 &
	bg_wait $! || die "wrk $label failed: $(tail -3 "$out")"
	m1=$(machine_ticks)
	s1=$(cpu_ticks "$spid") r1=$(cpu_ticks "$REDIS_PID") w1=$(awk '{ print $16 + $17 }' "/proc/$me/stat")
	grep -m1 "^$label: " "$out" | sed 's/^/[bench]   /' >&2
	res=$(grep -m1 '^RESULT ' "$out" | sed 's/^RESULT //') ||
		die "wrk $label printed no RESULT: $(tail -3 "$out")"
	n=$(field requests "$res")
	awk -v res="$res" -v n="$n" -v hz="$HZ" -v ncpu="$NCPU" -v s=$((s1 - s0)) -v r=$((r1 - r0)) \
		-v w=$((w1 - w0)) -v m0="$m0" -v m1="$m1" 'BEGIN {
		split(m0, a, " "); split(m1, b, " ")
		busy = b[1] - a[1]; total = b[2] - a[2]
		other = (total > 0 ? (busy - s - r - w) / (total / ncpu) : 0)
		if (other < 0) other = 0
		if (n < 1) n = 1
		printf "%s srv_us=%.1f redis_us=%.1f wrk_us=%.1f other_cores=%.2f\n", res,
			s * 1e6 / hz / n, r * 1e6 / hz / n, w * 1e6 / hz / n, other }' >"$TMP/res-$label"
}

# Cores kept busy by the machine over one second (before our load starts: others').
busy_cores() {
	local a b
	a=$(machine_ticks)
	sleep 1
	b=$(machine_ticks)
	awk -v a="$a" -v b="$b" -v n="$NCPU" 'BEGIN { split(a, x, " "); split(b, y, " ")
		t = y[2] - x[2]; printf "%.2f", (t > 0 ? (y[1] - x[1]) * n / t : 0) }'
}
waited=0
while :; do
	busy=$(busy_cores)
	awk -v b="$busy" 'BEGIN { exit !(b < 0.25) }' && break
	if [ "$waited" -ge "$WAIT_QUIET" ]; then
		log "warning: other processes keep $busy cores busy; figures will be low and noisy"
		break
	fi
	[ "$waited" = 0 ] && log "other processes keep $busy cores busy: waiting up to ${WAIT_QUIET}s for quiet"
	waited=$((waited + 1))
done

NONCE=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
log "run nonce $NONCE; wrk -t$THREADS -c$CONNS -d$DURATION (warm-up $WARMUP) over $MEMBERS members"

log "hello-world: warm-up"
run_wrk hello-warm "http://127.0.0.1:$HPORT/v1/events" "$WARMUP" "$HELLO_PID"
log "hello-world: measuring"
run_wrk hello "http://127.0.0.1:$HPORT/v1/events" "$DURATION" "$HELLO_PID"
HELLO=$(cat "$TMP/res-hello")
stop_pid "$HELLO_PID"

# Summarises $TMP/perf.data: CPU by library, the top functions (self), and the share
# (inclusive) of punchd's main stages.
profile_report() {
	local rep=(perf report -i "$TMP/perf.data" --stdio -g none)
	[ -s "$TMP/perf.data" ] || return 1
	echo "perf (punchd --workers $1, ~3 s of the measured run, dwarf stacks): CPU of punchd by library"
	"${rep[@]}" --no-children --sort dso | grep '%' | grep -v '^#' | head -10 | sed 's/ *$//'
	echo "top functions (self time):"
	"${rep[@]}" --no-children --sort dso,symbol | grep '%' | grep -v '^#' | head -15 | sed 's/ *$//'
	echo "punchd's own functions, inclusive time (they nest):"
	"${rep[@]}" --children --sort dso,symbol | grep '%' | grep -v '^#' | awk '$3 == "punchd"' |
		awk '!seen[$5]++ { printf "  %-8s %s\n", $1, $5 }' | head -22
	echo "library entry points, inclusive time:"
	"${rep[@]}" --children --sort symbol | grep '%' | grep -v '^#' |
		grep -wE 'json_loadb|json_dumps|json_pack|json_decref|lua_pcallk|redisAsyncCommandArgv|redisFormatSdsCommandArgv|redisGetReply|evhttp_send_reply|evhttp_parse_headers_|__GI___writev|__GI___libc_read|__GI_epoll_ctl|epoll_wait|malloc|__GI___libc_malloc|__GI___libc_free|__vsnprintf_internal' |
		awk '!seen[$4]++ { printf "  %-8s %s\n", $1, $4 }'
}

# ---- punchd ------------------------------------------------------------------------
declare -A P_RES P_OK P_SENT P_NS B_RES
PROFILE_TXT=""
first=1
for w in $WORKERS; do
	ns=bench$NONCE-w$w
	PPORT=$(free_port)
	"$PUNCHD" --listen "127.0.0.1:$PPORT" --redis "$RADDR" --scripts "$ROOT/scripts" \
		--namespace "$ns" --workers "$w" --log-level warn 2>"$TMP/punchd-w$w.log" &
	PUNCHD_PID=$!
	PIDS+=("$PUNCHD_PID")
	wait_for 100 curl -sf --max-time 1 "http://127.0.0.1:$PPORT/healthz" ||
		die "punchd did not become ready: $(tail -5 "$TMP/punchd-w$w.log")"
	url="http://127.0.0.1:$PPORT/v1/events"
	log "punchd --workers $w: warm-up (namespace $ns)"
	run_wrk "punchd-w$w-warm" "$url" "$WARMUP" "$PUNCHD_PID"
	warm=$(cat "$TMP/res-punchd-w$w-warm")
	log "punchd --workers $w: measuring"
	if [ "$PROFILE" = 1 ] && [ "$first" = 1 ]; then
		# Starts a second into the run, for at most 3 s (dwarf stacks are large).
		psecs=$(($(secs_of "$DURATION") - 2))
		[ "$psecs" -gt 3 ] && psecs=3
		[ "$psecs" -lt 1 ] && psecs=1
		(sleep 1 && exec timeout 30 perf record -F 499 --call-graph dwarf,8192 -p "$PUNCHD_PID" \
			-o "$TMP/perf.data" -- sleep "$psecs") >"$TMP/perf-record.log" 2>&1 &
		PERF_PID=$!
		PIDS+=("$PERF_PID")
	fi
	run_wrk "punchd-w$w" "$url" "$DURATION" "$PUNCHD_PID"
	res=$(cat "$TMP/res-punchd-w$w")
	bsent=0 bok=0
	if [ "$BATCH" -gt 0 ]; then
		log "punchd --workers $w: measuring POST /v1/events/batch, $BATCH orders each, -c$BATCH_CONNS"
		run_wrk "punchd-w$w-batch" "$url" "$DURATION" "$PUNCHD_PID" "$BATCH" "$BATCH_CONNS"
		B_RES[$w]=$(cat "$TMP/res-punchd-w$w-batch")
		bsent=$(field sent "${B_RES[$w]}") bok=$(field ok "${B_RES[$w]}")
	fi
	if [ "$PROFILE" = 1 ] && [ "$first" = 1 ]; then
		wait "$PERF_PID" 2>/dev/null || true
		PROFILE_TXT=$TMP/perf-report.txt
		profile_report "$w" >"$PROFILE_TXT" 2>/dev/null || true
	fi
	first=0
	P_RES[$w]=$res
	P_OK[$w]=$(($(field ok "$warm") + $(field ok "$res") + bok))
	P_SENT[$w]=$(($(field sent "$warm") + $(field sent "$res") + bsent))
	P_NS[$w]=$ns
	stop_pid "$PUNCHD_PID"
done

# ---- redis-benchmark ---------------------------------------------------------------
log "redis-benchmark -q -n $BENCH_N -P 1 -c $CONNS -t set,get"
timeout 120 redis-benchmark "${RBENCH_ADDR[@]}" -q -n "$BENCH_N" -P 1 -c "$CONNS" -t set,get \
	>"$TMP/rb.txt" 2>&1 &
bg_wait $! || die "redis-benchmark failed: $(tail -3 "$TMP/rb.txt")"
rb_of() { tr '\r' '\n' <"$TMP/rb.txt" | sed -n "s/^$1: \\([0-9.]*\\) requests per second.*/\\1/p" | tail -1; }
RB_SET=$(rb_of SET)
RB_GET=$(rb_of GET)

# ---- correctness ----------------------------------------------------------------------
# For sampled members: every balance b:<cur> in the state hash equals the sum of the
# ledger's deltas in <cur> (XRANGE through redis-cli). For the whole run: the events
# applied (sum of the members' order counters) lie between the 2xx answers and the
# requests sent, there is one ledger entry per event, and the stars are 86 per event
# (500 fuel -> 50, 125 shop -> 36).
check_member() {
	local ns=$1 m=$2 state ledger cur bal sum ok=0
	state=$("${RCLI[@]}" --raw hgetall "$ns:{$m}:state" 2>/dev/null)
	ledger=$("${RCLI[@]}" --raw xrange "$ns:{$m}:ledger" - + 2>/dev/null)
	# state: field, value lines; keep b:<cur> value pairs
	while read -r cur bal; do
		sum=$(awk -v want="$cur" 'prev == "currency" { c = $0 } prev == "delta" && c == want { s += $0 }
			{ prev = $0 } END { print s + 0 }' <<<"$ledger")
		if [ "$sum" != "$bal" ]; then
			printf '  %s %s: balance %s, ledger sum %s  MISMATCH\n' "$m" "$cur" "$bal" "$sum"
			ok=1
		else
			printf '  %s %s: balance %s = ledger sum %s (%s entries)\n' "$m" "$cur" "$bal" "$sum" \
				"$(grep -cx delta <<<"$ledger")"
		fi
	done < <(paste - - <<<"$state" | awk -F'\t' '$1 ~ /^b:/ { sub(/^b:/, "", $1); print $1, $2 }')
	return $ok
}
# One server-side pass over all members: events, stars, ledger entries.
TOTALS_LUA='local n, ev, st, le = tonumber(ARGV[2]), 0, 0, 0
for i = 0, n - 1 do
  local k = ARGV[1] .. ":{bm" .. i .. "}:"
  ev = ev + tonumber(redis.call("HGET", k .. "state", "c:orders") or "0")
  st = st + tonumber(redis.call("HGET", k .. "state", "b:stars") or "0")
  le = le + redis.call("XLEN", k .. "ledger")
end
return {ev, st, le}'

CHECK=PASS
CHECK_LINES=$TMP/check.txt
: >"$CHECK_LINES"
for w in $WORKERS; do
	ns=${P_NS[$w]}
	{
		echo "punchd --workers $w (namespace $ns):"
		for m in bm0 bm1 "bm$((MEMBERS / 2))" "bm$((MEMBERS - 1))" "bm$((RANDOM % MEMBERS))"; do
			check_member "$ns" "$m" || echo FAIL >"$TMP/check-failed"
		done
	} >>"$CHECK_LINES"
	mapfile -t tot < <(timeout 30 "${RCLI[@]}" --raw eval "$TOTALS_LUA" 0 "$ns" "$MEMBERS")
	ok=${P_OK[$w]}
	sent=${P_SENT[$w]}
	ev=${tot[0]:-x} st=${tot[1]:-x} le=${tot[2]:-x}
	# wrk stops with up to CONNS requests in flight, which punchd may still apply: the
	# events applied must lie between the 2xx answers and the requests sent.
	line="  all $MEMBERS members: $ev events applied, $le ledger entries, $st stars; $ok 2xx of $sent sent"
	if [ "$ev" != x ] && [ "$ev" -ge "$ok" ] && [ "$ev" -le "$sent" ] && [ "$le" = "$ev" ] &&
		[ "$st" = "$((86 * ev))" ]; then
		echo "$line: consistent" >>"$CHECK_LINES"
	else
		echo "$line: MISMATCH" >>"$CHECK_LINES"
		echo FAIL >"$TMP/check-failed"
	fi
done
[ -e "$TMP/check-failed" ] && CHECK=FAIL

# ---- report ------------------------------------------------------------------------
h_rps=$(field rps "$HELLO")
echo
echo "Punchcard bench $(date -u +%Y-%m-%dT%H:%MZ), commit $COMMIT"
echo "$NCPU cores, Linux $(uname -r); wrk -t$THREADS -c$CONNS -d$DURATION (warm-up $WARMUP), bench/orders.lua over $MEMBERS members"
echo "Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') via $REDIS_VIA, $persist_desc"
echo
echo "| target | events/s | p50 ms | p99 ms | max ms | non-2xx | x hello | server CPU us/ev | Redis CPU us/ev | wrk CPU us/ev | others' load (cores) |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
row() {
	printf '| %s | %.0f | %.2f | %.2f | %.2f | %s | %s | %.0f | %.0f | %.0f | %.2f |\n' "$1" \
		"$(field rps "$2")" "$(field p50_ms "$2")" "$(field p99_ms "$2")" "$(field max_ms "$2")" \
		"$(field non2xx "$2")" "$3" "$(field srv_us "$2")" "$(field redis_us "$2")" \
		"$(field wrk_us "$2")" "$(field other_cores "$2")"
}
row "hello-world (evhttp, 1 loop)" "$HELLO" "1.00"
GOAL=met
BATCH_LINES=()
for w in $WORKERS; do
	r=${P_RES[$w]}
	ratio=$(awk -v a="$(field rps "$r")" -v b="$h_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	row "punchd --workers $w" "$r" "$ratio"
	awk -v r="$ratio" -v g=$GOAL_RATIO -v p="$(field p99_ms "$r")" -v gp=$GOAL_P99_MS \
		'BEGIN { exit !(r >= g && p <= gp) }' || GOAL=missed
	if [ -n "${B_RES[$w]:-}" ]; then
		b=${B_RES[$w]}
		bratio=$(awk -v a="$(field rps "$b")" -v b="$h_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
		BATCH_LINES+=("punchd --workers $w: batch of $BATCH (-c$BATCH_CONNS) $(awk -v a="$(field rps "$b")" \
			-v s="$(field rps "$r")" 'BEGIN { printf "%.2f", (s > 0 ? a / s : 0) }')x its single-event rate")
		row "punchd --workers $w, batch of $BATCH (-c$BATCH_CONNS; latency per request)" "$b" "$bratio"
	fi
done
printf '| redis-benchmark SET (-c %s -P 1) | %.0f | | | | | | | | | |\n' "$CONNS" "$RB_SET"
printf '| redis-benchmark GET (-c %s -P 1) | %.0f | | | | | | | | | |\n' "$CONNS" "$RB_GET"
echo
echo "Goal: punchd >= ${GOAL_RATIO}x hello-world events/s and p99 <= ${GOAL_P99_MS} ms at $CONNS connections: $GOAL"
for l in "${BATCH_LINES[@]}"; do echo "$l (goal >= 3x)"; done
echo
echo "Correctness (balance = sum of ledger deltas; 2xx <= events applied <= sent): $CHECK"
cat "$CHECK_LINES"
if [ -n "$PROFILE_TXT" ] && [ -s "$PROFILE_TXT" ]; then
	echo
	cat "$PROFILE_TXT"
fi
[ "$CHECK" = PASS ] || exit 1
if [ "$STRICT" = 1 ] && [ "$GOAL" != met ]; then exit 1; fi
exit 0
