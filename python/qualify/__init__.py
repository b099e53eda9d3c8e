"""qualify, the Partner Center customer-qualification emulator, for Python test suites.

- `qualify.Server.start()` / `Server.attach(url)`: a server for a test run;
  `server.partner()`: a partner tenant of its own (`qualify.Partner`).
- The pytest plugin (`qualify.pytest_plugin`, registered on install) gives the fixtures
  `qualify_server` (session) and `partner` (function).
- The `qualify` command line is the binary this distribution carries (`qualify --help`).
"""
from importlib.metadata import PackageNotFoundError, version

from qualify._binary import find_qualify_bin
from qualify.partner import ClientChecksFailed, ControlError, Partner, Session
from qualify.errors import QualifyError
from qualify.server import Server, wait_ready

try:
    __version__ = version("qualify-emulator")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ClientChecksFailed",
    "ControlError",
    "Partner",
    "QualifyError",
    "Server",
    "Session",
    "__version__",
    "find_qualify_bin",
    "wait_ready",
]
