"""testcontainers-python starts the image (a random host port, an HTTP wait on /readyz) and a
partner-style test runs against it: what docs/ci.md shows for Python, and for .NET and Java in
their own Testcontainers. Here through podman's Docker-compatible socket: DOCKER_HOST,
TESTCONTAINERS_RYUK_DISABLED=true (the reaper's image cannot be pulled),
TESTCONTAINERS_CONNECTION_MODE=docker_host, TC_HOST=127.0.0.1 (.ci/distribution sets them)."""
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

import qualify
from conftest import IMAGE


def test_a_partner_test_against_the_image_in_testcontainers():
    container = (
        DockerContainer(IMAGE)
        .with_exposed_ports(8080)
        .waiting_for(HttpWaitStrategy(8080, "/readyz").for_status_code(200))
    )
    with container:
        url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(8080)}"
        partner = qualify.Server.attach(url).partner()
        partner.freeze("2030-01-01T00:00:00Z")
        partner.scenario([{"match": {"qualification": "Education"}, "outcome": "Approved",
                           "after": "72h"}])
        customer = partner.session.post(
            "/v1/customers", json={"companyProfile": {"domain": "contoso.edu"}}).json()["id"]
        created = partner.session.post(
            f"/v1/customers/{customer}/qualifications",
            json={"qualification": "Education", "educationSegment": "K12", "website": "contoso.edu"})
        assert created.status_code == 201 and created.json()["vettingStatus"] == "InReview"
        assert [a["to"] for a in partner.advance("72h")] == ["Approved"]
        partner.checks()
