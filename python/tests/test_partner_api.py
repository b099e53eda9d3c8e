"""The `partner` helpers against the plugin's server, each checked by what the server then says."""
import datetime as dt
import uuid

import pytest
import requests

from qualify import ClientChecksFailed, ControlError


def new_customer(partner, domain="contoso.onmicrosoft.com"):
    r = partner.session.post("/v1/customers", json={"companyProfile": {"domain": domain}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_the_session_sends_a_request_id_on_writes_and_keeps_one_it_is_given(partner):
    new_customer(partner)
    kept = str(uuid.uuid4())
    r = partner.session.post("/v1/customers", json={"companyProfile": {"domain": "b.example"}},
                             headers={"MS-RequestId": kept})
    assert r.status_code == 201
    writes = partner.journal(method="POST", path="/v1/customers")
    assert len(writes) == 2
    assert writes[0]["requestId"] != kept and uuid.UUID(writes[0]["requestId"])
    assert writes[1]["requestId"] == kept
    assert partner.checks()["violations"] == []


def test_a_fault_is_scoped_to_its_partner(partner, qualify_server):
    other = qualify_server.partner()
    try:
        fault = partner.fault(match={"method": "GET", "path": "/v1/customers"},
                              response={"status": 503, "retryAfter": 1})
        assert fault["match"]["partner"] == partner.id
        assert partner.session.get("/v1/customers").status_code == 503
        assert other.session.get("/v1/customers").status_code == 200
        assert [f["id"] for f in partner.faults()] == [fault["id"]]
        partner.clear_faults()
        assert partner.faults() == []
        with pytest.raises(ValueError):
            partner.fault(match={"partner": other.id})
    finally:
        other.reset()
        other.close()


def test_the_clock_takes_datetimes_and_advance_to(partner):
    partner.freeze(dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    partner.scenario([{"match": {"qualification": "StateOwnedEntity"}, "outcome": "Approved",
                       "after": "2h"}])
    customer = new_customer(partner)
    partner.session.post(f"/v1/customers/{customer}/qualifications",
                         json={"qualification": "StateOwnedEntity"})
    assert partner.advance(to="2030-01-01T01:00:00Z") == []
    applied = partner.advance(to=dt.datetime(2030, 1, 1, 2, tzinfo=dt.timezone.utc))
    assert [(a["customerId"], a["from"], a["to"]) for a in applied] == [
        (customer, "InReview", "Approved")]
    with pytest.raises(ValueError):
        partner.advance()
    with pytest.raises(ControlError) as went_back:  # time never goes back: 409
        partner.freeze("2029-01-01T00:00:00Z")
    assert went_back.value.response.status_code == 409


def test_seed_snapshot_restore_round_trip(partner):
    customer = str(uuid.uuid4())
    partner.seed({"customers": [{"id": customer, "companyProfile": {"domain": "s.example"}}]})
    snapshot = partner.snapshot()
    assert [c["id"] for c in snapshot["partners"][0]["customers"]] == [customer]
    new_customer(partner)
    partner.restore(snapshot)
    assert partner.snapshot() == snapshot


def test_checks_raise_with_the_violations(partner):
    r = requests.post(f"{partner.url}/v1/customers", timeout=10,
                      headers={"Authorization": f"Bearer {partner.token}"},
                      json={"companyProfile": {"domain": "careless.example"}})
    assert r.status_code == 201
    with pytest.raises(ClientChecksFailed) as failed:
        partner.checks()
    assert [v["check"] for v in failed.value.violations] == ["write-without-request-id"]
    assert "write-without-request-id" in str(failed.value)


def test_the_journal_pages_through_everything(partner):
    for _ in range(3):
        partner.session.get("/v1/customers")
    entries = partner.journal()
    assert [e["method"] for e in entries] == ["GET"] * 3
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)


def test_the_webhook_receiver_refuses_what_does_not_verify(partner):
    hooks = partner.webhooks(["customer-qualification-created"])
    forged = requests.post(hooks.url, data=b'{"EventName": "customer-qualification-created"}',
                           headers={"webhook-id": "msg_1", "webhook-timestamp": "1",
                                    "webhook-signature": "v1,AAAA",
                                    "Authorization": "Signature AAAA",
                                    "X-MS-Signature-Algorithm": "rsa-sha256"}, timeout=10)
    assert forged.status_code == 401
    assert len(hooks.rejected) == 1 and hooks.events == []
    customer = new_customer(partner)
    partner.session.post(f"/v1/customers/{customer}/qualifications",
                         json={"qualification": "StateOwnedEntity"})
    (event,) = hooks.wait(1)
    assert event["EventName"] == "customer-qualification-created"
    delivery = hooks.deliveries[0]
    assert delivery.headers["authorization"].startswith("Signature ")
    assert delivery.webhook_id == delivery.headers["webhook-id"]
