"""End-to-end tests of the reviewer console (console.md) in headless Chromium.

Run by `.ci/console-e2e` (which installs Debian's chromium, playwright from PyPI and axe-core
from npm, all pinned) against the debug `qualify` binary that `cargo test` built. Controls are
found by their accessible names, as console.md lists them.

Environment: QUALIFY_BIN (the binary), AXE_JS (axe.min.js), CHROMIUM (default /usr/bin/chromium),
QUALIFY_SCREENSHOTS (where screenshots go; docs/ with QUALIFY_UPDATE_SCREENSHOTS=1).
"""

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("QUALIFY_BIN", "")
AXE_JS = os.environ.get("AXE_JS", "")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("QUALIFY_SCREENSHOTS", "/tmp/qualify-console-screenshots"))
UPDATE_DOCS = os.environ.get("QUALIFY_UPDATE_SCREENSHOTS") == "1"
# The flags Chromium needs on this closed network (docs: machines/rust-svc.md).
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LIVE = 2000  # ms: console.md's bound on live updates
CONFLICT = "This request changed since you opened it"


# ---- the server and its API ------------------------------------------------------------------

class Server:
    def __init__(self):
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:0", "--database", "sqlite::memory:",
             "--rate-limit-per-minute", "0", "--auth", "dev"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on (http://\S+)", line)
        assert m, f"no address from qualify serve: {line!r}"
        self.base = m.group(1)
        self.admin = self.token(str(uuid.uuid4()), "--admin", "--app-only")

    def token(self, tenant, *flags):
        return subprocess.run([BIN, "token", "--tenant", tenant, *flags], check=True,
                              capture_output=True, text=True).stdout.strip()

    def call(self, method, path, token, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Partner:
    def __init__(self, server):
        self.server = server
        self.id = str(uuid.uuid4())
        self.token = server.token(self.id)

    def customer(self, name, domain):
        status, body = self.server.call("POST", "/v1/customers", self.token, {
            "companyProfile": {"companyName": name, "domain": domain, "email": "it@" + domain,
                               "address": {"country": "US", "city": "Redmond",
                                           "addressLine1": "1 Microsoft Way", "postalCode": "98052"}},
            "billingProfile": {"firstName": "Ada", "lastName": "Lovelace", "email": "billing@" + domain,
                               "culture": "en-US", "language": "en",
                               "defaultAddress": {"country": "US", "city": "Redmond", "state": "WA",
                                                  "addressLine1": "1 Microsoft Way", "postalCode": "98052"}},
        })
        assert status == 201, body
        return body["id"]

    def register_webhook(self, url):
        status, body = self.server.call("POST", "/webhooks/v1/registration", self.token, {
            "WebhookUrl": url, "WebhookEvents": ["customer-qualification-created"]})
        assert status == 200, body
        return body

    def request(self, customer, body=None):
        status, created = self.server.call(
            "POST", f"/v1/customers/{customer}/qualifications", self.token,
            body or {"qualification": "Education", "educationSegment": "HigherEducation",
                     "website": "www.contoso.edu"},
            {"MS-RequestId": str(uuid.uuid4())})
        assert status == 201, created
        return created

    def qualifications(self, customer):
        status, body = self.server.call("GET", f"/v1/customers/{customer}/qualifications", self.token)
        assert status == 200, body
        return body


def decide_elsewhere(server, customer, qualification, status, reason=None):
    _, queue = server.call("GET", "/admin/v1/reviews?limit=500", server.admin)
    etag = next(r["etag"] for r in queue if r["customerId"] == customer and r["qualification"] == qualification)
    body = {"vettingStatus": status}
    if reason:
        body["vettingReason"] = reason
    code, answer = server.call("POST", f"/admin/v1/customers/{customer}/qualifications/{qualification}/decision",
                               server.admin, body, {"If-Match": f'"{etag}"'})
    assert code == 200, answer


# ---- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def server():
    assert BIN and os.access(BIN, os.X_OK), f"QUALIFY_BIN={BIN!r} is not a binary"
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


FOREIGN = []  # every request the pages made to another origin


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    if AXE_JS:
        # An init script is not subject to the page's CSP (a <script> tag would be refused).
        context.add_init_script(path=AXE_JS)
    pg = context.new_page()
    pg.set_default_timeout(5000)
    origin = server.base

    def record(request):
        if not (request.url.startswith(origin + "/") or request.url.startswith("data:")):
            FOREIGN.append(request.url)

    pg.on("request", record)
    yield pg
    context.close()


def sign_in(page, server, token=None):
    page.goto(server.base + "/console/")
    page.get_by_label("Admin token").fill(token or server.admin)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()


def axe_clean(page, view):
    if not AXE_JS:
        pytest.fail("AXE_JS is not set: axe-core must be injected")
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
             .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))""")
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe-core on the {view}: {json.dumps(bad, indent=1)}"


def screenshot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=False)
    if UPDATE_DOCS:
        page.screenshot(path=str(ROOT / "docs" / name), full_page=False)


def row_of(page, customer):
    return page.locator("#queue tbody tr").filter(has_text=customer)


# ---- the tests ----------------------------------------------------------------------------------

def test_sign_in_shows_a_refused_token_and_accepts_an_admin_token(page, server):
    partner = Partner(server)
    page.goto(server.base + "/console/")
    axe_clean(page, "sign-in page")
    page.get_by_label("Admin token").fill(partner.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("requires the Qualify.Admin role")
    page.get_by_label("Admin token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("malformed")
    page.get_by_label("Admin token").fill(server.admin)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    # The token is in sessionStorage only, never in the URL.
    assert server.admin not in page.url
    assert page.evaluate("() => localStorage.length") == 0
    assert page.evaluate("() => Object.values(sessionStorage).includes(arguments[0])".replace(
        "arguments[0]", json.dumps(server.admin)))
    axe_clean(page, "review queue")
    # A reload keeps the session (same tab) and the view.
    page.reload()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()


def test_the_development_token_button_signs_in(page, server):
    page.goto(server.base + "/console/")
    page.get_by_role("button", name="Use a development token").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()


def test_a_request_made_through_the_api_appears_and_is_denied_with_a_reason(page, server):
    partner = Partner(server)
    others = [("Fabrikam University", "fabrikam.edu"), ("Northwind School", "northwind.k12.wa.us"),
              ("Tailspin Museum", "tailspin.org")]
    for name, domain in others:
        partner.request(partner.customer(name, domain), {
            "qualification": "Education", "educationSegment": "HigherEducation", "website": domain})
    customer = partner.customer("Contoso University", "contoso.edu")
    # A receiver that is not there: the request's delivery is pending after a failed attempt.
    partner.register_webhook("http://127.0.0.1:9/hooks")
    sign_in(page, server)
    partner.request(customer)
    row = row_of(page, customer)
    expect(row).to_be_visible(timeout=LIVE)
    expect(row).to_contain_text("Contoso University")
    expect(row).to_contain_text("Education")
    expect(row).to_contain_text("www.contoso.edu")
    expect(row).to_contain_text("InReview")
    screenshot(page, "console-queue.png")

    row.get_by_role("link", name="Contoso University").click()
    region = page.get_by_role("region", name="Request")
    expect(region).to_be_visible()
    expect(region).to_contain_text("contoso.edu")
    expect(region).to_contain_text("1 Microsoft Way")
    expect(region).to_contain_text("HigherEducation")
    expect(region).to_contain_text("Directory Reader")
    expect(region.locator("#history")).to_contain_text("InReview")
    expect(region.locator("#deliveries")).to_contain_text("customer-qualification-created")
    axe_clean(page, "request page")
    screenshot(page, "console-request.png")
    # Bookmarkable: the request's URL opens the request again.
    page.reload()
    expect(page.get_by_role("region", name="Request")).to_contain_text("Contoso University")

    region = page.get_by_role("region", name="Request")
    region.get_by_label("Reason").fill("Not an Academic Domain")
    region.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("status")).to_contain_text("denied")
    [q] = partner.qualifications(customer)
    assert q["vettingStatus"] == "Denied", q
    assert q["vettingReason"] == "Not an Academic Domain", q
    expect(region.locator("#history")).to_contain_text("Not an Academic Domain")


def test_a_decision_made_elsewhere_is_a_conflict_and_is_not_overridden(page, server):
    partner = Partner(server)
    customer = partner.customer("Woodgrove College", "woodgrove.edu")
    partner.request(customer)
    sign_in(page, server)
    page.goto(f"{server.base}/console/requests/{customer}/Education")
    region = page.get_by_role("region", name="Request")
    expect(region.get_by_role("button", name="Approve")).to_be_visible()
    decide_elsewhere(server, customer, "Education", "Denied", "Not an Education Customer")
    region.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(CONFLICT).first).to_be_visible()
    expect(region.locator("#current-state")).to_contain_text("Denied")
    expect(page.get_by_role("status")).not_to_contain_text("approved")
    [q] = partner.qualifications(customer)
    assert q["vettingStatus"] == "Denied", "the other decision stands"


def test_the_queue_updates_live(page, server):
    partner = Partner(server)
    customer = partner.customer("Litware Academy", "litware.edu")
    sign_in(page, server)
    page.wait_for_timeout(300)
    started = time.monotonic()
    partner.request(customer)
    expect(row_of(page, customer)).to_be_visible(timeout=LIVE)
    appeared = time.monotonic() - started
    decide_elsewhere(server, customer, "Education", "Approved")
    started = time.monotonic()
    expect(row_of(page, customer)).to_have_count(0, timeout=LIVE)
    gone = time.monotonic() - started
    print(f"live update: request shown after {appeared:.2f} s, decision after {gone:.2f} s")


def test_keyboard_only_decisions(page, server):
    partner = Partner(server)
    first = partner.customer("Adatum Keyboard One", "adatum1.example")
    second = partner.customer("Adatum Keyboard Two", "adatum2.example")
    partner.request(first, {"qualification": "StateOwnedEntity"})
    partner.request(second, {"qualification": "StateOwnedEntity"})
    sign_in(page, server)
    page.goto(f"{server.base}/console/?partner={partner.id}")
    expect(row_of(page, first)).to_be_visible()
    # j selects the first row, a approves it.
    page.keyboard.press("j")
    expect(row_of(page, first)).to_have_class(re.compile("selected"))
    page.keyboard.press("a")
    expect(row_of(page, first)).to_have_count(0)
    assert partner.qualifications(first)[0]["vettingStatus"] == "Approved"
    # j, then d opens the request with the reason focused; Enter denies.
    page.keyboard.press("j")
    page.keyboard.press("d")
    expect(page.get_by_label("Reason")).to_be_focused()
    page.keyboard.type("Not a state-owned entity")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("denied")
    q = partner.qualifications(second)[0]
    assert (q["vettingStatus"], q["vettingReason"]) == ("Denied", "Not a state-owned entity")
    # Escape goes back to the queue; Tab reaches the filters.
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()


def test_a_partners_page_issues_codes_and_shows_what_is_not_available(page, server):
    partner = Partner(server)
    sign_in(page, server)
    page.get_by_label("Partner id").fill(partner.id)
    page.get_by_role("button", name="Open partner").click()
    expect(page.get_by_role("heading", name=re.compile("^Partner"))).to_be_visible()
    page.get_by_label("Organization name").fill("Contoso Gov")
    page.get_by_label("Max creates").fill("3")
    page.get_by_role("button", name="Issue code").click()
    expect(page.get_by_role("status")).to_contain_text("issued")
    expect(page.locator("#codes table")).to_contain_text("Contoso Gov")
    status, codes = server.call("GET", f"/admin/v1/partners/{partner.id}/validations", server.admin)
    assert status == 200 and codes[0]["maxCreates"] == 3, codes
    # The control plane's sections say so until their endpoints exist.
    for section in ["scenario", "clock", "faults", "journal", "checks"]:
        expect(page.locator(f"#{section}")).not_to_contain_text("Loading")
    axe_clean(page, "partner page")
    page.reload()
    expect(page.locator("#codes table")).to_contain_text("Contoso Gov")


def test_no_request_went_to_another_origin():
    # Runs last (file order): every page of every test above was recorded.
    assert FOREIGN == [], FOREIGN
