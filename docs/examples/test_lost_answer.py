"""Testing a client's retry logic against a lost answer (docs/testing.md, "Fault injection"), on
the pytest plugin of the `qualify-emulator` wheel.

The server commits a GCC qualification request, then the client gets a 503 instead of the 201:
the answer was lost. A correct client retries with the same MS-RequestId and gets the stored
201 back (Idempotent-Replayed: true). The test checks there is one qualification, the
validation code was used once, and the server's own checks find no unsafe retry.

Run: pip install "qualify-emulator[webhooks]" pytest && pytest docs/examples
"""
import time
import uuid

import pytest
import requests

from qualify import ClientChecksFailed


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
        time.sleep(min(wait, 2) if attempt < attempts - 1 else 0)  # the client honours Retry-After
    return r


def test_a_lost_answer_is_retried_into_one_qualification(partner):
    code = partner.admin.post(f"/admin/v1/partners/{partner.id}/validations",
                              json={"organizationName": "Contoso Gov", "maxCreates": 2}
                              ).json()["validationId"]
    customer = partner.session.post(
        "/v1/customers", json={"companyProfile": {"domain": "contosogov.onmicrosoft.com"}}
    ).json()["id"]

    # The next create of this partner (and only this partner) commits, then its answer is
    # replaced by a 503.
    fault = partner.fault(match={"method": "POST", "path": "/v1/customers/*/qualifications"},
                          phase="after", response={"status": 503, "retryAfter": 1}, times=1)

    r = create_with_retries(partner.url, partner.token, customer,
                            {"qualification": "GovernmentCommunityCloud", "validationCode": code})
    assert r.status_code == 201, r.text
    assert r.headers["Idempotent-Replayed"] == "true"  # the stored answer of the first attempt

    listed = partner.session.get(f"/v1/customers/{customer}/qualifications").json()
    assert len(listed) == 1 and listed[0]["qualification"] == "GovernmentCommunityCloud"
    codes = partner.session.get("/v1/customers/all/validations").json()
    assert codes[0]["remainingCreates"] == 1  # the code was used once

    # What the client sent: two attempts, one MS-RequestId, the first answered by the fault.
    attempts = partner.journal(method="POST", path="/v1/customers/*/qualifications")
    assert [a["status"] for a in attempts] == [503, 201]
    assert attempts[0]["faultId"] == fault["id"]
    assert attempts[0]["requestId"] == attempts[1]["requestId"]
    partner.checks()  # raises if the retry was unsafe or too early


def test_checks_name_what_a_careless_client_did(partner):
    """The same lost answer, retried at once and without MS-RequestId: checks() raises and
    names each rule the retry broke."""
    customer = partner.session.post(
        "/v1/customers", json={"companyProfile": {"domain": "contoso.onmicrosoft.com"}}
    ).json()["id"]
    partner.fault(match={"method": "POST", "path": "/v1/customers/*/qualifications"},
                  phase="after", response={"status": 503, "retryAfter": 5}, times=1)
    url = f"{partner.url}/v1/customers/{customer}/qualifications"
    auth = {"Authorization": f"Bearer {partner.token}"}
    body = {"qualification": "StateOwnedEntity"}
    assert requests.post(url, json=body, headers=auth, timeout=10).status_code == 503
    retried = requests.post(url, json=body, headers=auth, timeout=10)
    assert retried.status_code == 409, retried.text  # the first attempt was recorded after all
    with pytest.raises(ClientChecksFailed) as failed:
        partner.checks()
    assert {v["check"] for v in failed.value.violations} == {
        "write-without-request-id", "write-retried-without-request-id", "retry-after-ignored"}
