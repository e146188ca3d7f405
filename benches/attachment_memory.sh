#!/usr/bin/env bash
# Server memory while an agent sends a reply with one MB-megabyte attachment (random bytes),
# for each BINARY in turn (an older build and a newer one, side by side in one run, each in a
# fresh process and data directory): an owner signs in, a customer mail is imported, a channel
# whose SMTP server is a small aiosmtpd sink started here is set up through the settings form,
# and the reply goes through the real multipart reply form. The undo-send delay (default 10 s)
# holds it in the outbox; the sender then delivers it to the sink.
#
# Printed per binary: resident memory before the upload (idle, after a first reply with a
# small file went the whole way, so every code path and the index writer are warm), the peak (VmHWM) during the upload and during the SMTP send (the peak is
# reset between them through /proc/PID/clear_refs), the larger peak minus idle, and when the
# POST answered against when the sink saw the transfer start (MAIL FROM) and end (DATA), plus
# whether the attachment arrived byte-identical (Python's email package parses the mail).
# Usage: benches/attachment_memory.sh OLD_BINARY NEW_BINARY [MB=10]
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 ]] || { echo "usage: $0 OLD_BINARY NEW_BINARY [MB=10]" >&2; exit 2; }
exec python3 - "$1" "$2" "${3:-10}" <<'PY'
import asyncio, email, email.policy, hashlib, http.client, http.cookiejar, os, re, shutil
import socket, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request

old, new, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
password = "bench lantern tractor 42"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def wait(what, ready, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


class Sink:
    """An SMTP server that notes when a transfer starts (MAIL FROM) and ends (DATA)."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.started, self.ended, self.messages = [], [], []
        sink = self

        class Handler:
            async def handle_MAIL(self, server, session, envelope, address, options):
                sink.started.append(time.time())
                envelope.mail_from = address
                envelope.mail_options.extend(options)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                sink.ended.append(time.time())
                sink.messages.append(envelope.original_content)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     data_size_limit=200 * 1024 * 1024)
        self.controller.start()


class Web:
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path):
        with self.opener.open(self.base + path) as r:
            return r.read().decode()

    def post(self, page, action, fields):
        csrf = re.search(r'name="csrf" value="([^"]+)"', self.get(page)).group(1)
        data = urllib.parse.urlencode([("csrf", csrf)] + list(fields)).encode()
        with self.opener.open(self.base + action, data) as r:
            return r.read().decode()

    def cookie(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def multipart(fields, filename, data):
    boundary = "----lethebench" + os.urandom(8).hex()
    body = bytearray()
    for name, value in fields:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                 f"{value}\r\n").encode()
    body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
             f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return boundary, bytes(body)


def measure(binary, attachment):
    work = tempfile.mkdtemp(prefix="lethe-attach-")
    sink = Sink()
    port = free_port()
    env = dict(os.environ, LETHE_DATA_DIR=os.path.join(work, "data"), LETHE_LISTEN=f"127.0.0.1:{port}",
               LETHE_ALLOW_PRIVATE_HOSTS="true", LETHE_LOG="warn", LETHE_MAX_ATTACHMENT_MB=str(max(mb, 20)))
    subprocess.run([binary, "user", "create", "--email", "bench@shop.example", "--password-stdin",
                    "--org", "Bench"], input=password.encode(), env=env, check=True, stdout=subprocess.DEVNULL)
    os.makedirs(os.path.join(work, "mail"))
    with open(os.path.join(work, "mail", "1.eml"), "wb") as f:
        f.write(b"From: Anna Schmidt <anna@kunde.example>\r\nTo: support@shop.example\r\n"
                b"Subject: Ruecksendung\r\nMessage-ID: <attach-bench@kunde.example>\r\n"
                b"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\nBitte ein Ruecksendeetikett.\r\n")
    subprocess.run([binary, "import", "eml", os.path.join(work, "mail"), "--org", "Bench"], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([binary, "serve"], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait("lethe", lambda: urllib.request.urlopen(base + "/healthz").status == 200)
        web = Web(base)
        web.post("/login", "/login", [("email", "bench@shop.example"), ("password", password)])
        web.post("/settings/channels/new", "/settings/channels", [
            ("name", "Support"), ("from_name", "Support"), ("from_address", "support@shop.example"),
            ("aliases", ""), ("auth_method", "password"), ("imap_host", ""), ("imap_port", "993"),
            ("imap_tls", "tls"), ("imap_user", ""), ("imap_password", ""), ("imap_folder", "INBOX"),
            ("after_fetch", "seen"), ("imap_move_to", ""), ("poll_seconds", "86400"),
            ("smtp_host", "127.0.0.1"), ("smtp_port", str(sink.port)), ("smtp_tls", "none"),
            ("smtp_user", ""), ("smtp_password", "")])
        conversation = re.search(r'href="/conversations/(\d+)"', web.get("/inbox")).group(1)
        page = f"/conversations/{conversation}"

        def reply(text, attachment):
            csrf = re.search(r'name="csrf" value="([^"]+)"', web.get(page)).group(1)
            boundary, body = multipart([("csrf", csrf), ("text", text), ("then", "")],
                                       "etikett.bin", attachment)
            connection = http.client.HTTPConnection("127.0.0.1", port)
            posted = time.time()
            connection.request("POST", page + "/reply", body, {
                "Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": web.cookie()})
            response = connection.getresponse()
            response.read()
            if response.status != 303:
                raise SystemExit(f"{binary}: the reply form answered {response.status}")
            return posted, time.time()

        # A first reply with a small file warms every path (pages, index writer, SMTP code), so
        # the figures below are the big file's own.
        reply("Vorab.", b"warm-up")
        wait("the warm-up mail at the SMTP sink", lambda: sink.ended, 120)
        time.sleep(1)
        idle = status(server.pid, "VmRSS")
        reset_peak(server.pid)
        posted, answered = reply("Anbei das Etikett.", attachment)
        upload_peak = status(server.pid, "VmHWM")
        reset_peak(server.pid)
        wait("the mail at the SMTP sink", lambda: len(sink.ended) > 1, 120)
        time.sleep(1)
        send_peak = status(server.pid, "VmHWM")
        sink.started.pop(0)
        sink.ended.pop(0)
        sink.messages.pop(0)
        parsed = email.message_from_bytes(sink.messages[0], policy=email.policy.default)
        files = [p.get_payload(decode=True) for p in parsed.walk()
                 if p.get_content_disposition() == "attachment"]
        identical = len(files) == 1 and hashlib.sha256(files[0]).digest() == hashlib.sha256(attachment).digest()
        peak = max(upload_peak, send_peak)
        print(f"{binary}\n  idle {idle:6.1f} MB   peak upload {upload_peak:6.1f} MB   peak send {send_peak:6.1f} MB"
              f"   peak - idle {peak - idle:6.1f} MB ({(peak - idle) / mb:.2f}x the {mb} MB file)\n"
              f"  POST answered in {answered - posted:5.2f} s, {sink.started[0] - answered:5.2f} s before the "
              f"SMTP transfer started (mail of {len(sink.messages[0]) / 1048576:.1f} MB received "
              f"{sink.ended[0] - sink.started[0]:.2f} s later); attachment byte-identical: {identical}",
              flush=True)
    finally:
        server.terminate()
        server.wait()
        sink.controller.stop()
        shutil.rmtree(work, ignore_errors=True)


attachment = os.urandom(mb * 1024 * 1024)
for binary in (old, new):
    measure(binary, attachment)
PY
