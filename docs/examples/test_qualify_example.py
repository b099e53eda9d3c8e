"""A partner's test suite against qualify (docs/testing.md), on the pytest plugin of the
`qualify-emulator` wheel: one server for the whole run (`qualify_server`), a partner tenant of
its own per test (`partner`), outcomes forced by a vetting scenario or a test value, time moved
by the clock (never slept on).

Run: pip install "qualify-emulator[webhooks]" pytest && pytest docs/examples
(QUALIFY_URL=http://127.0.0.1:8080 runs it against a server that runs already, e.g. the image)
"""
import uuid


def new_customer(partner, domain="contoso.onmicrosoft.com"):
    r = partner.session.post("/v1/customers",
                             json={"companyProfile": {"domain": domain, "companyName": "Contoso"}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def request_education(partner, customer, website):
    r = partner.session.post(f"/v1/customers/{customer}/qualifications",
                             json={"qualification": "Education",
                                   "educationSegment": "HigherEducation", "website": website})
    assert r.status_code == 201, r.text
    return r.json()


def qualifications(partner, customer):
    r = partner.session.get(f"/v1/customers/{customer}/qualifications")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_scenario_decides_each_request_when_the_clock_says(partner):
    partner.freeze("2030-01-01T00:00:00Z")
    partner.scenario([
        {"match": {"qualification": "Education", "website": "*.edu"},
         "outcome": "Approved", "after": "72h"},
        {"match": {"qualification": "Education"},
         "outcome": "Denied", "reason": "Not an Education Customer", "after": "1h"},
    ])
    school, shop = new_customer(partner), new_customer(partner)
    created = request_education(partner, school, "www.contoso.edu")
    assert created["vettingStatus"] == "InReview"
    assert created["vettingCreateDate"] == "2030-01-01T00:00:00Z"
    request_education(partner, shop, "contoso.com")

    # Synchronous: the answer lists what became due and was decided on the way.
    first = partner.advance("71h")
    assert [(a["customerId"], a["to"], a.get("reason")) for a in first] == [
        (shop, "Denied", "Not an Education Customer")]
    assert partner.clock()["now"] == "2030-01-03T23:00:00Z"
    assert qualifications(partner, school)[0]["vettingStatus"] == "InReview"

    second = partner.advance("1h")
    assert [(a["customerId"], a["to"], a["at"]) for a in second] == [
        (school, "Approved", "2030-01-04T00:00:00Z")]
    assert qualifications(partner, school)[0]["vettingStatus"] == "Approved"
    partner.checks()  # the suite's own client kept every rule (MS-RequestId on each write, ...)


def test_test_values_need_no_set_up(partner):
    denied, waits = new_customer(partner), new_customer(partner)
    request_education(partner, denied, "https://denied.test")
    request_education(partner, waits, "review.test")
    partner.advance("0s")  # runs what is due now
    assert qualifications(partner, denied)[0]["vettingStatus"] == "Denied"
    assert qualifications(partner, denied)[0]["vettingReason"] == "Not an Education Customer"
    assert qualifications(partner, waits)[0]["vettingStatus"] == "InReview"  # for a reviewer


def test_fixtures_seed_a_known_state_and_snapshot_shows_it(partner):
    customer = str(uuid.uuid4())
    counts = partner.seed({  # this partner's entry of a fixture document (docs/testing.md)
        "validationCodes": [{"validationId": f"gcc-{partner.id[:8]}", "maxCreates": 3}],
        "customers": [{"id": customer, "companyProfile": {"domain": "contoso.onmicrosoft.com"},
                       "qualifications": [{"qualification": "StateOwnedEntity",
                                           "vettingStatus": "Approved",
                                           "vettingCreateDate": "2026-01-02T09:00:00Z"}]}],
    })
    assert counts == {"customers": 1, "qualifications": 1, "validationCodes": 1}
    assert qualifications(partner, customer) == [{
        "qualification": "StateOwnedEntity", "vettingStatus": "Approved",
        "vettingCreateDate": "2026-01-02T09:00:00Z"}]
    snapshot = partner.snapshot()
    assert snapshot["partners"][0]["validationCodes"][0]["remainingCreates"] == 3
    assert partner.reset()["customers"] == 1
