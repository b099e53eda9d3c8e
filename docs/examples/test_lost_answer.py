"""Testing a client's retry logic against a lost answer (docs/testing.md, "Fault injection").

The server commits a GCC qualification request, then the client gets a 503 instead of the 201:
the answer was lost. A correct client retries with the same MS-RequestId and gets the stored
201 back (Idempotent-Replayed: true). The test checks there is one qualification, the
validation code was used once, and the server's own checks find no unsafe retry.

Run: QUALIFY_BIN=target/debug/qualify pytest docs/examples  (needs pytest and requests)
"""
import os
import subprocess
import time
import uuid

import pytest
import requests

QUALIFY = os.environ.get("QUALIFY_BIN", "qualify")


def create_with_retries(base, token, customer, body, attempts=4):
    """The client under test: one MS-RequestId per logical call, kept across retries."""
    request_id = str(uuid.uuid4())
    for attempt in range(attempts):
        try:
            r = requests.post(
                f"{base}/v1/customers/{customer}/qualifications",
                json=body,
                headers={"Authorization": f"Bearer {token}", "MS-RequestId": request_id},
                timeout=10,
            )
        except requests.ConnectionError:
            r = None
        if r is not None and r.status_code < 500 and r.status_code != 429:
            return r
        wait = int(r.headers.get("Retry-After", "1")) if r is not None else 1
        time.sleep(min(wait, 2) if attempt < attempts - 1 else 0)
    return r


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen(
        [QUALIFY, "serve", "--listen", "127.0.0.1:0", "--database", "sqlite::memory:",
         "--rate-limit-per-minute", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    base = proc.stdout.readline().strip().removeprefix("listening on ")
    for _ in range(300):
        try:
            if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def token(partner, *extra):
    return subprocess.run([QUALIFY, "token", "--tenant", partner, *extra],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_a_lost_answer_is_retried_into_one_qualification(server):
    partner = str(uuid.uuid4())
    user = {"Authorization": f"Bearer {token(partner)}"}
    admin = {"Authorization": f"Bearer {token(partner, '--admin', '--app-only')}"}
    code = requests.post(f"{server}/admin/v1/partners/{partner}/validations", headers=admin,
                         json={"organizationName": "Contoso Gov", "maxCreates": 2}).json()["validationId"]
    customer = requests.post(f"{server}/v1/customers", headers={**user, "MS-RequestId": str(uuid.uuid4())},
                             json={"companyProfile": {"domain": "contosogov.onmicrosoft.com"}}).json()["id"]

    # The next create of this partner commits, then its answer is replaced by a 503.
    fault = requests.post(f"{server}/admin/v1/faults", headers=admin, json={
        "match": {"method": "POST", "path": "/v1/customers/*/qualifications", "partner": partner},
        "phase": "after",
        "response": {"status": 503, "retryAfter": 1},
        "times": 1,
    })
    assert fault.status_code == 201, fault.text

    r = create_with_retries(server, token(partner), customer,
                            {"qualification": "GovernmentCommunityCloud", "validationCode": code})
    assert r.status_code == 201, r.text
    assert r.headers["Idempotent-Replayed"] == "true"  # the stored answer of the first attempt

    listed = requests.get(f"{server}/v1/customers/{customer}/qualifications", headers=user).json()
    assert len(listed) == 1 and listed[0]["qualification"] == "GovernmentCommunityCloud"
    codes = requests.get(f"{server}/v1/customers/all/validations", headers=user).json()
    assert codes[0]["remainingCreates"] == 1  # the code was used once

    # What the client sent: two attempts, one MS-RequestId, the first answered by the fault.
    found = requests.post(f"{server}/admin/v1/journal/find", headers=admin, json={
        "partner": partner, "method": "POST", "path": "/v1/customers/*/qualifications"}).json()
    attempts = found["entries"]
    assert [a["status"] for a in attempts] == [503, 201]
    assert attempts[0]["faultId"] == fault.json()["id"]
    assert attempts[0]["requestId"] == attempts[1]["requestId"]
    checks = requests.get(f"{server}/admin/v1/partners/{partner}/checks", headers=admin).json()
    assert [v["check"] for v in checks["violations"]] == []
