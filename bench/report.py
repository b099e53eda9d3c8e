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
bare = {r["concurrency"]: r for r in rows if r["scenario"] == "healthz_bare"}

def ratio(r, base=None):
    h = (base if base is not None else healthz).get(r["concurrency"])
    return f'{r["rps"] / h["rps"]:.2f}' if h and h["rps"] else "-"

out = ["# Benchmark results", "",
       f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
       f"- machine: {cores} cores, {cpu}, {mem} RAM, disk {disk}; {platform.system()} {platform.release()}",
       f"- command: `{command}` (load generator `qualify-load` on the same machine, loopback)",
       "- server: `qualify serve --database sqlite://FRESH.db --rate-limit-per-minute 0` (durable: WAL, `synchronous=FULL`; group commit)",
       "",
       "Ratios are to `GET /healthz` of qualify and of a bare axum server (`qualify-bare`, the framework's ceiling) at the same concurrency in the same run: the numbers that survive a noisy machine. The journal is on (10,000 entries) and no fault is configured, except in the `_journal_off` rows (`--journal-size 0`); metrics are on (the default) except in the `_metrics_off` rows (`--metrics false`).",
       "",
       "| scenario | concurrency | requests | errors | req/s | p50 ms | p99 ms | vs /healthz | vs bare |",
       "|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    if "rps" in r:
        out.append(f'| {r["scenario"]} | {r["concurrency"]} | {r["requests"]} | {r["errors"]} | {r["rps"]:.0f} | {r["p50_ms"]:.2f} | {r["p99_ms"]:.2f} | {ratio(r)} | {ratio(r, bare)} |')
for r in rows:
    if r["scenario"] == "auto_vetting":
        out += ["", "## Auto vetting (open loop, fixed rate)", "",
                f'- rate: {r["rate"]}/s for {r["create_phase_seconds"]} s; created {r["created"]}, decided {r["decided"]}',
                f'- 201 -> terminal (server-side timestamps): p50 {r["to_terminal_p50_ms"]} ms, p99 {r["to_terminal_p99_ms"]} ms, max {r["to_terminal_max_ms"]} ms',
                f'- queue empty {r["queue_drained_seconds_after_last_create"]} s after the last create answered']
    if r["scenario"] == "webhooks":
        out += ["", f'## Webhooks (events.md 2), {r.get("partners", 1)} partners, a receiver on loopback', "",
                f'- open loop at {r["rate"]}/s (half the c=64 create rate): {r["delivered"]} of {r["created"]} created events delivered; '
                f'create sent -> event received p50 {r["create_to_delivery_p50_ms"]} ms, p99 {r["create_to_delivery_p99_ms"]} ms, max {r["create_to_delivery_max_ms"]} ms',
                f'- a burst of {r["burst_created"]} creates: {r["burst_delivered"]} delivered, {r["deliveries_per_second"]:,.0f} deliveries/s '
                f'(each partner\'s deliveries are attempted one after the other, in transition order)']
    if r["scenario"] == "startup":
        out += ["", "## Start-up to `/readyz` 200", "",
                f'- empty database: {r["empty_ms"]} ms',
                f'- 1,000,000 qualifications (with their jobs and audit events): {r["one_million_ms"]} ms']
    if r["scenario"] == "memory":
        out += ["", "## Memory", "",
                f'- idle RSS: {r["idle_rss_kb"] / 1024:.1f} MiB',
                f'- peak RSS during the c=64 create run: {r["peak_rss_kb_c64_creates"] / 1024:.1f} MiB']
control = {r["scenario"]: r for r in rows if r["scenario"].startswith("control_")}
if control:
    out += ["", "## Test control plane (control.md 1-4), one partner of 10,000 customers", ""]
    for key, what in [("control_seed", "seed (`POST /admin/v1/seed`), one qualification each"),
                      ("control_snapshot", "snapshot of that partner"),
                      ("control_advance", "clock advance deciding every vetting job"),
                      ("control_reset", "reset of that partner")]:
        if key in control:
            out.append(f'- {what}: {control[key]["ms"]:,.0f} ms')
    r = control.get("control_reset")
    if r:
        out.append(f'- another partner creating at c={r["other_concurrency"]} meanwhile: '
                   f'{r["other_rps_before"]:,.0f}/s, p99 {r["other_p99_ms_before"]} ms before the reset; '
                   f'{r["other_rps_during"]:,.0f}/s, p99 {r["other_p99_ms_during"]} ms during it')
# ---- the targets of the performance issue, judged from this run ----
def find(scenario, concurrency=None):
    for r in rows:
        if r["scenario"] == scenario and (concurrency is None or r.get("concurrency") == concurrency):
            return r
    return None

def verdict(ok):
    return "met" if ok else "missed"

targets = []
h64, c64, l64 = healthz.get(64), find("create_qualification", 64), find("list_qualifications", 64)
if h64 and c64:
    share = c64["rps"] / h64["rps"] * 100
    targets.append(("durable creates/s at c=64", "≥ 20% of `/healthz`",
                    f'{c64["rps"]:,.0f}/s = {share:.0f}% of {h64["rps"]:,.0f}', verdict(share >= 20)))
    targets.append(("create p99 at c=64", "≤ 25 ms", f'{c64["p99_ms"]:.1f} ms', verdict(c64["p99_ms"] <= 25)))
if h64 and l64:
    share = l64["rps"] / h64["rps"] * 100
    targets.append(("list req/s at c=64", "≥ 60% of `/healthz`",
                    f'{l64["rps"]:,.0f}/s = {share:.0f}%', verdict(share >= 60)))
v = find("auto_vetting")
if v:
    ok = v["decided"] == v["created"] and v["to_terminal_p99_ms"] <= 1000
    targets.append(("auto vetting", "keeps up at 50% of the max create rate; p99 ≤ 1 s",
                    f'{v["rate"]}/s: {v["decided"]:,} of {v["created"]:,} decided; p99 {v["to_terminal_p99_ms"]} ms',
                    verdict(ok)))
w = find("webhooks")
if w:
    ok = w["delivered"] == w["created"] and w["create_to_delivery_p99_ms"] <= 100
    targets.append(("transition -> delivery", "p99 ≤ 100 ms at 50% of the max create rate",
                    f'{w["rate"]}/s: {w["delivered"]:,} of {w["created"]:,} delivered; p99 {w["create_to_delivery_p99_ms"]} ms (from the create being sent)',
                    verdict(ok)))
s = find("startup")
if s:
    targets.append(("start-up to ready", "≤ 150 ms empty, ≤ 1 s with 1M",
                    f'{s["empty_ms"]} ms, {s["one_million_ms"]} ms',
                    verdict(s["empty_ms"] <= 150 and s["one_million_ms"] <= 1000)))
m = find("memory")
if m:
    idle, peak = m["idle_rss_kb"] / 1024, m["peak_rss_kb_c64_creates"] / 1024
    targets.append(("memory", "≤ 25 MB idle, ≤ 150 MB under c=64 load",
                    f"{idle:.1f} MiB, {peak:.1f} MiB", verdict(idle * 1.048576 <= 25 and peak * 1.048576 <= 150)))
for key, what in [("control_seed", "seed 10,000 customers"), ("control_snapshot", "snapshot 10,000 customers"),
                  ("control_advance", "advance deciding 10,000 jobs"), ("control_reset", "reset of 10,000 customers")]:
    r = control.get(key)
    if r:
        targets.append((what, "≤ 2 s", f'{r["ms"] / 1000:.2f} s', verdict(r["ms"] <= 2000)))
r = control.get("control_reset")
if r:
    targets.append(("another partner's create p99 during a reset", "≤ 50 ms", f'{r["other_p99_ms_during"]} ms',
                    verdict(r["other_p99_ms_during"] <= 50)))
b64 = bare.get(64)
if b64:
    for scenario, name, target in [("healthz", "`/healthz` at c=64", 0.85),
                                   ("create_qualification", "durable creates at c=64", 0.20),
                                   ("list_qualifications", "reads at c=64", 0.50)]:
        r = find(scenario, 64)
        if r:
            share = r["rps"] / b64["rps"]
            targets.append((f"{name} (journal on, no fault)", f"≥ {target:.2f} of bare axum",
                            f'{r["rps"]:,.0f}/s = {share:.2f} of {b64["rps"]:,.0f}', verdict(share >= target)))
for scenario in ["healthz", "list_qualifications", "create_qualification"]:
    on, off = find(scenario, 64), find(scenario + "_journal_off", 64)
    if on and off and off["rps"]:
        loss = (1 - on["rps"] / off["rps"]) * 100
        targets.append((f"journal cost, {scenario} c=64", "≤ 5% of throughput",
                        f'{on["rps"]:,.0f}/s on vs {off["rps"]:,.0f}/s off: {loss:+.1f}%', verdict(loss <= 5)))
for scenario in ["list_qualifications", "create_qualification"]:
    on, off = find(scenario, 64), find(scenario + "_metrics_off", 64)
    if on and off and off["rps"]:
        loss = (1 - on["rps"] / off["rps"]) * 100
        targets.append((f"metrics cost, {scenario} c=64", "≤ 3% of throughput",
                        f'{on["rps"]:,.0f}/s on vs {off["rps"]:,.0f}/s off: ratio {on["rps"] / off["rps"]:.3f}, {loss:+.1f}%',
                        verdict(loss <= 3)))
if targets:
    out += ["", "## Against the targets of the performance issues", "",
            "| figure | target | measured | |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets]
profile = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile.md")
if os.path.exists(profile):
    out += ["", open(profile).read().rstrip()]
print("\n".join(out))
