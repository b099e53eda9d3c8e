"""docs/ci.md's pipelines, each job run here by pipelines.py: its shell steps as written, the
runner around them emulated. A job passes when every step passes and its reports are there:
the suite's (tests/ = docs/examples/) and `qualify admin checks --junit`'s, both JUnit, with
nothing failed."""
import os
import pathlib
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

import pipelines
import qualify

IMAGE = os.environ.get("QUALIFY_IMAGE", "localhost/qualify:dev")
DIST = pathlib.Path(os.environ.get("QUALIFY_DIST", pipelines.ROOT / "dist"))
DOCS = pipelines.pipelines()


def qualify_serve_pids():
    out = subprocess.run(["pgrep", "-f", "qualify serve"], capture_output=True, text=True)
    return set(out.stdout.split())


def failures(report):
    root = ET.parse(report).getroot()
    cases = list(root.iter("testcase"))
    bad = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    return len(cases), bad


def test_the_guide_has_both_pipelines_pinned_to_this_version():
    assert set(DOCS) == {"github-actions", "azure-devops"}
    assert set(DOCS["github-actions"]["jobs"]) == {"wheel", "container"}
    assert [j["job"] for j in DOCS["azure-devops"]["jobs"]] == ["wheel", "container"]
    pins = set(re.findall(r"qualify-emulator\[webhooks\]==([0-9][^\"\s]*)",
                          pipelines.GUIDE.read_text()))
    assert pins == {qualify.__version__}, pins


@pytest.mark.parametrize("platform,job", [("github-actions", "wheel"),
                                          ("github-actions", "container"),
                                          ("azure-devops", "wheel"),
                                          ("azure-devops", "container")])
def test_a_pipeline_job_runs_here(platform, job, tmp_path):
    before = qualify_serve_pids()
    runner = pipelines.Runner(tmp_path, IMAGE, DIST)
    try:
        if platform == "github-actions":
            ran = pipelines.run_github_job(DOCS[platform], job, runner,
                                           {"QUALIFY_IMAGE": "qualify:from-the-guide"})
        else:
            ran = pipelines.run_azure_job(DOCS[platform], job, runner)
    except AssertionError as e:
        pytest.fail(f"{platform} {job}: {e}\n" + "\n".join(runner.log))
    finally:
        runner.cleanup()
    print(f"\n{platform} {job}: " + "; ".join(ran))
    reports = runner.workspace / "reports"
    count, bad = failures(reports / "pytest.xml")
    assert count >= 6 and bad == [], (count, bad)
    count, bad = failures(reports / "qualify-checks.xml")
    assert count >= 5 and bad == [], (count, bad)
    assert qualify_serve_pids() <= before  # the job left nothing running
