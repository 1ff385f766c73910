#!/usr/bin/env python3
"""Send one event to punchd, safely retried (Python 3, standard library only).

    PUNCHD_URL=http://127.0.0.1:8080 python3 examples/clients/client.py '{"type": "order", "member": "ann"}'

An event without "id" gets one here, before the first try, so every retry carries the same id
and punchd applies it once. Retried, with exponential backoff: 503 (Redis unavailable: the
outcome is unknown), 409 (the member changed under the event too often), 429 (rate limited:
waits Retry-After) and connection errors. Prints punchd's answer (JSON) on stdout.
Exit status: 0 on 2xx, 1 on an HTTP error, 2 on bad usage, 3 when punchd cannot be reached.
Environment: PUNCHD_URL, PUNCHD_API_KEY, PUNCH_RETRIES (default 8 tries).
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

RETRIED = {409, 429, 503}


def send(url, event, api_key=None, tries=8):
    """POSTs event to url/v1/events; returns (status, body text), status 0 when unreachable."""
    data = json.dumps(event).encode()
    status, text = 0, ""
    for attempt in range(tries):
        req = urllib.request.Request(url.rstrip("/") + "/v1/events", data=data, method="POST")
        req.add_header("Content-Type", "application/json")
        if api_key:
            req.add_header("Authorization", "Bearer " + api_key)
        wait = 0.1 * 2 ** attempt
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
            if status not in RETRIED:
                return status, text
            if status == 429 and e.headers.get("Retry-After", "").isdigit():
                wait = max(wait, int(e.headers["Retry-After"]))
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            status, text = 0, str(getattr(e, "reason", e))
        if attempt + 1 < tries:
            time.sleep(min(wait, 5.0))
    return status, text


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        event = json.loads(sys.argv[1])
    except ValueError as e:
        print("client.py: the event is not JSON: %s" % e, file=sys.stderr)
        return 2
    event.setdefault("id", "py-%d-%d" % (time.time_ns(), os.getpid()))
    status, text = send(os.environ.get("PUNCHD_URL", "http://127.0.0.1:8080"), event,
                        os.environ.get("PUNCHD_API_KEY"),
                        int(os.environ.get("PUNCH_RETRIES", "8")))
    if status == 0:
        print("client.py: punchd unreachable: %s" % text, file=sys.stderr)
        return 3
    print(text.strip())
    if not 200 <= status < 300:
        print("client.py: HTTP %d" % status, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
