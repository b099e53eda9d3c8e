"""Turns the JSON lines of bench/run into bench/results.md."""
import datetime, json, os, platform, subprocess, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
command = sys.argv[2]

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"

cpu = sh("lscpu | sed -n 's/^Model name:[ ]*//p' | head -n1")
cores = os.cpu_count()
mem = sh("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo")
disk = sh("df -h . | awk 'NR==2 {print $1\" (\"$2\")\"}'")
healthz = {r["concurrency"]: r for r in rows if r["scenario"] == "healthz"}

def ratio(r):
    h = healthz.get(r["concurrency"])
    return f'{r["rps"] / h["rps"] * 100:.0f}%' if h and h["rps"] else "-"

out = ["# Benchmark results", "",
       f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
       f"- machine: {cores} cores, {cpu}, {mem} RAM, disk {disk}; {platform.system()} {platform.release()}",
       f"- command: `{command}` (load generator `qualify-load` on the same machine, loopback)",
       "- server: `qualify serve --database sqlite://FRESH.db --rate-limit-per-minute 0` (durable: WAL; group commit; every answer after the fsync of the log)",
       "",
       "Ratios are to `GET /healthz` at the same concurrency in the same run: the number that survives a noisy machine.",
       "",
       "| scenario | concurrency | requests | errors | req/s | p50 ms | p99 ms | vs /healthz |",
       "|---|---|---|---|---|---|---|---|"]
for r in rows:
    if "rps" in r:
        out.append(f'| {r["scenario"]} | {r["concurrency"]} | {r["requests"]} | {r["errors"]} | {r["rps"]:.0f} | {r["p50_ms"]:.2f} | {r["p99_ms"]:.2f} | {ratio(r)} |')
for r in rows:
    if r["scenario"] == "auto_vetting":
        out += ["", "## Auto vetting (open loop, fixed rate)", "",
                f'- rate: {r["rate"]}/s for {r["create_phase_seconds"]} s; created {r["created"]}, decided {r["decided"]}',
                f'- 201 -> terminal (server-side timestamps): p50 {r["to_terminal_p50_ms"]} ms, p99 {r["to_terminal_p99_ms"]} ms, max {r["to_terminal_max_ms"]} ms',
                f'- queue empty {r["queue_drained_seconds_after_last_create"]} s after the last create answered']
    if r["scenario"] == "startup":
        out += ["", "## Start-up to `/readyz` 200", "",
                f'- empty database: {r["empty_ms"]} ms',
                f'- 1,000,000 qualifications (with their jobs and audit events): {r["one_million_ms"]} ms']
    if r["scenario"] == "memory":
        out += ["", "## Memory", "",
                f'- idle RSS: {r["idle_rss_kb"] / 1024:.1f} MiB',
                f'- peak RSS during the c=64 create run: {r["peak_rss_kb_c64_creates"] / 1024:.1f} MiB']
print("\n".join(out))
