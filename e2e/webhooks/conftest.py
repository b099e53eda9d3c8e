"""The harness of the webhook end-to-end suite: one qualify server (the debug binary, dev auth, a
temporary SQLite file, manual vetting: only a test's scenario decides), a partner per test, and
a receiver on loopback that answers each delivery as the test scripts it.

Run: QUALIFY_BIN=target/debug/qualify pytest e2e/webhooks   (.ci/webhooks installs the pins)
"""
import os
import pathlib
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

QUALIFY = os.environ.get("QUALIFY_BIN", "qualify")
ROOT = pathlib.Path(__file__).resolve().parents[2]
# The verification code of docs/webhooks.md, imported rather than copied.
sys.path.insert(0, str(ROOT / "docs" / "examples"))


def wait_for(what, check, timeout=15.0):
    """Polls `check` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qualify")
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(
        [QUALIFY, "serve", "--listen", "127.0.0.1:0", "--database", f"sqlite://{tmp}/qualify.db",
         "--auth", "dev", "--vetting", "manual", "--rate-limit-per-minute", "0"],
        stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
    )
    first = proc.stdout.readline().strip()
    assert first.startswith("listening on "), f"qualify printed {first!r}; see {tmp}/server.log"
    base = first.removeprefix("listening on ")
    wait_for("/readyz", lambda: _ready(base))
    yield base
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def _ready(base):
    try:
        return requests.get(f"{base}/readyz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def token(partner, *extra):
    return subprocess.run([QUALIFY, "token", "--tenant", partner, *extra],
                          check=True, capture_output=True, text=True).stdout.strip()


class Partner:
    """A partner tenant of its own, with its App+User and operator tokens."""

    def __init__(self, base):
        self.base = base
        self.id = str(uuid.uuid4())
        self.user = {"Authorization": f"Bearer {token(self.id)}"}
        self.admin = {"Authorization": f"Bearer {token(self.id, '--admin', '--app-only')}"}
        self.control = f"{base}/admin/v1/partners/{self.id}"

    def call(self, method, url, headers, body=None, expect=200):
        if method in ("POST", "PUT"):
            headers = {**headers, "MS-RequestId": str(uuid.uuid4())}
        r = requests.request(method, url, headers=headers, json=body, timeout=150)
        assert r.status_code == expect, f"{method} {url}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def register(self, url, events):
        return self.call("POST", f"{self.base}/webhooks/v1/registration", self.user,
                         {"WebhookUrl": url, "WebhookEvents": events})

    def freeze(self, at="2030-01-01T00:00:00Z"):
        self.call("PUT", f"{self.control}/clock", self.admin, {"frozenAt": at})

    def advance(self, by):
        return self.call("POST", f"{self.control}/clock/advance", self.admin, {"by": by})

    def scenario(self, rules):
        self.call("PUT", f"{self.control}/vetting", self.admin, {"rules": rules})

    def request_education(self, domain="contoso.edu"):
        """A new customer and its Education request (InReview): a created event."""
        customer = self.call("POST", f"{self.base}/v1/customers", self.user,
                             {"companyProfile": {"domain": f"{uuid.uuid4().hex[:8]}.{domain}"}},
                             expect=201)["id"]
        self.call("POST", f"{self.base}/v1/customers/{customer}/qualifications", self.user,
                  {"qualification": "Education", "educationSegment": "HigherEducation",
                   "website": f"www.{domain}"}, expect=201)
        return customer

    def unknown_delivery_id(self, known):
        """An id shaped like `known` that no delivery has."""
        return str(int(known) + 1_000_000) if known.isdigit() else str(uuid.uuid4())

    def deliveries(self, status=None):
        query = f"?status={status}" if status else ""
        return self.call("GET", f"{self.control}/deliveries{query}", self.admin)


@pytest.fixture
def partner(server):
    p = Partner(server)
    yield p
    requests.post(f"{p.control}/reset", headers=p.admin, timeout=30)


class Receiver:
    """Answers deliveries by its script, one entry per request, the last one repeating:
    "ok" (200), "fail" (500), "gone" (410), "drop" (closes the connection without an answer),
    "hold" (answers only after the sender's 10 s timeout). Keeps what it received."""

    def __init__(self):
        self.script = ["ok"]
        self.received = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.received.append((self.headers, body))  # case-insensitive
                    answer = receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                if answer == "drop":
                    self.close_connection = True
                    return
                if answer == "hold":
                    time.sleep(11)
                status = {"ok": 200, "hold": 200, "fail": 500, "gone": 410}[answer]
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up (after a hold)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a "hold" still sleeping does not delay teardown
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def answer(self, *script):
        with self._lock:
            self.script = list(script)

    def wait(self, count, timeout=15.0):
        """The first `count` requests, once they have arrived."""
        return wait_for(f"{count} deliveries at the receiver",
                        lambda: len(self.received) >= count and list(self.received[:count]),
                        timeout)

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
