"""A webhook receiver for qualify (docs/webhooks.md) that checks both signatures of a delivery.

- Standard Webhooks: HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}" with the
  registration's SigningSecret, the timestamp within 5 minutes of this machine's clock
  (the `standardwebhooks` library does all of it).
- Partner Center: `Authorization: Signature <base64>`, RSASSA-PKCS1-v1_5 with SHA-256 over the
  body, by the key of the certificate qualify serves at /webhooks/v1/certificate (`cryptography`).

CI's end-to-end suite (e2e/webhooks) verifies every delivery with `verify_delivery` below.

Run:  python webhook_receiver.py --qualify http://127.0.0.1:8080 --secret whsec_... --port 8000
(needs standardwebhooks, cryptography and requests)
"""
import argparse
import base64
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from standardwebhooks import Webhook, WebhookVerificationError


class BadDelivery(Exception):
    """Not from qualify, or changed on the way: answer 401 and do not act on it."""


def fetch_certificate(qualify_base):
    """The PEM whose key signs deliveries, from the qualify you registered with: never from the
    X-MS-Certificate-Url a request names, which a forger can point at their own certificate."""
    r = requests.get(f"{qualify_base}/webhooks/v1/certificate", timeout=10)
    r.raise_for_status()
    return r.text


def verify_partner_center_signature(headers, body, certificate_pem):
    """The RSA signature of the body bytes in `Authorization: Signature <base64>`."""
    headers = {k.lower(): v for k, v in headers.items()}
    algorithm = headers.get("x-ms-signature-algorithm", "rsa-sha256")
    if algorithm.lower() != "rsa-sha256":
        raise BadDelivery(f"unsupported signature algorithm {algorithm!r}")
    scheme, _, signature = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "signature" or not signature:
        raise BadDelivery("no Authorization: Signature header")
    key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    try:
        key.verify(base64.b64decode(signature), body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as e:
        raise BadDelivery("the RSA signature does not verify") from e


def verify_delivery(headers, body, secret, certificate_pem):
    """Checks both signatures of a delivery (`body`: the bytes as they arrived, before any JSON
    parsing) and returns the event. Raises BadDelivery."""
    try:
        event = Webhook(secret).verify(body, dict(headers.items()))
    except WebhookVerificationError as e:
        raise BadDelivery(f"Standard Webhooks: {e}") from e
    verify_partner_center_signature(headers, body, certificate_pem)
    return event


def handler(secret, certificate_pem, on_event):
    """A request handler that verifies each delivery, then hands its event to `on_event` once
    per webhook-id (a retry after a lost answer carries the same id)."""
    seen = set()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                event = verify_delivery(self.headers, body, secret, certificate_pem)
            except BadDelivery as e:
                self.send_error(401, str(e))
                return
            webhook_id = self.headers["webhook-id"]
            if webhook_id not in seen:
                seen.add(webhook_id)
                on_event(event)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    return Receiver


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qualify", required=True, help="qualify's base URL")
    parser.add_argument("--secret", required=True, help="the registration's SigningSecret")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()

    def on_event(event):
        # The event says what changed; read ResourceUri (with your partner token) for the state.
        print(event["EventName"], event["ResourceUri"], event["ResourceChangeUtcDate"], flush=True)

    receiver = handler(args.secret, fetch_certificate(args.qualify), on_event)
    ThreadingHTTPServer(("127.0.0.1", args.port), receiver).serve_forever()


if __name__ == "__main__":
    main()
