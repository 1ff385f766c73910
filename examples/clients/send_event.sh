#!/bin/sh
# Send one event to punchd with curl, safely retried.
#   PUNCHD_URL=http://127.0.0.1:8080 examples/clients/send_event.sh '{"type": "order", "member": "ann"}'
# An event without "id" gets one here, before the first try, so every retry carries the same
# id and punchd applies it once. Retried, with exponential backoff: 503 (Redis unavailable:
# the outcome is unknown), 409 (the member changed under the event too often), 429 (rate
# limited) and connection errors. Prints punchd's answer (JSON) on stdout.
# Exit status: 0 on 2xx, 1 on an HTTP error, 2 on bad usage, 3 when punchd cannot be reached.
# Environment: PUNCHD_URL, PUNCHD_API_KEY, PUNCH_RETRIES (default 8 tries). Needs curl.
set -u
[ $# -eq 1 ] || {
	echo "usage: send_event.sh EVENT_JSON" >&2
	exit 2
}
url=${PUNCHD_URL:-http://127.0.0.1:8080}
tries=${PUNCH_RETRIES:-8}
event=$1
# No "id": add one (the event is an object, so it starts with "{").
case $event in
*'"id"'*) ;;
*) event="{\"id\": \"sh-$(date +%s%N)-$$\", ${event#*\{}" ;;
esac
body=$(mktemp "${TMPDIR:-/tmp}/send_event.XXXXXX") || exit 2
trap 'rm -f "$body"' EXIT
attempt=0
wait_ms=100
while :; do
	if [ -n "${PUNCHD_API_KEY:-}" ]; then
		status=$(curl -sS -o "$body" -w '%{http_code}' --max-time 10 -X POST \
			-H 'Content-Type: application/json' -H "Authorization: Bearer $PUNCHD_API_KEY" \
			--data-binary "$event" "$url/v1/events" 2>"$body.err")
	else
		status=$(curl -sS -o "$body" -w '%{http_code}' --max-time 10 -X POST \
			-H 'Content-Type: application/json' --data-binary "$event" "$url/v1/events" 2>"$body.err")
	fi
	case $status in
	409 | 429 | 503 | 000) ;;
	*) break ;;
	esac
	attempt=$((attempt + 1))
	[ "$attempt" -ge "$tries" ] && break
	sleep "$(awk "BEGIN { print $wait_ms / 1000 }")"
	[ "$wait_ms" -lt 5000 ] && wait_ms=$((wait_ms * 2))
done
if [ "$status" = 000 ]; then
	echo "send_event.sh: punchd unreachable: $(cat "$body.err")" >&2
	rm -f "$body.err"
	exit 3
fi
rm -f "$body.err"
cat "$body"
case $status in
2??) exit 0 ;;
*)
	echo "send_event.sh: HTTP $status" >&2
	exit 1
	;;
esac
