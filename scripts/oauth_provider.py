#!/usr/bin/env python3
"""A small OAuth2 authorization server for Lethe's tests, standing in for Microsoft Entra
and Google (which cannot run here). It speaks the parts of RFC 6749, RFC 7636 (PKCE) and
RFC 7662 (introspection) that a mail client meets:

    python3 scripts/oauth_provider.py --port 0      # prints "READY 127.0.0.1:<port>"

  GET  /authorize     the sign-in page (a user name and Allow / Deny buttons)
  POST /authorize     redirects to redirect_uri with ?code=&state= (or ?error=access_denied)
  POST /token         grant_type=authorization_code (PKCE S256 checked) or refresh_token;
                      client_id + client_secret in the form; RFC 6749 errors as JSON
  POST /introspect    token=<access token> -> {"active": true, "username": ...} (Dovecot's
                      oauth2 passdb and scripts/smtp_recorder.py ask here)

Test controls (JSON bodies):
  POST /admin/clients {"client_id", "client_secret", "access_ttl"}  registers an app
  POST /admin/expire  {"username"}   access tokens stop working (a 401 before their expiry)
  POST /admin/revoke  {"username"}   refresh and access tokens stop working (invalid_grant)
  GET  /admin/stats?client_id=X      {"code_grants": n, "refresh_grants": n}
  GET  /admin/tokens?username=U      every token ever issued to U (to scan storage for them)

Refresh tokens rotate on every refresh, as Microsoft's do. Tokens and codes are never
printed. Runs until SIGTERM/SIGINT.
"""

import argparse
import base64
import hashlib
import html
import json
import secrets
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
CLIENTS = {}  # client_id -> {"secret", "access_ttl", "code_grants", "refresh_grants"}
CODES = {}  # code -> {...}
ACCESS = {}  # token -> {"username", "client_id", "active"}
REFRESH = {}  # token -> {"username", "client_id", "active", "scope"}


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Handler(BaseHTTPRequestHandler):
    server_version = "test-oauth"

    def log_message(self, *args):  # no request lines: they would carry codes
        pass

    # ------------------------------------------------------------------ helpers
    def send(self, status, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def json(self, status, value):
        self.send(status, json.dumps(value))

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def form(self):
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.body().decode("utf-8")).items()}

    def query(self):
        return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).items()}

    def route(self):
        return urllib.parse.urlsplit(self.path).path

    # ------------------------------------------------------------------ GET
    def do_GET(self):
        route = self.route()
        if route == "/authorize":
            return self.authorize_page(self.query())
        if route == "/admin/tokens":
            user = self.query().get("username", "")
            with LOCK:
                tokens = [t for t, e in list(ACCESS.items()) + list(REFRESH.items()) if e["username"] == user]
            return self.json(200, {"tokens": tokens})
        if route == "/admin/stats":
            client = CLIENTS.get(self.query().get("client_id", ""))
            if client is None:
                return self.json(404, {"error": "no such client"})
            return self.json(200, {k: client[k] for k in ("code_grants", "refresh_grants")})
        self.send(404, "not found", "text/plain")

    def authorize_page(self, q):
        client = CLIENTS.get(q.get("client_id", ""))
        problems = []
        if client is None:
            problems.append("unknown client_id")
        if q.get("response_type") != "code":
            problems.append("response_type must be code")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            problems.append("PKCE S256 is required")
        if not q.get("redirect_uri") or not q.get("state"):
            problems.append("redirect_uri and state are required")
        if problems:
            return self.send(400, "<!doctype html><title>Error</title><p id=error>" + html.escape("; ".join(problems)), "text/html")
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in q.items()
            if k in ("client_id", "redirect_uri", "scope", "state", "code_challenge")
        )
        page = f"""<!doctype html><title>Sign in - test provider</title>
<h1>Sign in</h1><p id=scope>{html.escape(q.get("scope", ""))}</p>
<form method=post action=/authorize>{hidden}
<label>User <input id=username name=username value="{html.escape(q.get("login_hint", ""))}"></label>
<button id=allow name=decision value=allow>Allow</button>
<button id=deny name=decision value=deny>Deny</button></form>"""
        self.send(200, page, "text/html")

    # ------------------------------------------------------------------ POST
    def do_POST(self):
        route = self.route()
        if route == "/authorize":
            return self.authorize(self.form())
        if route == "/token":
            return self.token(self.form())
        if route == "/introspect":
            return self.introspect(self.form())
        if route.startswith("/admin/"):
            return self.admin(route, json.loads(self.body() or b"{}"))
        self.send(404, "not found", "text/plain")

    def authorize(self, f):
        redirect = f.get("redirect_uri", "")
        sep = "&" if "?" in redirect else "?"
        state = urllib.parse.quote(f.get("state", ""), safe="")
        if f.get("decision") != "allow":
            return self.send(302, "", "text/plain", [("Location", f"{redirect}{sep}error=access_denied&state={state}")])
        code = secrets.token_urlsafe(24)
        with LOCK:
            CODES[code] = {
                "client_id": f.get("client_id", ""),
                "redirect_uri": redirect,
                "challenge": f.get("code_challenge", ""),
                "username": f.get("username", ""),
                "scope": f.get("scope", ""),
                "expires": time.time() + 300,
            }
        self.send(302, "", "text/plain", [("Location", f"{redirect}{sep}code={code}&state={state}")])

    def grant(self, client_id, username, scope):
        client = CLIENTS[client_id]
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        ACCESS[access] = {"username": username, "client_id": client_id, "active": True}
        REFRESH[refresh] = {"username": username, "client_id": client_id, "active": True, "scope": scope}
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": client["access_ttl"],
            "refresh_token": refresh,
            "scope": scope,
        }

    def token(self, f):
        with LOCK:
            client = CLIENTS.get(f.get("client_id", ""))
            if client is None or f.get("client_secret") != client["secret"]:
                return self.json(401, {"error": "invalid_client"})
            kind = f.get("grant_type")
            if kind == "authorization_code":
                code = CODES.pop(f.get("code", ""), None)
                if (
                    code is None
                    or code["expires"] < time.time()
                    or code["client_id"] != f.get("client_id")
                    or code["redirect_uri"] != f.get("redirect_uri")
                    or challenge_of(f.get("code_verifier", "")) != code["challenge"]
                ):
                    return self.json(400, {"error": "invalid_grant"})
                client["code_grants"] += 1
                return self.json(200, self.grant(code["client_id"], code["username"], code["scope"]))
            if kind == "refresh_token":
                old = REFRESH.get(f.get("refresh_token", ""))
                if old is None or not old["active"] or old["client_id"] != f.get("client_id"):
                    return self.json(400, {"error": "invalid_grant", "error_description": "AADSTS70008: the refresh token was revoked"})
                old["active"] = False  # rotated
                client["refresh_grants"] += 1
                return self.json(200, self.grant(old["client_id"], old["username"], old["scope"]))
            return self.json(400, {"error": "unsupported_grant_type"})

    def introspect(self, f):
        with LOCK:
            entry = ACCESS.get(f.get("token", ""))
            if entry is None or not entry["active"]:
                return self.json(200, {"active": False})
            return self.json(200, {"active": True, "username": entry["username"], "email": entry["username"]})

    def admin(self, route, body):
        with LOCK:
            if route == "/admin/clients":
                CLIENTS[body["client_id"]] = {
                    "secret": body.get("client_secret", ""),
                    "access_ttl": int(body.get("access_ttl", 3600)),
                    "code_grants": 0,
                    "refresh_grants": 0,
                }
                return self.json(201, {"ok": True})
            user = body.get("username", "")
            if route in ("/admin/expire", "/admin/revoke"):
                for entry in ACCESS.values():
                    if entry["username"] == user:
                        entry["active"] = False
                if route == "/admin/revoke":
                    for entry in REFRESH.values():
                        if entry["username"] == user:
                            entry["active"] = False
                return self.json(200, {"ok": True})
        self.send(404, "not found", "text/plain")


def check_imap(imap: str, url: str) -> None:
    """The test script's check: a token from the provider at URL signs in to the IMAP server
    with XOAUTH2, a made-up token does not."""
    import imaplib
    import urllib.request

    def post(path, data, form=False):
        body = urllib.parse.urlencode(data).encode() if form else json.dumps(data).encode()
        kind = "application/x-www-form-urlencoded" if form else "application/json"
        return urllib.request.urlopen(urllib.request.Request(url + path, body, {"Content-Type": kind}))

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    client = "check-" + secrets.token_hex(4)
    user = client + "@example.test"
    post("/admin/clients", {"client_id": client, "client_secret": "s"})
    verifier = secrets.token_urlsafe(32)
    form = {"client_id": client, "redirect_uri": "http://127.0.0.1/cb", "state": "x",
            "code_challenge": challenge_of(verifier), "username": user, "decision": "allow"}
    try:
        urllib.request.build_opener(NoRedirect).open(url + "/authorize", urllib.parse.urlencode(form).encode())
        raise SystemExit("the sign-in did not redirect")
    except urllib.error.HTTPError as e:
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(e.headers["Location"]).query)["code"][0]
    token = json.load(post("/token", {"grant_type": "authorization_code", "code": code,
                                      "redirect_uri": "http://127.0.0.1/cb", "client_id": client,
                                      "client_secret": "s", "code_verifier": verifier}, form=True))["access_token"]
    host, port = imap.rsplit(":", 1)
    for candidate, good in ((token, True), ("made-up", False)):
        c = imaplib.IMAP4(host, int(port))
        try:
            c.authenticate("XOAUTH2", lambda _: f"user={user}\x01auth=Bearer {candidate}\x01\x01".encode())
            if not good:
                raise SystemExit("a made-up token was accepted")
            c.logout()
        except imaplib.IMAP4.error as e:
            if good:
                raise SystemExit(f"the provider's token was refused: {e}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--check-imap", metavar="HOST:PORT", help="check XOAUTH2 sign-in to this IMAP server and exit")
    p.add_argument("--url", help="the running provider, for --check-imap")
    args = p.parse_args()
    if args.check_imap:
        check_imap(args.check_imap, args.url)
        return
    try:
        server = ThreadingHTTPServer((args.host, args.port), Handler)
    except OSError as e:
        print(f"oauth_provider: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"READY {host}:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
