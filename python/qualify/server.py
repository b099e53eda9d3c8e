"""A qualify server for a test run: the packaged binary started on a free port, or one that runs
already (a container, a shared server) attached to by URL."""
from __future__ import annotations

import os
import selectors
import subprocess
import tempfile
import threading
import time
from typing import Iterable, Optional, Sequence

import requests

from qualify._binary import find_qualify_bin
from qualify.errors import QualifyError


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def wait_ready(url: str, timeout: float = 30.0, process: Optional[subprocess.Popen] = None) -> None:
    """Polls `GET {url}/readyz` until it answers 200; raises QualifyError after `timeout` seconds
    (or as soon as `process` has exited)."""
    deadline = time.monotonic() + timeout
    while not _ready(url):
        if process is not None and process.poll() is not None:
            raise QualifyError(f"qualify exited with {process.returncode} before {url}/readyz said 200")
        if time.monotonic() > deadline:
            raise QualifyError(f"{url}/readyz did not answer 200 within {timeout:g} s")
        time.sleep(0.05)


class Server:
    """A running qualify: `url` (no trailing slash) and the tokens its dev auth accepts.

    `Server.start()` runs the packaged binary (`qualify serve --listen 127.0.0.1:0 --database
    sqlite::memory:` and any extra arguments) and owns it: `stop()` ends it. `Server.attach(url)`
    uses a server that runs already and never stops it."""

    def __init__(self, url: str, process: Optional[subprocess.Popen] = None,
                 log_path: Optional[str] = None, binary: Optional[str] = None):
        self.url = url.rstrip("/")
        self.process = process
        self.log_path = log_path
        self.binary = binary or find_qualify_bin()

    @property
    def owned(self) -> bool:
        """Whether this object started the server (and `stop()` ends it)."""
        return self.process is not None

    @classmethod
    def start(cls, args: Sequence[str] = (), seed: Optional[str] = None,
              timeout: float = 30.0, binary: Optional[str] = None,
              env: Optional[dict] = None) -> "Server":
        """Starts `qualify serve` on a free loopback port with an in-memory database (unless
        `args` say otherwise) and waits for `/readyz`."""
        binary = binary or find_qualify_bin()
        command = [binary, "serve", "--listen", "127.0.0.1:0", "--database", "sqlite::memory:",
                   *args]
        if seed:
            command += ["--seed", os.fspath(seed)]
        log = tempfile.NamedTemporaryFile(prefix="qualify-serve-", suffix=".log", delete=False)
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=log, env=env)
        log.close()
        try:
            url = _first_line_url(process, timeout)
            # Whatever serve prints later is read and dropped, so it can never block on a full pipe.
            threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
            server = cls(url, process, log.name, binary)
            wait_ready(url, timeout, process)
            return server
        except BaseException as e:
            _terminate(process)
            message = f"{e}\n--- qualify serve's log ({log.name}) ---\n{_tail(log.name)}"
            raise QualifyError(message) from e

    @classmethod
    def attach(cls, url: str, timeout: float = 30.0, binary: Optional[str] = None) -> "Server":
        """A server that runs already (`QUALIFY_URL`): waits for its `/readyz`; never stopped."""
        server = cls(url, None, None, binary)
        wait_ready(server.url, timeout)
        return server

    def token(self, tenant: str, *, app_only: bool = False, admin: bool = False,
              upn: Optional[str] = None, ttl: str = "1h") -> str:
        """A dev token minted by the packaged `qualify token` (it prints the token alone)."""
        command = [self.binary, "token", "--tenant", tenant, "--ttl", ttl]
        if app_only:
            command.append("--app-only")
        if admin:
            command.append("--admin")
        if upn:
            command += ["--upn", upn]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise QualifyError(f"qualify token failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout.strip()

    def partner(self, partner_id: Optional[str] = None):
        """A partner tenant of its own on this server (a fresh GUID unless given)."""
        from qualify.partner import Partner

        return Partner(self, partner_id)

    def log(self) -> str:
        """What the server this object started wrote to stderr so far ("" when attached)."""
        if not self.log_path:
            return ""
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, timeout: float = 20.0) -> Optional[int]:
        """Ends a server this object started (SIGTERM, then SIGKILL after `timeout` seconds) and
        returns its exit code; does nothing for an attached one."""
        if self.process is None:
            return None
        code = _terminate(self.process, timeout)
        if self.log_path:
            try:
                os.unlink(self.log_path)
            except OSError:
                pass
            self.log_path = None
        return code

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<qualify.Server {self.url} {'started' if self.owned else 'attached'}>"


def _first_line_url(process: subprocess.Popen, timeout: float) -> str:
    """The address of serve's first stdout line, `listening on http://HOST:PORT`."""
    with selectors.DefaultSelector() as sel:
        sel.register(process.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=timeout):
            raise QualifyError(f"qualify serve printed nothing within {timeout:g} s")
    line = process.stdout.readline().decode("utf-8", "replace").strip()
    if not line.startswith("listening on "):
        process.wait(timeout=5)
        raise QualifyError(f"qualify serve exited ({process.returncode}) or printed {line!r}")
    return line[len("listening on "):]


def _drain(stream: Iterable[bytes]) -> None:
    for _ in stream:
        pass


def _terminate(process: subprocess.Popen, timeout: float = 20.0) -> Optional[int]:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"
