"""The pytest plugin of qualify (registered through the `pytest11` entry point `qualify`;
`pytest -p no:qualify` turns it off).

Fixtures:
- `qualify_server` (session): the packaged binary started on 127.0.0.1:0 with `sqlite::memory:`
  and waited for (`/readyz`), stopped at the end; or, when `QUALIFY_URL` is set, the server
  there (a container, a shared server), attached to and never stopped. Under pytest-xdist the
  controller process starts one server and every worker attaches to it.
- `partner` (function): a fresh partner tenant on that server (`qualify.Partner`), reset at the end.

Options: `--qualify-arg=ARG` (repeatable; ini `qualify_args`) for `qualify serve`, e.g.
`--qualify-arg=--vetting=auto`; `--qualify-seed=FILE` (ini `qualify_seed`, relative to the ini
file) applied with `serve --seed`; ini `qualify_timeout` (seconds to wait for `/readyz`, 30).
"""
from __future__ import annotations

import os
from typing import List, Optional, Tuple

import pytest

from qualify.server import Server

URL_VAR = "QUALIFY_URL"


def pytest_addoption(parser):
    group = parser.getgroup("qualify", "qualify (Partner Center qualification emulator)")
    group.addoption("--qualify-arg", action="append", default=[], dest="qualify_args",
                    metavar="ARG",
                    help="an argument for `qualify serve` (repeatable), e.g. "
                         "--qualify-arg=--vetting=auto")
    group.addoption("--qualify-seed", dest="qualify_seed", metavar="FILE",
                    help="a fixture document `qualify serve --seed` applies at start-up")
    parser.addini("qualify_args", type="args", default=[],
                  help="arguments for `qualify serve` (before those of --qualify-arg)")
    parser.addini("qualify_seed", type="paths", default=[],
                  help="a fixture document for `qualify serve --seed` (relative to this file)")
    parser.addini("qualify_timeout", default="30",
                  help="seconds to wait for qualify's /readyz (default 30)")


def _settings(config) -> Tuple[List[str], Optional[str], float]:
    args = list(config.getini("qualify_args")) + list(config.getoption("qualify_args") or [])
    seed = config.getoption("qualify_seed")
    if not seed and config.getini("qualify_seed"):
        seed = str(config.getini("qualify_seed")[0])
    return args, seed, float(config.getini("qualify_timeout"))


def _start(config) -> Server:
    args, seed, timeout = _settings(config)
    return Server.start(args, seed=seed, timeout=timeout)


class _SharedServerForWorkers:
    """pytest-xdist's controller: starts one server when it configures its first worker, hands
    the URL to every worker (they attach to it), and stops it once all workers are done."""

    def __init__(self, config):
        self.config = config
        self.server: Optional[Server] = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        if self.server is None:
            self.server = _start(self.config)
        node.workerinput["qualify_url"] = self.server.url

    def pytest_unconfigure(self, config):
        if self.server is not None:
            self.server.stop()
            self.server = None


def pytest_configure(config):
    is_worker = hasattr(config, "workerinput")
    if not is_worker and not os.environ.get(URL_VAR):
        config.pluginmanager.register(_SharedServerForWorkers(config), "qualify-xdist-shared")


@pytest.fixture(scope="session")
def qualify_server(request):
    """The qualify server of this test run (`.url`, `.token(...)`, `.partner()`)."""
    config = request.config
    _, _, timeout = _settings(config)
    url = os.environ.get(URL_VAR) or getattr(config, "workerinput", {}).get("qualify_url")
    if url:
        yield Server.attach(url, timeout=timeout)
        return
    server = _start(config)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def partner(qualify_server):
    """A partner tenant of its own (`.id`, `.token`, `.app_token`, `.admin_token`, `.session`,
    and the control plane scoped to it); reset when the test ends."""
    p = qualify_server.partner()
    try:
        yield p
        for receiver in p._receivers:
            receiver.close()
        p.reset()
    finally:
        p.close()
