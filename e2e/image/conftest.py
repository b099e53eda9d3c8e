"""The container image's acceptance suite (docs/ci.md, "The container image"), run by
.ci/distribution after scripts/build-image: the image `QUALIFY_IMAGE` (localhost/qualify:dev),
driven the way users drive it, with the `docker` CLI (here talking to podman's Docker-compatible
API, DOCKER_HOST) — or podman itself when there is no docker CLI — and podman for what only it
can do here (a health check run: without systemd, podman schedules none)."""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
import requests

IMAGE = os.environ.get("QUALIFY_IMAGE", "localhost/qualify:dev")


def engine():
    """The container CLI: docker (against DOCKER_HOST) when there is one, else podman."""
    if shutil.which("docker") and os.environ.get("DOCKER_HOST"):
        return "docker"
    return "podman"


def cli(*args, check=True, timeout=120):
    done = subprocess.run([engine(), *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{engine()} {' '.join(args)}: {done.returncode}\n{done.stderr}")
    return done


def wait_for(what, check, timeout=30.0, interval=0.1):
    """Polls `check` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(interval)


def ready(url):
    try:
        return requests.get(f"{url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


class Container:
    """One `run -d` of the image, published on a random loopback port."""

    def __init__(self, *run_args, command=()):
        # podman's own CLI wants an empty host port for "any"; Docker's takes 0 as well.
        publish = "127.0.0.1:0:8080" if engine() == "docker" else "127.0.0.1::8080"
        self.id = cli("run", "-d", "-p", publish, *run_args, IMAGE, *command).stdout.strip()
        port = cli("port", self.id, "8080/tcp").stdout.strip().splitlines()[0].rsplit(":", 1)[1]
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout=30.0):
        wait_for(f"{self.url}/readyz", lambda: ready(self.url) or self.exited(), timeout)
        assert ready(self.url), self.logs()

    def inspect(self):
        return json.loads(cli("inspect", self.id).stdout)[0]

    def exited(self):
        return self.inspect()["State"]["Status"] == "exited"

    def logs(self):
        done = cli("logs", self.id, check=False)
        return done.stdout + done.stderr

    def remove(self):
        cli("rm", "-f", "-v", self.id, check=False)


@pytest.fixture
def container_factory():
    made = []

    def make(*run_args, command=()):
        c = Container(*run_args, command=command)
        made.append(c)
        return c

    yield make
    for c in made:
        c.remove()


@pytest.fixture
def volume():
    name = f"qualify-e2e-{uuid.uuid4().hex[:12]}"
    cli("volume", "create", name)
    yield name
    # Containers first (their teardown may come later), then the volume.
    for c in cli("ps", "-aq", "--filter", f"volume={name}", check=False).stdout.split():
        cli("rm", "-f", "-v", c, check=False)
    cli("volume", "rm", "-f", name, check=False)
