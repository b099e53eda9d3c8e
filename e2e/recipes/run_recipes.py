"""Runs the shell recipes of README.md and docs/testing.md as a CI script would, so that what a
new user pastes works (.ci/doc-recipes runs it after `cargo test`, against the debug binary).

A recipe is a ```sh block right after a marker comment:

    <!-- recipe: SESSION [background] [ready=URL] -->

The blocks of one SESSION in one file run in document order as ONE non-interactive script
(`bash --noprofile --norc -euo pipefail`: variables carry over from block to block, aliases do
not exist), in a fresh working directory, with a clean environment (no QUALIFY_* variable).
A `background` block is the other terminal of a walk-through (a server): it runs on its own,
before the session's other blocks, until they are done; `ready=URL` is polled (30 s at most)
before they start.

What the recipes call is what the docs say to install, with one stand-in: `cargo run [-q]
--release -- ARGS` and `qualify ARGS` run QUALIFY_BIN (the binary `cargo test` built), through
a `cargo` and a `qualify` placed first on PATH, so no second build happens here. Any other use
of cargo in a recipe fails the test.

The PostgreSQL session creates the database `qualify` (as the README says to) and drops it
afterwards; it refuses to run when that database exists already (it is not the test's), and is
skipped, saying so, when no PostgreSQL answers on 127.0.0.1:5432.
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Each file and the commands it assumes are installed: the README reaches qualify through cargo
# only (its quickstart defines `qualify` itself); docs/testing.md has it on PATH.
FILES = {"README.md": ["cargo"], "docs/testing.md": ["cargo", "qualify"]}
MARKER = re.compile(r"<!--\s*recipe:\s*([^>]*?)\s*-->\s*\n```(?:sh|bash)\n(.*?)```", re.S)
SESSION_TIMEOUT = 180

CARGO_SHIM = r"""#!/usr/bin/env bash
# The recipe test's stand-in for `cargo run [-q] --release -- ARGS`: the binary cargo test built.
if [ "${1:-}" = run ]; then
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case "$1" in -q|--quiet|--release) shift ;; *) echo "recipe test: cargo run $1 is not stood in for" >&2; exit 97 ;; esac
  done
  [ "${1:-}" = "--" ] && shift
  exec "$QUALIFY_BIN" "$@"
fi
echo "recipe test: only 'cargo run [-q] --release -- ARGS' is stood in for, not: cargo $*" >&2
exit 97
"""


def recipes(path):
    """{session: [(options, code)]} of one Markdown file, in document order."""
    sessions = {}
    for m in MARKER.finditer((ROOT / path).read_text()):
        words = m.group(1).split()
        session, options = words[0], words[1:]
        sessions.setdefault(session, []).append((options, m.group(2)))
    return sessions


def ready(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def pg_answers():
    return shutil.which("pg_isready") and subprocess.run(
        ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


def pg_has_database(name):
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc",
                          f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip() == "1"


def stop_group(proc, timeout=20.0):
    """SIGTERM to the block's whole process group (the shell and the server it started), then
    waits until every process of it has exited (SIGKILL after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    sig = signal.SIGTERM
    while True:
        try:
            os.killpg(proc.pid, sig if sig else 0)
        except ProcessLookupError:
            break
        sig = 0
        proc.poll()  # reaps the shell itself
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.05)
    proc.wait()


def numbered(code):
    return "\n".join(f"{i:4} | {line}" for i, line in enumerate(code.splitlines(), 1))


def run_session(path, session, blocks, env, work):
    background = [(o, c) for o, c in blocks if "background" in o]
    foreground = [c for o, c in blocks if "background" not in o]
    started = []
    try:
        for options, code in background:
            script = work / f"{session}-background-{len(started)}.sh"
            script.write_text(code)
            log = open(work / f"{script.name}.log", "w")
            proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-euo", "pipefail",
                                     str(script)], cwd=work, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            started.append((proc, log, script))
            urls = [o.split("=", 1)[1] for o in options if o.startswith("ready=")]
            deadline = time.monotonic() + 30
            while urls and not ready(urls[0]):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise AssertionError(
                        f"{path} [{session}]: the background block never made {urls[0]} ready\n"
                        f"{numbered(code)}\n--- its output ---\n"
                        f"{(work / f'{script.name}.log').read_text()}")
                time.sleep(0.1)
        if foreground:
            script = work / f"{session}.sh"
            code = "\n".join(foreground)
            script.write_text(code)
            done = subprocess.run(["bash", "--noprofile", "--norc", "-euo", "pipefail",
                                   str(script)], cwd=work, env=env, capture_output=True,
                                  text=True, timeout=SESSION_TIMEOUT)
            if os.environ.get("RECIPES_VERBOSE"):
                print(f"--- {path} [{session}] ---\n{done.stdout}{done.stderr}")
            if done.returncode != 0:
                raise AssertionError(
                    f"{path} [{session}]: exit {done.returncode}\n{numbered(code)}\n"
                    f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}")
    finally:
        for proc, log, _ in started:
            stop_group(proc)
            log.close()


SETUP = """```sh
cargo run --release -- serve     # run the service (embedded SQLite file ./qualify.db, dev auth, port 8080)
cargo test --workspace           # run the tests
```"""


def readme_layout():
    """The README's "Use it in your CI" one-liners (image, pip, cargo) come before the
    developer's set-up, whose two commands stay as they are."""
    text = (ROOT / "README.md").read_text()
    ci, setup = text.find("## Use it in your CI\n"), text.find("## Set-up: the two commands\n")
    problems = []
    if not 0 <= ci < setup:
        problems.append("README.md: no 'Use it in your CI' section before 'Set-up: the two commands'")
    else:
        block = text[ci:setup].split("```sh\n", 1)[-1].split("```", 1)[0]
        firsts = [line.split()[:2] for line in block.splitlines() if line.strip()]
        if firsts != [["docker", "run"], ["pip", "install"], ["cargo", "install"]]:
            problems.append(f"README.md: the CI one-liners are {firsts}")
    if SETUP not in text[setup:]:
        problems.append("README.md: the set-up block is no longer the two commands")
    return problems


def main():
    binary = os.environ.get("QUALIFY_BIN")
    if not binary or not os.access(binary, os.X_OK):
        sys.exit("run_recipes: QUALIFY_BIN must name the qualify binary to run")
    for tool in ("curl", "jq", "uuidgen", "bash"):
        if not shutil.which(tool):
            sys.exit(f"run_recipes: the recipes need {tool}, which is missing")
    failures, ran = readme_layout(), 0
    with tempfile.TemporaryDirectory(prefix="qualify-recipes-") as tmp:
        tmp = pathlib.Path(tmp)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIFY_")}
        for path, commands in FILES.items():
            shims = tmp / f"bin-{pathlib.Path(path).stem}"
            shims.mkdir()
            (shims / "cargo").write_text(CARGO_SHIM)
            (shims / "cargo").chmod(0o755)
            if "qualify" in commands:
                (shims / "qualify").symlink_to(os.path.abspath(binary))
            env = dict(base_env, QUALIFY_BIN=os.path.abspath(binary),
                       PATH=f"{shims}:{os.environ['PATH']}")
            for session, blocks in recipes(path).items():
                work = tmp / f"{pathlib.Path(path).stem}-{session}"
                work.mkdir()
                created_db = False
                if session == "postgres":
                    if not pg_answers():
                        print(f"SKIPPED {path} [{session}]: no PostgreSQL on 127.0.0.1:5432")
                        continue
                    if pg_has_database("qualify"):
                        failures.append(f"{path} [{session}]: a database `qualify` exists "
                                        "already; the recipe creates it (drop it to run this)")
                        continue
                    created_db = True
                if any("ready=http://127.0.0.1:8080/readyz" in o for opts, _ in blocks for o in opts) \
                        and ready("http://127.0.0.1:8080/readyz"):
                    failures.append(f"{path} [{session}]: something answers on 127.0.0.1:8080 "
                                    "already; the recipe starts its server there")
                    continue
                started = time.monotonic()
                try:
                    run_session(path, session, blocks, env, work)
                    ran += 1
                    print(f"ok {path} [{session}]: {len(blocks)} blocks, "
                          f"{time.monotonic() - started:.1f} s")
                except (AssertionError, subprocess.TimeoutExpired) as e:
                    failures.append(str(e))
                finally:
                    if created_db:
                        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres",
                                        "--if-exists", "qualify"], check=False)
    for f in failures:
        print(f"FAILED {f}\n", file=sys.stderr)
    if failures or ran == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
