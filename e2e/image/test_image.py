"""The image's contract (distribution.md 1): size, metadata, health, signals, volume, seed,
the unprivileged user, DNS for webhooks, and a partner's suite against it."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import requests

import qualify
from conftest import IMAGE, cli, engine, ready, wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAX_BYTES = 40 * 1000 * 1000


def podman_inspect_image():
    return json.loads(subprocess.run(["podman", "image", "inspect", IMAGE], check=True,
                                     capture_output=True, text=True).stdout)[0]


def test_size_and_metadata():
    image = podman_inspect_image()
    size = image["Size"]
    print(f"\nimage {IMAGE}: {size} bytes ({size / 1e6:.1f} MB)")
    assert size <= MAX_BYTES, f"{size} bytes"
    config = image["Config"]
    version = qualify.__version__
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.licenses"] == "MIT OR Apache-2.0"
    assert labels["org.opencontainers.image.source"]
    assert config["Entrypoint"] == ["qualify"] and config["Cmd"] == ["serve"]
    assert config["User"] == "65532:65532"
    assert config["StopSignal"] == "SIGTERM"
    assert "8080/tcp" in config["ExposedPorts"] and "/data" in config["Volumes"]
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["QUALIFY_LISTEN"] == "0.0.0.0:8080"
    assert env["QUALIFY_ALLOW_DEV_AUTH_ON_NETWORK"] == "true"
    assert env["QUALIFY_DATABASE_URL"] == "sqlite:///data/qualify.db"
    assert image["Healthcheck"]["Test"] == ["CMD", "qualify", "healthcheck"]
    # The Dockerfile's default (a from-source build's label) follows Cargo.toml's version too.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG QUALIFY_VERSION={version}\n" in dockerfile
    # The binary in the image is the one of this wheel's version.
    out = cli("run", "--rm", IMAGE, "--version").stdout.strip()
    assert out == f"qualify {version}"


def test_ready_through_the_published_port_healthy_and_unprivileged(container_factory):
    c = container_factory()
    c.wait_ready()
    # The log says that dev auth listens on the network by the image's explicit allowance.
    assert "dev auth on a non-loopback address" in c.logs()
    # Health: podman runs the image's HEALTHCHECK (`qualify healthcheck`) on request here (no
    # systemd to schedule it); the status it records is what `inspect` shows.
    def healthy():
        subprocess.run(["podman", "healthcheck", "run", c.id], capture_output=True, timeout=30)
        return c.inspect()["State"]["Health"]["Status"] == "healthy"

    wait_for("a healthy status", healthy, timeout=30, interval=0.5)
    # The process runs as the unprivileged user, as the host's kernel sees it.
    pid = c.inspect()["State"]["Pid"]
    uids = pathlib.Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[:4]
    assert uids == ["65532"] * 4, uids


def test_sigterm_stops_it_within_5_s_and_a_restart_keeps_a_durable_write(container_factory,
                                                                           volume):
    c = container_factory("-v", f"{volume}:/data")
    c.wait_ready()
    server = qualify.Server.attach(c.url)
    partner = server.partner()
    customer = partner.session.post(
        "/v1/customers", json={"companyProfile": {"domain": "durable.example"}}).json()["id"]

    started = time.monotonic()
    cli("stop", "-t", "5", c.id)  # the image's STOPSIGNAL (SIGTERM), SIGKILL after 5 s
    took = time.monotonic() - started
    state = c.inspect()["State"]
    print(f"\nstopped in {took:.2f} s, exit code {state['ExitCode']}")
    assert state["ExitCode"] == 0, c.logs()
    assert took < 5, took
    assert "SIGTERM received" in c.logs()

    again = container_factory("-v", f"{volume}:/data")
    again.wait_ready()
    partner.session.base_url = again.url + "/"
    r = partner.session.get(f"/v1/customers/{customer}")
    assert r.status_code == 200, r.text
    assert r.json()["companyProfile"]["domain"] == "durable.example"


def test_seed_from_a_mounted_file(container_factory, tmp_path):
    partner_id, customer = str(uuid.uuid4()), str(uuid.uuid4())
    seed = tmp_path / "state.json"
    seed.write_text(json.dumps({"version": 1, "partners": [{
        "id": partner_id,
        "customers": [{"id": customer, "companyProfile": {"domain": "seeded.example"}}]}]}))
    seed.chmod(0o644)
    tmp_path.chmod(0o755)
    c = container_factory("-v", f"{seed}:/fixtures/state.json:ro",
                          "-e", "QUALIFY_DATABASE_URL=sqlite::memory:",
                          command=["serve", "--seed", "/fixtures/state.json"])
    c.wait_ready()
    assert "seed applied" in c.logs()
    partner = qualify.Server.attach(c.url).partner(partner_id)
    r = partner.session.get(f"/v1/customers/{customer}")
    assert r.status_code == 200, r.text


def test_a_partner_suite_runs_against_it(container_factory):
    """docs/examples against the container (QUALIFY_URL), webhooks included: the receiver runs
    on this machine and the server in the container reaches it by host.containers.internal."""
    c = container_factory()
    c.wait_ready()
    env = {**os.environ, "QUALIFY_URL": c.url, "QUALIFY_WEBHOOK_HOST": "host.containers.internal"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "docs" / "examples")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr + c.logs()


@pytest.fixture
def dns_server():
    """dnsmasq on podman's bridge gateway, answering one name with that gateway's address."""
    if not shutil.which("dnsmasq"):
        pytest.fail("dnsmasq is missing (.ci/distribution installs dnsmasq-base)")
    gateway = subprocess.run(
        ["podman", "network", "inspect", "podman", "--format",
         "{{range .Subnets}}{{.Gateway}}{{end}}"],
        check=True, capture_output=True, text=True).stdout.strip()
    name = "receiver.qualify-e2e.test"
    proc = subprocess.Popen(["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                             "--bind-dynamic", f"--listen-address={gateway}", "--port=53",
                             f"--address=/{name}/{gateway}", "--log-facility=-"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield gateway, name
    proc.terminate()
    proc.wait(timeout=10)


def test_webhook_targets_are_resolved_by_dns_in_the_runtime_image(container_factory,
                                                                  dns_server):
    """The runtime image has no resolver of its own: glibc's, with nsswitch.conf's
    `hosts: files dns` and the resolv.conf the engine mounts. A name that only a DNS server
    knows must reach the receiver."""
    gateway, name = dns_server
    c = container_factory("--dns", gateway)
    c.wait_ready()
    partner = qualify.Server.attach(c.url).partner()
    hooks = partner.webhooks(["customer-qualification-created"], host=name, bind="0.0.0.0")
    customer = partner.session.post(
        "/v1/customers", json={"companyProfile": {"domain": "dns.example"}}).json()["id"]
    partner.session.post(f"/v1/customers/{customer}/qualifications",
                         json={"qualification": "StateOwnedEntity"})
    (event,) = hooks.wait(1, timeout=30)
    assert event["ResourceUri"].endswith(f"/v1/customers/{customer}/qualifications")
    hooks.close()
