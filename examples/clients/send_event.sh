#!/bin/sh
# Sends one order to punchd with curl and prints the answer.
#   examples/clients/send_event.sh [URL] [MEMBER] [ORDER_ID]
# Set PUNCHD_API_KEY when punchd requires a key.
url=${1:-http://127.0.0.1:8080}
member=${2:-ann}
id=${3:-order-$(date +%s%N)}
auth=${PUNCHD_API_KEY:+-H "Authorization: Bearer $PUNCHD_API_KEY"}
# shellcheck disable=SC2086
curl -sS --fail-with-body $auth -H 'Content-Type: application/json' "$url/v1/events" -d "{
  \"id\": \"$id\", \"type\": \"order\", \"member\": \"$member\",
  \"data\": {\"items\": [{\"category\": \"fuel\", \"amount\": 500},
                        {\"category\": \"shop\", \"amount\": 125}]}}"
echo
