"""`GET /metrics` from the outside (events.md 4): the debug `qualify serve` on a temporary SQLite
file, scraped twice and parsed by prometheus-client's own parser. Run by `.ci/metrics-check`.

Environment: QUALIFY_BIN (the binary).
"""
import os
import selectors
import socket
import subprocess
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

QUALIFY = os.environ.get("QUALIFY_BIN", "qualify")
TIMEOUT = 10  # seconds, for every HTTP call

# Every family events.md 4 names, with its type.
REQUIRED = {
    "qualify_http_requests_total": "counter",
    "qualify_http_request_duration_seconds": "histogram",
    "qualify_qualifications_created_total": "counter",
    "qualify_vetting_decisions_total": "counter",
    "qualify_vetting_queue_depth": "gauge",
    "qualify_vetting_oldest_due_seconds": "gauge",
    "qualify_webhook_deliveries_total": "counter",
    "qualify_webhook_dead_total": "counter",
    "qualify_store_commit_batch_size": "histogram",
    "qualify_store_commit_seconds": "histogram",
    "qualify_faults_fired_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_start_time_seconds": "gauge",
}


def serve(tmp_path, *flags):
    proc = subprocess.Popen(
        [QUALIFY, "serve", "--listen", "127.0.0.1:0", "--database",
         f"sqlite://{tmp_path / 'qualify.db'}", "--auth", "dev",
         "--rate-limit-per-minute", "0", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=30):
            proc.kill()
            raise RuntimeError("qualify serve printed nothing within 30 s")
    line = proc.stdout.readline().strip()
    assert line.startswith("listening on "), line
    base = line.removeprefix("listening on ")
    deadline = time.monotonic() + 30
    while requests.get(f"{base}/readyz", timeout=TIMEOUT).status_code != 200:
        assert time.monotonic() < deadline, "qualify serve never became ready"
        time.sleep(0.05)
    return proc, base


@pytest.fixture
def server(tmp_path):
    proc, base = serve(tmp_path)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def mint(*args):
    return subprocess.run([QUALIFY, "token", *args], check=True, capture_output=True,
                          text=True, timeout=30).stdout.strip()


def scrape(base):
    r = requests.get(f"{base}/metrics", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; version=0.0.4"
    families = {}
    for f in text_string_to_metric_families(r.text):
        families[f.name] = f
    return r.text, families


def family(families, name):
    # The parser names a counter's family without `_total`.
    f = families.get(name) or families.get(name.removesuffix("_total"))
    assert f is not None, f"no family {name}: {sorted(families)}"
    return f


def value(families, name, sample=None, **labels):
    """The sum of the samples `sample` (default: the family's own) whose labels include `labels`."""
    f = family(families, name)
    sample = sample or (name if f.type == "counter" else f.name)
    return sum(s.value for s in f.samples
               if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()))


def test_every_family_is_there_typed_and_its_series_move(server):
    base = server
    partner = str(uuid.uuid4())
    user = {"Authorization": f"Bearer {mint('--tenant', partner)}"}
    admin = {"Authorization": f"Bearer {mint('--tenant', partner, '--admin', '--app-only')}"}

    def call(method, path, headers, body=None, expect=200, request_id=None):
        r = requests.request(method, base + path, json=body, timeout=TIMEOUT,
                             headers={**headers, "MS-RequestId": request_id or str(uuid.uuid4())})
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def customer():
        return call("POST", "/v1/customers", user,
                    {"companyProfile": {"domain": "contoso.onmicrosoft.com",
                                        "companyName": "Contoso"}}, expect=201)["id"]

    _, first = scrape(base)
    for name, kind in REQUIRED.items():
        assert family(first, name).type == kind, name

    # One create and its replay: one create counted, two 201s.
    edu, soe = customer(), customer()
    rid = str(uuid.uuid4())
    body = {"qualification": "Education", "educationSegment": "HigherEducation",
            "website": "contoso.edu"}
    for _ in range(2):
        call("POST", f"/v1/customers/{edu}/qualifications", user, body, expect=201, request_id=rid)
    # Webhooks to a loopback port nobody listens on: every attempt fails (dev auth allows
    # loopback targets); the advance below runs the deliveries that are due.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_end = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks"
    call("POST", "/webhooks/v1/registration", user,
         {"WebhookUrl": dead_end, "WebhookEvents": ["customer-qualification-created"]})
    # A decision by a clock advance: the scenario's request is due in an hour of its clock.
    call("PUT", f"/admin/v1/partners/{partner}/vetting", admin,
         {"rules": [{"match": {"qualification": "StateOwnedEntity"}, "outcome": "Approved",
                     "after": "1h"}]})
    call("POST", f"/v1/customers/{soe}/qualifications", user,
         {"qualification": "StateOwnedEntity"}, expect=201)
    applied = call("POST", f"/admin/v1/partners/{partner}/clock/advance", admin, {"by": "2h"})
    assert [t["to"] for t in applied["applied"]] == ["Approved"], applied
    # A fault that fires once.
    call("POST", "/admin/v1/faults", admin, {
        "match": {"method": "GET", "path": "/v1/customers/*/qualifications", "partner": partner},
        "phase": "before", "response": {"status": 503, "description": "Service unavailable"},
        "times": 1}, expect=201)
    call("GET", f"/v1/customers/{edu}/qualifications", user, expect=503)

    text, second = scrape(base)
    for name, kind in REQUIRED.items():
        assert family(second, name).type == kind, name

    def moved(name, sample=None, **labels):
        return value(second, name, sample, **labels) - value(first, name, sample, **labels)

    assert moved("qualify_qualifications_created_total", qualification="Education") == 1
    assert moved("qualify_qualifications_created_total", qualification="StateOwnedEntity") == 1
    assert moved("qualify_vetting_decisions_total", qualification="StateOwnedEntity",
                 outcome="Approved", actor_kind="clock") == 1
    assert moved("qualify_faults_fired_total") == 1
    assert moved("qualify_webhook_deliveries_total", result="failed") >= 1
    assert moved("qualify_webhook_deliveries_total", result="succeeded") == 0
    route = "/v1/customers/{customer_id}/qualifications"
    assert moved("qualify_http_requests_total", route=route, method="POST", status="201") == 3
    assert moved("qualify_http_requests_total", route=route, method="GET", status="503") == 1
    assert moved("qualify_http_request_duration_seconds",
                 "qualify_http_request_duration_seconds_count", route=route, method="POST") == 3
    assert moved("qualify_store_commit_batch_size", "qualify_store_commit_batch_size_count") >= 5
    assert moved("qualify_store_commit_seconds", "qualify_store_commit_seconds_count") >= 5
    assert value(second, "qualify_vetting_queue_depth") >= 0
    assert value(second, "process_resident_memory_bytes") > 0
    # Bounded labels: no partner or customer id anywhere.
    for ident in (partner, edu, soe):
        assert ident not in text


def test_metrics_off_answer_404_with_the_error_body(tmp_path):
    proc, base = serve(tmp_path, "--metrics", "false")
    try:
        r = requests.get(f"{base}/metrics", timeout=TIMEOUT)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["code"] == 1000 and r.json()["description"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
