"""The pytest plugin as a suite uses it, each case a pytest run of its own (pytester, in a
subprocess: the plugin loads from its entry point, as it does for users)."""
import json
import os
import textwrap

import pytest
import requests

import qualify


def qualify_serve_pids():
    """The pids of every `qualify serve` running on this machine."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and os.path.basename(argv[0]) == b"qualify" and argv[1] == b"serve":
            pids.add(int(entry))
    return pids


def refused(url):
    try:
        requests.get(f"{url}/readyz", timeout=2)
    except requests.ConnectionError:
        return True
    return False


def test_fixtures_give_each_test_a_partner_of_its_own_and_stop_the_server(pytester, tmp_path):
    before = qualify_serve_pids()
    record = tmp_path / "seen.jsonl"
    pytester.makepyfile(textwrap.dedent(f"""
        import json, os

        def record(**kw):
            with open({str(record)!r}, "a") as f:
                f.write(json.dumps(kw) + "\\n")

        def test_one(qualify_server, partner):
            assert not qualify_server.url.endswith("/")
            assert qualify_server.owned
            assert len({{partner.token, partner.app_token, partner.admin_token}}) == 3
            r = partner.session.post("/v1/customers", json={{"companyProfile": {{"domain": "one.example"}}}})
            assert r.status_code == 201, r.text
            listed = partner.session.get("/v1/customers").json()["items"]
            record(url=qualify_server.url, pid=qualify_server.process.pid, partner=partner.id,
                   domains=[c["companyProfile"]["domain"] for c in listed])

        def test_two(qualify_server, partner):
            r = partner.session.post("/v1/customers", json={{"companyProfile": {{"domain": "two.example"}}}})
            assert r.status_code == 201, r.text
            listed = partner.session.get("/v1/customers").json()["items"]
            record(url=qualify_server.url, pid=qualify_server.process.pid, partner=partner.id,
                   domains=[c["companyProfile"]["domain"] for c in listed])
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    seen = [json.loads(line) for line in record.read_text().splitlines()]
    assert len({s["url"] for s in seen}) == 1 and len({s["pid"] for s in seen}) == 1
    assert seen[0]["partner"] != seen[1]["partner"]
    assert [s["domains"] for s in seen] == [["one.example"], ["two.example"]]
    assert refused(seen[0]["url"])
    assert not os.path.exists(f"/proc/{seen[0]['pid']}")
    assert qualify_serve_pids() <= before


def test_with_the_plugin_off_nothing_starts_and_nothing_is_left(pytester):
    before = qualify_serve_pids()
    pytester.makepyfile(textwrap.dedent("""
        import os

        def children_named_qualify():
            me = str(os.getpid())
            found = []
            for entry in filter(str.isdigit, os.listdir("/proc")):
                try:
                    stat = open(f"/proc/{entry}/stat").read()
                except OSError:
                    continue
                name, ppid = stat.split("(", 1)[1].split(")")[0], stat.rsplit(")", 1)[1].split()[1]
                if ppid == me and name == "qualify":
                    found.append(entry)
            return found

        def test_nothing_runs_for_this_session():
            assert children_named_qualify() == []

        def test_the_fixtures_are_absent(partner):
            pass
    """))
    result = pytester.runpytest_subprocess("-p", "no:qualify", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'partner' not found*"])
    assert qualify_serve_pids() <= before


def test_two_xdist_workers_share_one_server_without_seeing_each_others_partners(pytester, tmp_path):
    before = qualify_serve_pids()
    record = tmp_path / "seen.jsonl"
    pytester.makepyfile(textwrap.dedent(f"""
        import json, os, pytest

        @pytest.mark.parametrize("n", range(8))
        def test_partner(qualify_server, partner, n):
            domain = f"{{partner.id}}.example"
            r = partner.session.post("/v1/customers", json={{"companyProfile": {{"domain": domain}}}})
            assert r.status_code == 201, r.text
            listed = partner.session.get("/v1/customers").json()["items"]
            assert [c["companyProfile"]["domain"] for c in listed] == [domain]
            assert not qualify_server.owned  # the controller's server, attached to
            with open({str(record)!r}, "a") as f:
                f.write(json.dumps({{"worker": os.environ["PYTEST_XDIST_WORKER"],
                                     "url": qualify_server.url, "partner": partner.id}}) + "\\n")
    """))
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "load", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    seen = [json.loads(line) for line in record.read_text().splitlines()]
    assert {s["worker"] for s in seen} == {"gw0", "gw1"}
    assert len({s["url"] for s in seen}) == 1, seen
    assert len({s["partner"] for s in seen}) == 8
    assert refused(seen[0]["url"])  # stopped once both workers were done
    assert qualify_serve_pids() <= before


def test_qualify_url_attaches_and_leaves_the_server_running(pytester, monkeypatch):
    with qualify.Server.start() as server:
        monkeypatch.setenv("QUALIFY_URL", server.url)  # pytester's subprocess inherits it
        pytester.makepyfile(textwrap.dedent(f"""
            def test_attached(qualify_server, partner):
                assert qualify_server.url == {server.url!r}
                assert not qualify_server.owned
                assert partner.session.get("/v1/customers").status_code == 200
        """))
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200


def test_serve_arguments_and_a_seed_from_the_ini_file(pytester):
    seeded_partner = "7c4a1a4e-5f0e-4a38-9d3a-0c6c9b1b2f10"
    seeded_customer = "2b3f6a7e-1f1e-4c55-9b0a-3c2d1e0f9a8b"
    pytester.makefile(".json", seed=json.dumps({"version": 1, "partners": [{
        "id": seeded_partner,
        "customers": [{"id": seeded_customer, "companyProfile": {"domain": "seeded.example"}}],
    }]}))
    pytester.makeini("[pytest]\nqualify_args = --vetting=auto\nqualify_seed = seed.json\n")
    pytester.makepyfile(textwrap.dedent(f"""
        def test_seed_applied(qualify_server):
            seeded = qualify_server.partner({seeded_partner!r})
            r = seeded.session.get("/v1/customers/{seeded_customer}")
            assert r.status_code == 200, r.text

        def test_auto_vetting_decides(partner):
            c = partner.session.post("/v1/customers",
                                     json={{"companyProfile": {{"domain": "contoso.onmicrosoft.com"}}}}).json()["id"]
            partner.session.post(f"/v1/customers/{{c}}/qualifications",
                                 json={{"qualification": "Education", "educationSegment": "K12",
                                       "website": "contoso.edu"}})
            partner.advance("0s")
            got = partner.session.get(f"/v1/customers/{{c}}/qualifications").json()
            assert got[0]["vettingStatus"] == "Approved", got
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_serve_arguments_from_the_command_line(pytester):
    pytester.makepyfile(textwrap.dedent("""
        def test_rate_limit(partner):
            statuses = [partner.session.get("/v1/customers").status_code for _ in range(3)]
            assert statuses == [200, 200, 429], statuses
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           "--qualify-arg=--rate-limit-per-minute=2")
    result.assert_outcomes(passed=1)


def test_checks_raise_when_the_journal_lost_some_of_the_partners_requests(pytester):
    """A partner whose requests outgrew --journal-size: what is left has no violation, yet
    checks() raises, naming journal-incomplete, instead of passing on part of the traffic."""
    pytester.makepyfile(textwrap.dedent("""
        import pytest
        from qualify.partner import ClientChecksFailed

        def test_incomplete(partner):
            for _ in range(3):
                assert partner.session.get("/v1/customers").status_code == 200
            assert partner.checks()["complete"] is True
            for _ in range(5):
                partner.session.get("/v1/customers")
            with pytest.raises(ClientChecksFailed) as failed:
                partner.checks()
            assert [v["check"] for v in failed.value.violations] == ["journal-incomplete"]
            assert "3 of the partner's requests" in str(failed.value)
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           "--qualify-arg=--journal-size=5")
    result.assert_outcomes(passed=1)
