"""Webhooks in a partner's test suite (docs/webhooks.md), on the pytest plugin of the
`qualify-emulator` wheel: `partner.webhooks()` starts a receiver on this machine that verifies
both signatures of every delivery (Standard Webhooks' HMAC and Partner Center's RSA) and
registers it as the partner's webhook; the virtual clock decides when the transition, and so
the event, happens.

Run: pip install "qualify-emulator[webhooks]" pytest && pytest docs/examples
(with qualify in a container: QUALIFY_WEBHOOK_HOST=host.containers.internal, or
host.docker.internal, names this machine to the container)
"""


def test_each_transition_arrives_signed_both_ways(partner):
    hooks = partner.webhooks(["customer-qualification-created", "customer-qualification-updated"])
    partner.freeze("2030-01-01T00:00:00Z")
    partner.scenario([{"match": {"qualification": "Education"}, "outcome": "Approved", "after": "24h"}])
    customer = partner.session.post(
        "/v1/customers", json={"companyProfile": {"domain": "fabrikam.edu"}}).json()["id"]
    partner.session.post(f"/v1/customers/{customer}/qualifications",
                         json={"qualification": "Education", "educationSegment": "K12",
                               "website": "fabrikam.edu"})
    # Each event verified with both signatures (or refused with 401). Deliveries are attempted
    # in transition order, each on a connection of its own: wait for one before the next
    # transition to know the order they arrive in.
    (created,) = hooks.wait(1)
    assert created["EventName"] == "customer-qualification-created"
    assert [a["to"] for a in partner.advance("24h")] == ["Approved"]

    updated = hooks.wait(2)[1]
    assert updated["EventName"] == "customer-qualification-updated"
    assert updated["ResourceChangeUtcDate"].startswith("2030-01-02T00:00:00")  # the partner's clock
    assert updated["ResourceUri"].endswith(f"/v1/customers/{customer}/qualifications")
    assert hooks.rejected == []
    # The event says what changed; the client reads the resource for the state.
    assert partner.session.get(f"/v1/customers/{customer}/qualifications").json()[0][
        "vettingStatus"] == "Approved"
