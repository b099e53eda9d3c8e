"""`partner.webhooks()`: a local receiver for qualify's webhook deliveries (events.md 2) that
verifies both signatures of each one before the test sees it:

- Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`): HMAC-SHA256 with
  the registration's SigningSecret, timestamp tolerance included — by the `standardwebhooks`
  library;
- Partner Center (`Authorization: Signature <base64>`): RSASSA-PKCS1-v1_5 SHA-256 over the body
  by the key of the certificate the server serves at /webhooks/v1/certificate, fetched from the
  server the test talks to (never from the URL a request names) — by `cryptography`.

Both libraries come with the `webhooks` extra: `pip install "qualify-emulator[webhooks]"`.
"""
from __future__ import annotations

import base64
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Optional

import requests

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from standardwebhooks import Webhook, WebhookVerificationError
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'partner.webhooks() needs the webhooks extra: pip install "qualify-emulator[webhooks]"'
    ) from e


class BadDelivery(Exception):
    """A delivery whose signatures do not verify: answered 401, never handed to the test."""


def verify_partner_center_signature(headers, body: bytes, certificate_pem: str) -> None:
    """The RSA signature of the body bytes in `Authorization: Signature <base64>`."""
    headers = {k.lower(): v for k, v in headers.items()}
    algorithm = headers.get("x-ms-signature-algorithm", "")
    if algorithm.lower() != "rsa-sha256":
        raise BadDelivery(f"unexpected X-MS-Signature-Algorithm {algorithm!r}")
    scheme, _, signature = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "signature" or not signature:
        raise BadDelivery("no Authorization: Signature header")
    key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    try:
        key.verify(base64.b64decode(signature), body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as e:
        raise BadDelivery("the Partner Center RSA signature does not verify") from e


def verify_delivery(headers, body: bytes, secret: str, certificate_pem: str) -> dict:
    """Both signatures of one delivery (`body`: the bytes as they arrived); returns the event."""
    try:
        event = Webhook(secret).verify(body, dict(headers.items()))
    except WebhookVerificationError as e:
        raise BadDelivery(f"the Standard Webhooks signature does not verify: {e}") from e
    verify_partner_center_signature(headers, body, certificate_pem)
    return event


class Delivery:
    """One verified delivery: the event, its headers and its raw body."""

    def __init__(self, event: dict, headers: dict, body: bytes):
        self.event = event
        self.headers = headers
        self.body = body
        self.webhook_id = headers.get("webhook-id")

    def __repr__(self) -> str:
        return f"<Delivery {self.event.get('EventName')} {self.webhook_id}>"


class Receiver:
    """Receives a partner's deliveries on a local port; see `Partner.webhooks`.

    - `events`: the verified events, one per `webhook-id` (a retry repeats its id), in arrival order;
      `deliveries`: every verified delivery, retries included; `rejected`: why each delivery that
      did not verify was refused (401).
    - `wait(n)`: the first n events once they arrived (bounded); `status`: what the receiver
      answers (200; set 500 or 410 to exercise retries and disabling).
    - `secret`, `url`, `registration`.
    """

    def __init__(self, partner, events: Optional[List[str]] = None, host: Optional[str] = None,
                 bind: Optional[str] = None):
        host = host or os.environ.get("QUALIFY_WEBHOOK_HOST") or "127.0.0.1"
        bind = bind or ("127.0.0.1" if host in ("127.0.0.1", "localhost") else "0.0.0.0")
        self.status = 200
        self.secret: Optional[str] = None
        self.events: List[dict] = []
        self.deliveries: List[Delivery] = []
        self.rejected: List[str] = []
        self._seen: set = set()
        self._lock = threading.Lock()
        self.certificate = _get(f"{partner.url}/webhooks/v1/certificate")
        self._server = ThreadingHTTPServer((bind, 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/qualify-webhooks"
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name="qualify-webhooks").start()
        if events is None:
            r = partner.session.get("/webhooks/v1/registration/events")
            r.raise_for_status()
            events = r.json()
        r = partner.session.post("/webhooks/v1/registration",
                                 json={"WebhookUrl": self.url, "WebhookEvents": events})
        if r.status_code != 200:
            self.close()
            raise BadDelivery(f"registering {self.url} failed: {r.status_code} {r.text}")
        self.registration = r.json()
        self.secret = self.registration["SigningSecret"]

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    if receiver.secret is None:
                        raise BadDelivery("a delivery before the registration was answered")
                    event = verify_delivery(self.headers, body, receiver.secret,
                                            receiver.certificate)
                except BadDelivery as e:
                    with receiver._lock:
                        receiver.rejected.append(str(e))
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.deliveries.append(Delivery(event, headers, body))
                    if headers.get("webhook-id") not in receiver._seen:
                        receiver._seen.add(headers.get("webhook-id"))
                        receiver.events.append(event)
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    def wait(self, count: int = 1, timeout: float = 15.0) -> List[dict]:
        """The first `count` verified events, once they have arrived; AssertionError after
        `timeout` seconds (saying what was rejected, if anything)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.events) >= count:
                    return list(self.events[:count])
                got, rejected = len(self.events), list(self.rejected)
            if time.monotonic() > deadline:
                raise AssertionError(f"{got} of {count} webhook events arrived within {timeout:g} s"
                                     + (f"; rejected: {rejected}" if rejected else ""))
            time.sleep(0.02)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _get(url: str) -> str:
    r = requests.get(url, timeout=30)
    r.raise_for_status()
    return r.text
