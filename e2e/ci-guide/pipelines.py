"""Runs the jobs of docs/ci.md's pipelines here: their shell steps as written, in order, with
what a GitHub Actions runner or an Azure DevOps agent would provide emulated — no more than the
pipelines use:

- the checkout: a workspace holding a sample partner suite (docs/examples/ as tests/);
- actions/setup-python, UsePythonVersion: a fresh virtual environment first on PATH (and no
  cargo on it);
- GitHub: `defaults.run.shell`, `env` (workflow, job, step), `${{ vars.X }}` and
  `${{ job.services.S.ports['P'] }}`, `if: always()`, GITHUB_ENV, RUNNER_TEMP, GITHUB_WORKSPACE;
- Azure: `script:` run by bash without -e, `env`, `$(agent.services.S.ports.P)` and other
  `$(variable)` macros, `##vso[task.setvariable]`, `condition: always()`, AGENT_TEMPDIRECTORY;
- services: the service's image replaced by the one CI built (QUALIFY_IMAGE), started with its
  `options` through the `docker` CLI (here podman's Docker API), its ports published on
  127.0.0.1 only, and, like the runners, waited for until healthy (podman runs the health check
  on request here: no systemd to schedule it); `--add-host NAME:host-gateway` is given the
  bridge's gateway address, as Docker Engine does (podman 4.3 does not);
- upload/report steps (upload-artifact, dorny/test-reporter, PublishTestResults): the files they
  name must exist, and the reports must be JUnit XML with test cases.

Processes the steps leave running (a server started with `&`) are ended with the job, as the
runners do; so are the service containers.
"""
from __future__ import annotations

import glob
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "ci.md"
STEP_TIMEOUT = 600


def pipelines():
    """{"github-actions": doc, "azure-devops": doc} from docs/ci.md's marked yaml blocks."""
    text = GUIDE.read_text()
    found = {}
    for m in re.finditer(r"<!--\s*pipeline:\s*(\S+)\s*-->\s*\n```yaml\n(.*?)```", text, re.S):
        found[m.group(1)] = yaml.safe_load(m.group(2))
    return found


def host_gateway(option: str) -> str:
    """`--add-host NAME:host-gateway` as Docker Engine reads it (the host's address on the
    containers' bridge); podman 4.3's Docker API would write "host-gateway" into /etc/hosts."""
    if not option.endswith(":host-gateway"):
        return option
    gateway = subprocess.run(["podman", "network", "inspect", "podman", "--format",
                              "{{range .Subnets}}{{.Gateway}}{{end}}"],
                             check=True, capture_output=True, text=True).stdout.strip()
    return option[: -len("host-gateway")] + gateway


class JobFailed(AssertionError):
    pass


class Runner:
    """What both emulations share: the workspace, the environment, services, cleanup."""

    def __init__(self, work: pathlib.Path, image: str, dist: pathlib.Path):
        self.work = work
        self.image = image
        self.workspace = work / "workspace"
        self.temp = work / "temp"
        self.temp.mkdir(parents=True)
        # The checkout: a partner's repository with a suite in tests/.
        (self.workspace / "tests").mkdir(parents=True)
        for example in (ROOT / "docs" / "examples").glob("test_*.py"):
            shutil.copy(example, self.workspace / "tests" / example.name)
        self.env = {
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "CI": "true",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            # qualify-emulator is not on PyPI yet: pip finds it in CI's dist/.
            "PIP_FIND_LINKS": str(dist),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "PIP_DEFAULT_TIMEOUT"):
            if name in os.environ:
                self.env[name] = os.environ[name]
        self.groups: list[int] = []
        self.containers: list[str] = []
        self.log: list[str] = []

    def setup_python(self):
        venv = self.work / "python"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        self.env["PATH"] = f"{venv}/bin:{self.env['PATH']}"

    def start_service(self, name: str, ports: list, options: str) -> dict:
        """Starts a service container; returns {container port: host port}."""
        args = ["docker", "run", "-d"]
        for port in ports:
            port = str(port).split(":")[-1]  # "8080", "8080/tcp" (a host part is replaced)
            args += ["-p", f"127.0.0.1::{port}"]
        args += [host_gateway(o) for o in shlex.split(options or "")] + [self.image]
        cid = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()
        self.containers.append(cid)
        mapped = {}
        for port in ports:
            port = str(port).split(":")[-1].split("/")[0]
            out = subprocess.run(["docker", "port", cid, f"{port}/tcp"], check=True,
                                 capture_output=True, text=True).stdout.split()[0]
            mapped[port] = out.rsplit(":", 1)[1]
        self._wait_healthy(name, cid)
        return mapped

    def _wait_healthy(self, name, cid, timeout=60.0):
        deadline = time.monotonic() + timeout
        while True:
            subprocess.run(["podman", "healthcheck", "run", cid], capture_output=True, timeout=30)
            status = subprocess.run(["docker", "inspect", "--format", "{{.State.Health.Status}}",
                                     cid], capture_output=True, text=True).stdout.strip()
            if status == "healthy":
                return
            if time.monotonic() > deadline:
                logs = subprocess.run(["docker", "logs", cid], capture_output=True, text=True)
                raise JobFailed(f"service {name} never became healthy ({status}):\n"
                                f"{logs.stdout}{logs.stderr}")
            time.sleep(0.5)

    def run_shell(self, argv: list, script: str, env: dict, label: str):
        path = self.temp / f"step-{len(self.groups)}.sh"
        path.write_text(script)
        proc = subprocess.Popen(argv + [str(path)], cwd=self.workspace, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        self.groups.append(proc.pid)
        try:
            out, _ = proc.communicate(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            return 124, out
        self.log.append(f"--- {label} (exit {proc.returncode}) ---\n{out}")
        return proc.returncode, out

    def check_reports(self, pattern: str, junit: bool):
        files = [f for f in glob.glob(str(self.workspace / pattern), recursive=True)
                 if os.path.isfile(f)] if not pattern.endswith("/") else [
            str(p) for p in (self.workspace / pattern).glob("**/*") if p.is_file()]
        if not files:
            raise JobFailed(f"no file matches {pattern!r} for the upload/report step")
        if junit:
            for f in files:
                root = ET.parse(f).getroot()
                if not list(root.iter("testcase")):
                    raise JobFailed(f"{f} is not a JUnit report with test cases")
        return files

    def cleanup(self):
        for pgid in self.groups:
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for cid in self.containers:
            subprocess.run(["docker", "rm", "-f", "-v", cid], capture_output=True)


# --- GitHub Actions ------------------------------------------------------------------------------
GH_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def run_github_job(doc: dict, job_name: str, runner: Runner, variables: dict) -> list:
    job = doc["jobs"][job_name]
    services_ports: dict = {}

    def evaluate(expr: str) -> str:
        m = re.fullmatch(r"vars\.(\w+)", expr)
        if m:
            return variables[m.group(1)]
        m = re.fullmatch(r"job\.services\.(\w+)\.ports\['(\d+)'\]", expr)
        if m:
            return services_ports[m.group(1)][m.group(2)]
        raise JobFailed(f"the emulated runner does not evaluate ${{{{ {expr} }}}}")

    def expand(value):
        return GH_EXPR.sub(lambda m: evaluate(m.group(1)), str(value))

    for name, service in (job.get("services") or {}).items():
        expand(service["image"])  # must evaluate; the image itself is CI's
        services_ports[name] = runner.start_service(name, service.get("ports", []),
                                                    expand(service.get("options", "")))

    shell = ((doc.get("defaults") or {}).get("run") or {}).get("shell")
    argv = (["bash", "--noprofile", "--norc", "-eo", "pipefail"] if shell == "bash"
            else ["bash", "-e"])
    github_env = runner.temp / "github_env"
    github_env.touch()
    base = dict(runner.env, GITHUB_ACTIONS="true", GITHUB_ENV=str(github_env),
                RUNNER_TEMP=str(runner.temp), GITHUB_WORKSPACE=str(runner.workspace))
    for scope in (doc.get("env") or {}, job.get("env") or {}):
        base.update({k: expand(v) for k, v in scope.items()})

    failed, ran = False, []
    for i, step in enumerate(job["steps"]):
        label = step.get("name") or step.get("uses") or f"step {i}"
        condition = str(step.get("if", "")).strip()
        if failed and condition != "always()":
            continue
        if condition not in ("", "always()"):
            raise JobFailed(f"{label}: the emulated runner does not evaluate if: {condition}")
        uses = step.get("uses", "")
        if uses.startswith("actions/checkout@"):
            pass
        elif uses.startswith("actions/setup-python@"):
            runner.setup_python()
        elif uses.startswith("actions/upload-artifact@"):
            runner.check_reports(step["with"]["path"], junit=False)
        elif uses.startswith("dorny/test-reporter@"):
            runner.check_reports(step["with"]["path"], junit=True)
        elif uses:
            raise JobFailed(f"the emulated runner does not know {uses}")
        else:
            env = dict(base, PATH=runner.env["PATH"])
            for line in github_env.read_text().splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    env[k] = v
            env.update({k: expand(v) for k, v in (step.get("env") or {}).items()})
            code, out = runner.run_shell(argv, expand(step["run"]), env, label)
            if code != 0:
                failed = True
                runner.log.append(f"step failed: {label}")
        ran.append(label)
    if failed:
        raise JobFailed("a step failed")
    return ran


# --- Azure DevOps --------------------------------------------------------------------------------
AZ_MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)")


def run_azure_job(doc: dict, job_name: str, runner: Runner) -> list:
    job = next(j for j in doc["jobs"] if j["job"] == job_name)
    resources = {c["container"]: c for c in (doc.get("resources") or {}).get("containers", [])}
    variables: dict = {}
    for name, ref in (job.get("services") or {}).items():
        resource = resources[ref]
        mapped = runner.start_service(name, resource.get("ports", []),
                                      resource.get("options", ""))
        for port, host in mapped.items():
            variables[f"agent.services.{name}.ports.{port}"] = host

    def expand(value: str) -> str:
        return AZ_MACRO.sub(lambda m: variables.get(m.group(1), m.group(0)), str(value))

    def as_env(name: str) -> str:
        return name.upper().replace(".", "_")

    failed, ran = False, []
    for i, step in enumerate(job["steps"]):
        label = step.get("displayName") or step.get("task") or f"step {i}"
        condition = str(step.get("condition", "")).strip()
        if failed and condition != "always()":
            continue
        if condition not in ("", "always()", "succeeded()"):
            raise JobFailed(f"{label}: the emulated agent does not evaluate {condition}")
        task = step.get("task", "")
        if task.startswith("UsePythonVersion@"):
            runner.setup_python()
        elif task.startswith("PublishTestResults@"):
            assert step["inputs"]["testResultsFormat"] == "JUnit"
            runner.check_reports(step["inputs"]["testResultsFiles"], junit=True)
        elif task:
            raise JobFailed(f"the emulated agent does not know the task {task}")
        else:
            env = dict(runner.env, TF_BUILD="True", AGENT_TEMPDIRECTORY=str(runner.temp),
                       BUILD_SOURCESDIRECTORY=str(runner.workspace),
                       SYSTEM_DEFAULTWORKINGDIRECTORY=str(runner.workspace))
            env.update({as_env(k): v for k, v in variables.items()})
            env.update({k: expand(v) for k, v in (step.get("env") or {}).items()})
            code, out = runner.run_shell(["bash", "--noprofile", "--norc"],
                                         expand(step["script"]), env, label)
            for m in re.finditer(r"##vso\[task\.setvariable variable=([^;\]]+)[^\]]*\](.*)", out):
                variables[m.group(1)] = m.group(2).strip()
            if code != 0:
                failed = True
                runner.log.append(f"step failed: {label}")
        ran.append(label)
    if failed:
        raise JobFailed("a step failed")
    return ran
