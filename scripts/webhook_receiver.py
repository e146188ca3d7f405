#!/usr/bin/env python3
"""A webhook receiver for Lethe's tests that verifies every delivery with the
``standardwebhooks`` package (PyPI) -- a real peer, not Lethe's own code.

    python3 scripts/webhook_receiver.py --host 127.0.0.1 --port 0 \
        --secrets SECRETS_FILE --out DELIVERIES.jsonl

``SECRETS_FILE`` holds the endpoint secrets (``whsec_...``), one a line; it is read
again for every request, so a test can write it after the endpoint is created (or
rotated). Each POST becomes one JSON line in ``--out``: the headers Standard
Webhooks defines, the body (as text), ``verified`` (whether the package accepted
it with any of the secrets), ``verified_by`` (for each secret, whether it alone
verifies) and ``error``. The line is written and fsynced before the answer, so
what Lethe was told is received is on disk. The answer is 200 ``ok`` for a
verified delivery and 400 otherwise (``--status`` overrides it). On start it
prints exactly one line, ``READY <host>:<port>``. It runs until SIGTERM/SIGINT.
"""

import argparse
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()


def read_secrets(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def make_handler(args):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {
                "webhook-id": self.headers.get("webhook-id"),
                "webhook-timestamp": self.headers.get("webhook-timestamp"),
                "webhook-signature": self.headers.get("webhook-signature"),
            }
            present = {k: v for k, v in headers.items() if v is not None}
            secrets = read_secrets(args.secrets)
            verified_by = []
            error = None
            for secret in secrets:
                try:
                    Webhook(secret).verify(body, present)
                    verified_by.append(True)
                except (WebhookVerificationError, ValueError) as e:
                    verified_by.append(False)
                    error = str(e)
            verified = any(verified_by)
            if not secrets:
                error = "no secret configured"
            record = {
                "path": self.path,
                "headers": headers,
                "content_type": self.headers.get("Content-Type"),
                "body": body.decode("utf-8", errors="replace"),
                "verified": verified,
                "verified_by": verified_by,
                "error": None if verified else error,
            }
            with LOCK:
                with open(args.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            status = args.status or (200 if verified else 400)
            reply = (args.reply if verified else "signature refused").encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secrets", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--status", type=int, default=0)
    parser.add_argument("--reply", default="ok")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args))
    server.daemon_threads = True

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print(f"READY {host}:{port}", flush=True)
    server.serve_forever()
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
