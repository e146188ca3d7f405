#!/usr/bin/env python3
"""A real SMTP server for Lethe's tests that records every message it accepts.

    python3 scripts/smtp_recorder.py --host 127.0.0.1 --port 2525 --dir /tmp/outbox

Each accepted message becomes one file ``DIR/<unix-nanos>-<n>.eml`` holding the
raw DATA exactly as received (dot-unstuffed, CRLF line ends kept), preceded by
one extra header line listing the envelope recipients:

    X-Recorded-Rcpt: a@example.test, b@example.test

Files are written to a hidden temporary name, fsynced and then renamed, so a
reader that globs ``*.eml`` never sees a half-written message. The server only
answers 250 to DATA after the file is in place: what the client was told is
delivered is on disk.

Any AUTH (PLAIN/LOGIN) is accepted without TLS, so the application can be
configured with SMTP credentials. With ``--xoauth2 URL`` the server instead
requires AUTH XOAUTH2 (as Microsoft 365 and Google do) and checks each bearer
token at the OAuth2 introspection endpoint URL (scripts/oauth_provider.py); the
signed-in user is then recorded in an ``X-Recorded-Auth`` header line. Credentials and message contents are never
printed. On start it prints exactly one line, ``READY <host>:<port>``, once the
socket listens (useful with ``--port 0``). It runs until SIGTERM/SIGINT.
Rust tests start and stop it themselves to simulate an SMTP outage.

With ``--stall-first-data SECONDS`` the first DATA command of the server's life
waits that long before its 354 answer, after creating the file ``DIR/stalled``:
a client is then mid-send (connected, sender and recipients given, the message
not yet transferred), so a test can kill it there (tests/api/three_nodes.rs).
Later DATA commands are answered at once.
"""

import argparse
import asyncio
import base64
import binascii
import json
import itertools
import logging
import os
import signal
import sys
import time
import urllib.parse
import urllib.request

from aiosmtpd.smtp import SMTP, AuthResult


class Recorder:
    """aiosmtpd handler: writes each message atomically into one directory."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope) -> str:
        rcpts = ", ".join(envelope.rcpt_tos)
        header = f"X-Recorded-Rcpt: {rcpts}\r\n".encode("utf-8")
        if isinstance(session.auth_data, XOAuth2Login):
            header += f"X-Recorded-Auth: {session.auth_data.user}\r\n".encode("utf-8")
        name = f"{time.time_ns()}-{next(self.counter)}.eml"
        final = os.path.join(self.directory, name)
        tmp = os.path.join(self.directory, f".{name}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(header)
                f.write(envelope.original_content)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, final)
        except OSError as e:
            # Tell the client to retry later rather than pretending success.
            print(f"smtp_recorder: cannot store message: {e.strerror}", file=sys.stderr, flush=True)
            return "451 Requested action aborted: local error in processing"
        return "250 OK"


class XOAuth2Login:
    def __init__(self, user: str) -> None:
        self.user = user
        self.login = user.encode("utf-8")


class XOAuth2Recorder(Recorder):
    """Requires AUTH XOAUTH2 with a token the introspection endpoint calls active for the
    user named in it (RFC 7662)."""

    def __init__(self, directory: str, introspect: str) -> None:
        super().__init__(directory)
        self.introspect = introspect

    def token_user(self, token: str):
        body = urllib.parse.urlencode({"token": token}).encode()
        req = urllib.request.Request(self.introspect, body, {"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(req, timeout=10) as answer:
            info = json.load(answer)
        return info.get("username") if info.get("active") else None

    async def auth_XOAUTH2(self, server, args):
        if len(args) > 1:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(success=False, handled=False)
        else:
            blob = await server.challenge_auth("", encode_to_b64=False)
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        fields = dict(
            part.split("=", 1) for part in blob.decode("utf-8", "replace").split("\x01") if "=" in part
        )
        user = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        loop = asyncio.get_running_loop()
        owner = await loop.run_in_executor(None, self.token_user, token)
        if owner is None or owner.lower() != user.lower():
            return AuthResult(success=False, handled=False, message="535 5.7.3 Authentication unsuccessful")
        return AuthResult(success=True, auth_data=XOAuth2Login(user))


def accept_any_auth(server, session, envelope, mechanism, auth_data) -> AuthResult:
    # Tests only care that the client can authenticate; the secret is not checked or kept.
    return AuthResult(success=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="0 picks a free port (printed on READY)")
    p.add_argument("--dir", required=True, help="directory that receives the .eml files")
    p.add_argument(
        "--max-line-length",
        type=int,
        default=SMTP.line_length_limit,
        help="longest accepted DATA line in bytes incl. CRLF (default: RFC 5321's %(default)s)",
    )
    p.add_argument(
        "--stall-first-data",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="hold the first DATA command this long before answering 354 (creates DIR/stalled)",
    )
    p.add_argument(
        "--xoauth2",
        metavar="INTROSPECTION_URL",
        help="require AUTH XOAUTH2 and check tokens at this OAuth2 introspection endpoint",
    )
    return p.parse_args()


async def serve(args: argparse.Namespace) -> None:
    os.makedirs(args.dir, exist_ok=True)
    directory = os.path.abspath(args.dir)
    handler = XOAuth2Recorder(directory, args.xoauth2) if args.xoauth2 else Recorder(directory)

    stall = {"left": args.stall_first_data > 0}

    class RecorderSMTP(SMTP):
        line_length_limit = args.max_line_length

        async def smtp_DATA(self, arg):
            if stall["left"] and self.envelope.rcpt_tos:
                stall["left"] = False
                with open(os.path.join(directory, "stalled"), "w"):
                    pass
                # A client that goes away meanwhile ends this session (aiosmtpd cancels it).
                await asyncio.sleep(args.stall_first_data)
            return await super().smtp_DATA(arg)

    def factory() -> SMTP:
        return RecorderSMTP(
            handler,
            hostname="smtp-recorder.test",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=accept_any_auth,
            # With --xoauth2 only XOAUTH2 is offered, and mail needs a signed-in client.
            auth_exclude_mechanism=["PLAIN", "LOGIN"] if args.xoauth2 else None,
            auth_required=bool(args.xoauth2),
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host=args.host, port=args.port, reuse_address=True)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"READY {host}:{port}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> None:
    # aiosmtpd logs peer addresses and commands (recipient addresses) at INFO level:
    # keep only real errors.
    logging.basicConfig(level=logging.ERROR)
    args = parse_args()
    try:
        asyncio.run(serve(args))
    except OSError as e:
        print(f"smtp_recorder: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
