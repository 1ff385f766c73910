# Shared by bench/run.sh and bench/callgrind.sh (sourced, not run). The caller sets
# BENCH_NAME (log prefix), ROOT, PUNCHD, MAX_SECONDS and STOP_TRIES (tenths of a second a
# stopped process gets before SIGKILL), then calls bench_start.

log() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }
die() {
	printf '[%s] error: %s\n' "$BENCH_NAME" "$*" >&2
	exit 2
}

# The temp dir (the run's cwd, removed at exit), cleanup of every process started (PIDS, and
# background steps noted by bg_wait), the commit measured, a private copy of punchd, and a
# watchdog that stops the run after MAX_SECONDS.
bench_start() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/punch-$BENCH_NAME.XXXXXX")
	cd "$TMP" # nothing the run writes can land in the work tree
	PIDS=()
	WATCHDOG=""
	trap bench_cleanup EXIT
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
		printf '[%s] error: watchdog: over %ss, stopping\n' "$BENCH_NAME" "$MAX_SECONDS" >&2
		kill -TERM $$
	) </dev/null >/dev/null &
	WATCHDOG=$!
}

bench_cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null || true
	# Steps running in the background (wrk under timeout, redis-benchmark): see bg_wait.
	if [ -s "$TMP/pids" ]; then
		while read -r p; do kill -TERM "$p" 2>/dev/null || true; done <"$TMP/pids"
	fi
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq "$STOP_TRIES"); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
	exit "$rc"
}

# Stops one process we started and forgets it.
stop_pid() {
	local p=$1 q keep=()
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq "$STOP_TRIES"); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
	PIDS=("${keep[@]}")
}

# Long steps run in the background and are waited for with bg_wait: bash runs a signal's
# trap only once a foreground command ends, but it interrupts `wait` at once, so Ctrl-C or
# the watchdog stops the run right away. Their pids are noted for cleanup.
bg_wait() {
	echo "$1" >>"$TMP/pids"
	wait "$1"
}

# A TCP port on 127.0.0.1 that no socket uses.
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

# Waits until a command succeeds, at most $1 tenths of a second.
wait_for() {
	local tenths=$1
	shift
	for _ in $(seq "$tenths"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# The value of key=value in a line of wrk's RESULT output.
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
