"""Webhooks end to end (events.md 1-2): a receiver on loopback gets one event per transition,
in order, and checks both signatures with third-party libraries (standardwebhooks; cryptography
through docs/examples/webhook_receiver.py); failures are retried on the partner's virtual
clock with the same webhook-id until the delivery is dead; an operator redelivers; a 410
disables the registration; test events report their status and are throttled.
"""
import time
import uuid
from datetime import datetime, timedelta, timezone

import requests
from standardwebhooks import Webhook

from conftest import wait_for
from webhook_receiver import BadDelivery, verify_delivery

CREATED = "customer-qualification-created"
UPDATED = "customer-qualification-updated"
TEST = "test-created"
# After each failed attempt (events.md 2: Standard Webhooks' schedule), ten attempts in all.
SCHEDULE = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
            timedelta(hours=5), timedelta(hours=10), timedelta(hours=14), timedelta(hours=20),
            timedelta(hours=24)]


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def certificate(base, headers):
    """The PEM from the certificate URL of a delivery, which must be this server's."""
    url = headers["X-MS-Certificate-Url"]
    assert url == f"{base}/webhooks/v1/certificate"
    r = requests.get(url, timeout=10)  # no token needed
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/x-pem-file")
    return r.text


def verified(base, secret, deliveries):
    """The events of `deliveries` [(headers, body)], each checked with both signatures."""
    pem = certificate(base, deliveries[0][0])
    events = []
    for headers, body in deliveries:
        assert headers["Content-Type"].startswith("application/json")
        assert headers["X-MS-Signature-Algorithm"] == "rsa-sha256"
        # Standard Webhooks timestamps are real time, whatever the partner's clock says.
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 120
        events.append(verify_delivery(headers, body, secret, pem))
    return events


def test_each_transition_sends_one_event_in_order_signed_both_ways(server, partner, receiver):
    secret = partner.register(receiver.url, [CREATED, UPDATED])["SigningSecret"]
    partner.freeze("2030-01-01T00:00:00Z")
    partner.scenario([{"match": {"qualification": "Education"}, "outcome": "Approved", "after": "1h"}])
    customer = partner.request_education()
    receiver.wait(1)
    advanced = partner.advance("1h")
    assert [a["to"] for a in advanced["applied"]] == ["Approved"]

    deliveries = receiver.wait(2)
    events = verified(server, secret, deliveries)
    assert [e["EventName"] for e in events] == [CREATED, UPDATED]
    for e in events:
        assert e["ResourceUri"] == f"{server}/v1/customers/{customer}/qualifications"
        assert e["ResourceName"] == "CustomerQualification"
        assert e["AuditUri"] == f"{server}/admin/v1/customers/{customer}/qualifications/Education/history"
    # The partner's clock, not the wall's.
    assert [instant(e["ResourceChangeUtcDate"]) for e in events] == [
        datetime(2030, 1, 1, 0, tzinfo=timezone.utc), datetime(2030, 1, 1, 1, tzinfo=timezone.utc)]
    headers, body = deliveries[0]
    for changed in (body.replace(b"}", b" }", 1), body + b"\n"):
        try:
            verify_delivery(headers, changed, secret, certificate(server, headers))
        except BadDelivery:
            continue
        raise AssertionError(f"a changed body was accepted: {changed!r}")
    ids = [headers["webhook-id"] for headers, _ in deliveries]
    assert len(set(ids)) == 2, ids

    # The resource the event points at says what happened.
    state = partner.call("GET", events[1]["ResourceUri"], partner.user)
    assert state[0]["vettingStatus"] == "Approved"
    listed = partner.deliveries("succeeded")
    assert [(d["eventName"], d["customerId"]) for d in listed] == [(CREATED, customer), (UPDATED, customer)]
    # webhook-id names the event (or its delivery: one per event and registration).
    assert all(i in (d["eventId"], d["id"]) for i, d in zip(ids, listed)), (ids, listed)


def test_failures_walk_the_schedule_to_dead_and_a_redelivery_succeeds(server, partner, receiver):
    # A 500, then a connection closed without an answer, five times; then a 200.
    receiver.answer(*["fail", "drop"] * 5, "ok")
    secret = partner.register(receiver.url, [CREATED])["SigningSecret"]
    partner.freeze("2030-01-01T00:00:00Z")
    customer = partner.request_education()
    receiver.wait(1)  # the first attempt is due at once
    wait_for("the first attempt's record", lambda: [d for d in partner.deliveries() if d["attempts"]])

    # One advance walks the whole schedule (75 h 35 min 5 s).
    partner.advance("4d")
    attempts = receiver.wait(10)
    assert len(receiver.received) == 10, "no attempt after the tenth"
    assert len({h["webhook-id"] for h, _ in attempts}) == 1
    assert [e["EventName"] for e in verified(server, secret, attempts)] == [CREATED] * 10

    [dead] = partner.deliveries("dead")
    webhook_id = attempts[0][0]["webhook-id"]
    assert dead["customerId"] == customer and webhook_id in (dead["eventId"], dead["id"])
    assert dead["nextAttemptAt"] is None
    tried = dead["attempts"]
    assert [a["responseCode"] for a in tried] == [500, None] * 5
    assert all(a["error"] for a in tried[1::2]), tried
    times = [instant(a["at"]) for a in tried]
    assert times[0] == datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert [b - a for a, b in zip(times, times[1:])] == SCHEDULE
    assert partner.deliveries("pending") == []

    # The operator sends it again, now: same webhook-id, and this time the receiver takes it.
    r = requests.post(f"{server}/admin/v1/deliveries/{dead['id']}/redeliver", headers=partner.admin,
                      timeout=30)
    assert r.status_code == 202, r.text
    assert r.json()["id"] == dead["id"]
    again = receiver.wait(11)[10]
    assert again[0]["webhook-id"] == webhook_id
    verified(server, secret, [again])
    [done] = wait_for("the redelivery's success", lambda: partner.deliveries("succeeded"))
    assert done["id"] == dead["id"] and len(done["attempts"]) == 11
    unknown = partner.unknown_delivery_id(dead["id"])
    r = requests.post(f"{server}/admin/v1/deliveries/{unknown}/redeliver", headers=partner.admin,
                      timeout=30)
    assert r.status_code == 404, r.text


def test_a_receiver_that_does_not_answer_in_10_s_is_retried(server, partner, receiver):
    receiver.answer("hold", "ok")
    secret = partner.register(receiver.url, [CREATED])["SigningSecret"]
    partner.freeze("2030-01-01T00:00:00Z")
    partner.request_education()
    [timed_out] = wait_for("the timed-out attempt",
                           lambda: [d for d in partner.deliveries() if d["attempts"]], timeout=20)
    attempt = timed_out["attempts"][0]
    assert attempt["responseCode"] is None and attempt["error"], attempt
    assert 9_000 <= attempt["durationMs"] < 15_000, attempt
    assert instant(timed_out["nextAttemptAt"]) == datetime(2030, 1, 1, 0, 0, 5, tzinfo=timezone.utc)

    partner.advance("5s")
    first, second = receiver.wait(2)
    assert first[0]["webhook-id"] == second[0]["webhook-id"]
    verified(server, secret, [second])
    [done] = partner.deliveries("succeeded")
    assert [a["responseCode"] for a in done["attempts"]] == [None, 200]


def test_a_410_disables_the_registration(server, partner, receiver):
    receiver.answer("gone")
    partner.register(receiver.url, [CREATED, UPDATED])
    partner.freeze("2030-01-01T00:00:00Z")
    partner.scenario([{"match": {"qualification": "Education"}, "outcome": "Denied",
                       "reason": "Not an Education Customer", "after": "1h"}])
    partner.request_education()
    receiver.wait(1)
    [gone] = wait_for("the 410 attempt", lambda: [d for d in partner.deliveries() if d["attempts"]])
    assert gone["attempts"][0]["responseCode"] == 410

    # Neither a retry nor the decision's event reaches the receiver any more.
    advanced = partner.advance("4d")
    assert [a["to"] for a in advanced["applied"]] == ["Denied"]
    assert len(receiver.received) == 1
    assert all(d["status"] != "pending" and d["nextAttemptAt"] is None for d in partner.deliveries())

    # The 410's delivery is over (dead); the registration is kept, marked as disabled.
    assert [d["status"] for d in partner.deliveries()] == ["dead"]
    registration = partner.call("GET", f"{server}/webhooks/v1/registration", partner.user)
    assert registration["Disabled"] is True and "410" in registration["DisabledReason"], registration


def test_a_test_event_reports_its_status_and_is_throttled(server, partner, receiver):
    secret = partner.register(receiver.url, [TEST, CREATED, UPDATED])["SigningSecret"]
    r = requests.post(f"{server}/webhooks/v1/registration/validationEvents", headers=partner.user,
                      timeout=30)
    assert r.status_code == 200, r.text
    correlation_id = r.json()
    assert str(uuid.UUID(correlation_id)) == correlation_id.lower()

    [event] = verified(server, secret, receiver.wait(1))
    assert event["EventName"] == TEST

    def finished():
        status = partner.call("GET", f"{server}/webhooks/v1/registration/validationEvents/{correlation_id}",
                              partner.user)
        return status if status["status"] != "pending" else None

    status = wait_for("the test event's status", finished)
    assert status["status"] == "completed", status
    assert status["correlationId"] == correlation_id
    assert status["partnerId"].lower() == partner.id
    assert status["callbackUrl"] == receiver.url
    [result] = status["results"]
    assert result["responseCode"] == "OK" and result["systemError"] is False, result
    instant(result["dateTimeUtc"])

    # Two a minute per partner, as in Partner Center.
    second = requests.post(f"{server}/webhooks/v1/registration/validationEvents", headers=partner.user,
                           timeout=30)
    assert second.status_code == 200, second.text
    third = requests.post(f"{server}/webhooks/v1/registration/validationEvents", headers=partner.user,
                          timeout=30)
    assert third.status_code == 429, third.text
    assert int(third.headers["Retry-After"]) > 0


def test_after_a_rotation_both_secrets_sign(server, partner, receiver):
    registration = partner.register(receiver.url, [TEST])
    old = registration["SigningSecret"]
    rotated = partner.call("PUT", f"{server}/webhooks/v1/registration", partner.user,
                           {"WebhookUrl": receiver.url, "WebhookEvents": [TEST], "RotateSecret": True})
    new = rotated["SigningSecret"]
    assert new != old and new.startswith("whsec_")
    assert rotated["SubscriberId"] == registration["SubscriberId"]

    requests.post(f"{server}/webhooks/v1/registration/validationEvents", headers=partner.user,
                  timeout=30).raise_for_status()
    [(headers, body)] = receiver.wait(1)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(body, headers)
    verified(server, new, [(headers, body)])
