"""A minimal Punchcard client in Python (standard library only).

    python3 examples/clients/client.py [URL]

Retries an event with the same id on 503 or a lost connection: punchd applies an
id once, so a retry can never double-count.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request


class Punchcard:
    def __init__(self, url="http://127.0.0.1:8080", api_key=None):
        self.url = url.rstrip("/")
        self.api_key = api_key or os.environ.get("PUNCHD_API_KEY")

    def _call(self, method, path, body=None):
        req = urllib.request.Request(self.url + path, method=method)
        req.add_header("Content-Type", "application/json")
        if self.api_key:
            req.add_header("Authorization", "Bearer " + self.api_key)
        data = json.dumps(body).encode() if body is not None else None
        try:
            with urllib.request.urlopen(req, data, timeout=5) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def send(self, event, attempts=5):
        for i in range(attempts):
            try:
                status, body = self._call("POST", "/v1/events", event)
            except (urllib.error.URLError, TimeoutError):
                status, body = 503, None
            if status != 503:
                return status, body
            time.sleep(0.1 * 2 ** i)
        return status, body

    def member(self, member):
        return self._call("GET", "/v1/members/" + member)


if __name__ == "__main__":
    pc = Punchcard(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080")
    event = {"id": "py-%d" % time.time_ns(), "type": "order", "member": "ann",
             "data": {"items": [{"category": "fuel", "amount": 500}]}}
    print(pc.send(event))
    print(pc.member("ann"))
