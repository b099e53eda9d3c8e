"""A partner tenant of its own, with its tokens, an HTTP session and the test control plane
(control.md) scoped to it: nothing another partner does can change what it sees."""
from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any, Dict, List, Optional, Union
from urllib.parse import urljoin

import requests

from qualify.errors import QualifyError

TIMEOUT = 150  # seconds: above the server's default advance timeout (2 min)
_WRITES = {"POST", "PUT", "PATCH"}


class ClientChecksFailed(AssertionError):
    """`partner.checks()` found that the client broke a rule of the real service."""

    def __init__(self, partner_id: str, violations: List[dict]):
        self.violations = violations
        lines = [f"qualify's client checks of partner {partner_id} failed:"]
        for v in violations:
            lines.append(f"  - {v.get('check')}: {v.get('detail')} (journal seq {v.get('seq')})")
        super().__init__("\n".join(lines))


class ControlError(QualifyError):
    """A control-plane call did not answer what it should have."""

    def __init__(self, response: requests.Response):
        self.response = response
        super().__init__(f"{response.request.method} {response.url}: {response.status_code} "
                         f"{response.text[:2000]}")


class Session(requests.Session):
    """A requests session pointed at the server: relative URLs (`/v1/customers`) are joined to
    its base URL, the bearer token is sent, and every write carries a fresh `MS-RequestId` unless
    the call passes one (as a well-behaved Partner Center client does; pass your own to keep it
    across your retries)."""

    def __init__(self, base_url: str, token: str, timeout: float = TIMEOUT):
        super().__init__()
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        url = urljoin(self.base_url, str(url).lstrip("/")) if "://" not in str(url) else url
        if method.upper() in _WRITES:
            headers = dict(kwargs.pop("headers", None) or {})
            if not any(k.lower() == "ms-requestid" for k in headers):
                headers["MS-RequestId"] = str(uuid.uuid4())
            kwargs["headers"] = headers
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def _instant(at: Union[str, _dt.datetime]) -> str:
    if isinstance(at, _dt.datetime):
        if at.tzinfo is None:
            raise ValueError("a datetime for the virtual clock needs a time zone")
        at = at.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return at


class Partner:
    """A fresh partner tenant on `server`.

    - `id`: the partner tenant GUID; `token` (App+User), `app_token` (App-only), `admin_token`
      (the operator's, role Qualify.Admin), minted by the packaged `qualify token`.
    - `session`: a requests session with `token`, pointed at the server (`session.get("/v1/...")`).
    - The control plane, scoped to this partner: `scenario`, `freeze`, `advance`, `clock`, `seed`,
      `snapshot`, `restore`, `fault`, `faults`, `journal`, `checks`, `reset`, `webhooks`.
    """

    def __init__(self, server, partner_id: Optional[str] = None):
        self.server = server
        self.url = server.url
        self.id = partner_id or str(uuid.uuid4())
        self.token = server.token(self.id)
        self.app_token = server.token(self.id, app_only=True)
        self.admin_token = server.token(self.id, admin=True, app_only=True)
        self.session = Session(self.url, self.token)
        self.admin = Session(self.url, self.admin_token)
        self.control = f"/admin/v1/partners/{self.id}"
        self._receivers: list = []

    # --- plumbing -------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None, expect: int = 200, **params):
        r = self.admin.request(method, path, json=body, params=params or None)
        if r.status_code != expect:
            raise ControlError(r)
        return r.json() if r.content else None

    # --- vetting scenario (control.md 3) --------------------------------------------------
    def scenario(self, rules: List[dict]) -> dict:
        """Sets this partner's vetting scenario (the `rules` list of control.md 3); returns it as
        stored."""
        return self._call("PUT", f"{self.control}/vetting", {"rules": rules})

    def clear_scenario(self) -> None:
        self._call("DELETE", f"{self.control}/vetting", expect=204)

    # --- the virtual clock (control.md 4) -------------------------------------------------
    def freeze(self, at: Union[str, _dt.datetime]) -> dict:
        """Stops this partner's time at `at` (RFC 3339, or an aware datetime)."""
        return self._call("PUT", f"{self.control}/clock", {"frozenAt": _instant(at)})

    def advance(self, by: Optional[str] = None, *, to: Union[str, _dt.datetime, None] = None
                ) -> List[dict]:
        """Moves this partner's clock `by` a duration ("72h") or `to` an instant, runs what fell
        due, and returns the `applied` transitions, in order. Never resent on failure: an advance
        that may have run would move time twice."""
        if (by is None) == (to is None):
            raise ValueError("advance takes by= or to=, one of them")
        body = {"by": by} if by is not None else {"to": _instant(to)}
        return self._call("POST", f"{self.control}/clock/advance", body)["applied"]

    def clock(self) -> dict:
        """`{"now", "mode", "scope"}` of this partner's clock."""
        return self._call("GET", f"{self.control}/clock")

    def resume(self) -> dict:
        return self._call("POST", f"{self.control}/clock/resume")

    # --- fixtures (control.md 2) ----------------------------------------------------------
    def seed(self, doc: dict) -> dict:
        """Applies a fixture document: a whole one (`{"version": 1, "partners": [...]}`) or this
        partner's entry alone (`{"customers": [...], "validationCodes": [...]}`, its id filled
        in). Returns the counts added or replaced."""
        if "partners" not in doc:
            doc = {"version": 1, "partners": [{"id": self.id, **doc}]}
        return self._call("POST", "/admin/v1/seed", doc)

    def snapshot(self) -> dict:
        """The fixture document of this partner's state."""
        return self._call("GET", f"{self.control}/snapshot")

    def restore(self, doc: dict) -> dict:
        """Replaces this partner's state with a document (a reset, then a seed)."""
        if "partners" not in doc:
            doc = {"version": 1, "partners": [{"id": self.id, **doc}]}
        return self._call("POST", f"{self.control}/restore", doc)

    def reset(self) -> dict:
        """This partner back to how the server started; returns what was removed."""
        return self._call("POST", f"{self.control}/reset")

    # --- fault injection (control.md 5) ---------------------------------------------------
    def fault(self, spec: Optional[dict] = None, **fields) -> dict:
        """Adds a fault (the body of control.md 5, as a dict and/or keyword arguments) that
        matches only this partner's requests; returns it with its `id`."""
        body = {**(spec or {}), **fields}
        match = dict(body.get("match") or {})
        if match.setdefault("partner", self.id) != self.id:
            raise ValueError("partner.fault() matches this partner's requests only")
        body["match"] = match
        return self._call("POST", "/admin/v1/faults", body, expect=201)

    def faults(self) -> List[dict]:
        """This partner's faults, with `hits` and `remaining`."""
        return self._call("GET", "/admin/v1/faults", partner=self.id)

    def clear_faults(self) -> None:
        self._call("DELETE", "/admin/v1/faults", expect=204, partner=self.id)

    # --- the request journal and client checks (control.md 6, 7) ------------------------
    def journal(self, **pattern) -> List[dict]:
        """This partner's recorded `/v1` requests, oldest first; with a pattern (`method`, `path`
        glob, `customerId`, `status`, `requestId`, `bodyContains`), those that match it."""
        if pattern:
            return self._call("POST", "/admin/v1/journal/find",
                              {**pattern, "partner": self.id})["entries"]
        entries: List[dict] = []
        after = None
        while True:
            params = {"partner": self.id, "limit": 1000}
            if after is not None:
                params["after"] = after
            page = self._call("GET", "/admin/v1/journal", **params)["entries"]
            entries += page
            if len(page) < 1000:
                return entries
            after = page[-1]["seq"]

    def checks(self) -> dict:
        """Judges this partner's recorded traffic against the real service's rules (control.md
        7); raises ClientChecksFailed with the violations (and `journal-incomplete` when some of
        the partner's requests left the journal unjudged), else returns the result."""
        result = self._call("GET", f"{self.control}/checks")
        violations = list(result["violations"])
        if not result.get("complete", True):
            # Some of the partner's requests left the journal unjudged: passing on what is left
            # could pass on nothing.
            violations.append({
                "check": "journal-incomplete",
                "seq": [],
                "detail": f"{result.get('evicted', 0)} of the partner's requests left the journal "
                          "before they were judged (raise --journal-size or check sooner)",
                "occurrences": 1,
            })
        if violations:
            raise ClientChecksFailed(self.id, violations)
        return result

    # --- webhooks (events.md) -------------------------------------------------------------
    def webhooks(self, events: Optional[List[str]] = None, *, host: Optional[str] = None,
                 bind: Optional[str] = None):
        """Starts a local receiver that verifies both signatures of every delivery, registers it
        as this partner's webhook (all events unless `events`), and returns it. `host` is the name
        the server reaches this machine by (default: `QUALIFY_WEBHOOK_HOST`, else 127.0.0.1; e.g.
        host.containers.internal when qualify runs in a container); `bind` the address to listen
        on (default 127.0.0.1, or 0.0.0.0 with a `host`). Closed when the test ends."""
        from qualify.webhooks import Receiver

        receiver = Receiver(self, events=events, host=host, bind=bind)
        self._receivers.append(receiver)
        return receiver

    def close(self) -> None:
        for receiver in self._receivers:
            receiver.close()
        self._receivers.clear()
        self.session.close()
        self.admin.close()

    def __repr__(self) -> str:
        return f"<qualify.Partner {self.id} on {self.url}>"
