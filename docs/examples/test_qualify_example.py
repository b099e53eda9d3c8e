"""A partner's test suite against qualify (docs/testing.md): one server for the whole run, a
partner tenant of its own per test, outcomes forced by a vetting scenario or a test value, time
moved by the clock (never slept on).

Run: QUALIFY_BIN=target/debug/qualify pytest docs/examples   (needs pytest and requests)
"""
import os
import selectors
import subprocess
import time
import uuid

import pytest
import requests

QUALIFY = os.environ.get("QUALIFY_BIN", "qualify")
TIMEOUT = 10  # seconds, for every HTTP call


@pytest.fixture(scope="session")
def base_url():
    """One `qualify serve` per test run: in memory, a free port, no throttling."""
    proc = subprocess.Popen(
        [QUALIFY, "serve", "--listen", "127.0.0.1:0", "--database", "sqlite::memory:",
         "--rate-limit-per-minute", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        # The first line on stdout is `listening on http://HOST:PORT`.
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout=30):
                raise RuntimeError("qualify serve printed nothing within 30 s")
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on "), line
        base = line.removeprefix("listening on ")
        deadline = time.monotonic() + 30
        while requests.get(f"{base}/readyz", timeout=TIMEOUT).status_code != 200:
            assert time.monotonic() < deadline, "qualify serve never became ready"
            time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def mint(*args):
    return subprocess.run([QUALIFY, "token", *args], check=True, capture_output=True,
                          text=True, timeout=30).stdout.strip()


class Partner:
    """A partner tenant of its own: nothing another test does can change what it sees."""

    def __init__(self, base):
        self.base = base
        self.id = str(uuid.uuid4())
        self.user = {"Authorization": f"Bearer {mint('--tenant', self.id)}"}
        self.admin = {"Authorization": f"Bearer {mint('--tenant', self.id, '--admin', '--app-only')}"}
        self.control = f"{base}/admin/v1/partners/{self.id}"

    def call(self, method, path, headers, body=None, expect=200):
        r = requests.request(method, path, json=body, timeout=TIMEOUT,
                             headers={**headers, "MS-RequestId": str(uuid.uuid4())})
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def customer(self, domain="contoso.onmicrosoft.com"):
        return self.call("POST", f"{self.base}/v1/customers", self.user,
                         {"companyProfile": {"domain": domain, "companyName": "Contoso"}},
                         expect=201)["id"]

    def request_education(self, customer, website):
        return self.call("POST", f"{self.base}/v1/customers/{customer}/qualifications", self.user,
                         {"qualification": "Education", "educationSegment": "HigherEducation",
                          "website": website}, expect=201)

    def qualifications(self, customer):
        return self.call("GET", f"{self.base}/v1/customers/{customer}/qualifications", self.user)

    def advance(self, by):
        return self.call("POST", f"{self.control}/clock/advance", self.admin, {"by": by})


@pytest.fixture
def partner(base_url):
    p = Partner(base_url)
    yield p
    p.call("POST", f"{p.control}/reset", p.admin)  # not needed for isolation; keeps memory flat


def test_a_scenario_decides_each_request_when_the_clock_says(partner):
    partner.call("PUT", f"{partner.control}/clock", partner.admin,
                 {"frozenAt": "2030-01-01T00:00:00Z"})
    partner.call("PUT", f"{partner.control}/vetting", partner.admin, {"rules": [
        {"match": {"qualification": "Education", "website": "*.edu"},
         "outcome": "Approved", "after": "72h"},
        {"match": {"qualification": "Education"},
         "outcome": "Denied", "reason": "Not an Education Customer", "after": "1h"},
    ]})
    school, shop = partner.customer(), partner.customer()
    created = partner.request_education(school, "www.contoso.edu")
    assert created["vettingStatus"] == "InReview"
    assert created["vettingCreateDate"] == "2030-01-01T00:00:00Z"
    partner.request_education(shop, "contoso.com")

    # Synchronous: the answer lists what became due and was decided on the way.
    first = partner.advance("71h")
    assert first["now"] == "2030-01-03T23:00:00Z"
    assert [(a["customerId"], a["to"], a.get("reason")) for a in first["applied"]] == [
        (shop, "Denied", "Not an Education Customer")]
    assert partner.qualifications(school)[0]["vettingStatus"] == "InReview"

    second = partner.advance("1h")
    assert [(a["customerId"], a["to"], a["at"]) for a in second["applied"]] == [
        (school, "Approved", "2030-01-04T00:00:00Z")]
    assert partner.qualifications(school)[0]["vettingStatus"] == "Approved"


def test_test_values_need_no_set_up(partner):
    denied, waits = partner.customer(), partner.customer()
    partner.request_education(denied, "https://denied.test")
    partner.request_education(waits, "review.test")
    partner.advance("0s")  # runs what is due now
    assert partner.qualifications(denied)[0]["vettingStatus"] == "Denied"
    assert partner.qualifications(denied)[0]["vettingReason"] == "Not an Education Customer"
    assert partner.qualifications(waits)[0]["vettingStatus"] == "InReview"  # for a reviewer


def test_fixtures_seed_a_known_state_and_snapshot_shows_it(partner):
    customer = str(uuid.uuid4())
    doc = {"version": 1, "partners": [{
        "id": partner.id,
        "validationCodes": [{"validationId": f"gcc-{partner.id[:8]}", "maxCreates": 3}],
        "customers": [{"id": customer, "companyProfile": {"domain": "contoso.onmicrosoft.com"},
                       "qualifications": [{"qualification": "StateOwnedEntity",
                                           "vettingStatus": "Approved",
                                           "vettingCreateDate": "2026-01-02T09:00:00Z"}]}],
    }]}
    counts = partner.call("POST", f"{partner.base}/admin/v1/seed", partner.admin, doc)
    assert counts == {"customers": 1, "qualifications": 1, "validationCodes": 1}
    assert partner.qualifications(customer) == [{
        "qualification": "StateOwnedEntity", "vettingStatus": "Approved",
        "vettingCreateDate": "2026-01-02T09:00:00Z"}]
    snapshot = partner.call("GET", f"{partner.control}/snapshot", partner.admin)
    assert snapshot["partners"][0]["validationCodes"][0]["remainingCreates"] == 3
    removed = partner.call("POST", f"{partner.control}/reset", partner.admin)
    assert removed["customers"] == 1
