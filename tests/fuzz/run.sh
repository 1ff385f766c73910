#!/usr/bin/env bash
# Runs every fuzz target of tests/fuzz/ for a bounded time (make fuzz).
#   tests/fuzz/run.sh BUILD SECONDS PARALLEL [NAME...]
# Each target fuzz_NAME starts from the checked-in seeds tests/fuzz/corpus/NAME/ and keeps
# what it finds in BUILD/fuzz-work/NAME/corpus/ (never in the checked-in corpus), so a
# second run goes on from where the first stopped. PARALLEL targets run at once. A crash,
# a leak, UB, a timeout or a failed check fails the run: the target's log is printed and
# the input that did it is left as BUILD/fuzz-work/NAME/crash-* (rerun it with
# `BUILD/fuzz_NAME FILE`).
set -uo pipefail
cd "$(dirname "$0")/../.."

build=${1:-build-fuzz}
seconds=${2:-30}
parallel=${3:-2}
shift 3 2>/dev/null || shift $#
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for d in tests/fuzz/corpus/*/; do
		targets+=("$(basename "$d")")
	done
fi

run_one() {
	local name=$1 work=$build/fuzz-work/$1
	mkdir -p "$work/corpus"
	"$build/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "tests/fuzz/corpus/$name" \
		>"$work/log" 2>&1
	echo $? >"$work/rc"
}

echo "fuzz: ${targets[*]}: ${seconds} s each, $parallel at a time"
running=0
for name in "${targets[@]}"; do
	rm -f "$build/fuzz-work/$name/rc"
	run_one "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$parallel" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

failed=0
for name in "${targets[@]}"; do
	work=$build/fuzz-work/$name
	rc=$(cat "$work/rc" 2>/dev/null || echo 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$work/log" | tail -1 | sed -E 's/^#[0-9]+[[:space:]]+[A-Z]+[[:space:]]+//')
	if [ "$rc" = 0 ]; then
		printf 'fuzz: %-8s ok    %s runs; %s\n' "$name" "${runs:-?}" "$last"
	else
		failed=1
		printf 'fuzz: %-8s FAILED (exit %s); log %s:\n' "$name" "$rc" "$work/log"
		grep -vE '^#[0-9]+' "$work/log" | tail -60
		ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null
	fi
done
exit $failed
