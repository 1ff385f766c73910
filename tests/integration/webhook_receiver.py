#!/usr/bin/env python3
"""A webhook receiver for the integration tests (test_webhooks.c).

    webhook_receiver.py PORT PORT_FILE LOG_FILE [STATUS_FILE]

Serves HTTP on 127.0.0.1:PORT (0: any free port, written to PORT_FILE once
listening). Every POST is appended to LOG_FILE as one JSON line: its path, the
three Standard Webhooks headers and the body, exactly as received (the test
checks the signatures itself). It answers the status written in STATUS_FILE
(200 when the file is absent), so a test can make it refuse; "hold" in it
keeps the request open (logged with status "hold") until the file says
otherwise, so a test can kill the sender mid-delivery.
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, port_file, log_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
status_file = sys.argv[4] if len(sys.argv) > 4 else None


def read_status():
    if status_file and os.path.exists(status_file):
        with open(status_file) as f:
            text = f.read().strip()
        return text if text == "hold" else int(text or "200")
    return 200


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8")
        status = read_status()
        rec = {
            "path": self.path,
            "id": self.headers.get("webhook-id"),
            "timestamp": self.headers.get("webhook-timestamp"),
            "signature": self.headers.get("webhook-signature"),
            "status": status,
            "body": body,
        }
        with open(log_file, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
        deadline = time.time() + 20
        while status == "hold" and time.time() < deadline:
            time.sleep(0.05)
            status = read_status()
        if status == "hold":
            status = 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
tmp = port_file + ".tmp"
with open(tmp, "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(tmp, port_file)
server.serve_forever()
