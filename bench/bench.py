#!/usr/bin/env python3
"""Latency benchmark driver: direct mock vs hegui vs LiteLLM proxy, at fixed request rates.

Started by bench/run.sh (which installs the tools and builds the binaries); it can also be run
alone when every path is given. Standard library only.

For each reply size (short, long) it starts one mock upstream in bench mode, one hegui and one
LiteLLM proxy pointing at that same mock, then for each mode (non-stream, stream) and each rate
measures the three targets one after the other with oha at a fixed request rate, with latency
correction (latency counts from the moment a request was due, not from when it was sent).

Outputs, in the run directory (bench/results/<UTC timestamp>/):
  <workload>-<rate>-<target>.json   raw oha JSON of each measured point
  summary.json                      every figure used in the table
  summary.md                        the markdown table (also printed to stdout)
  progress.json                     the points so far, written after each one (for --redo-noisy)
  logs/                             stdout/stderr of the servers, the configs used
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROMPT = "请用三句话介绍一下长城的历史。"
MODEL = "mock-small"
CHUNK_TEXT = "你好世界"
SIZES = {"short": 8, "long": 200}  # content chunks of CHUNK_TEXT in the mock's reply
LITELLM_MASTER_KEY = "sk-hegui-bench-0123456789"

# Thresholds of the targets.
HEGUI_P99_BUDGET_MS = 1.0
HEGUI_BUDGET_RATE = 1000
LITELLM_RATIO_TARGET = 5.0
SUSTAIN_RATE_FRACTION = 0.90
SUSTAIN_MAX_ERROR_FRACTION = 0.01


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> "NoReturn":  # noqa: F821
    log(f"ERROR: {msg}")
    raise SystemExit(2)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


class Procs:
    """Background servers, each in its own process group; all are stopped on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
        out = open(self.log_dir / f"{name}.out", "ab")
        err = open(self.log_dir / f"{name}.err", "ab")
        log(f"start {name}: {' '.join(argv)}")
        p = subprocess.Popen(
            argv,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        out.close()
        err.close()
        self.procs.append((name, p))
        return p

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        # Children left in the group (e.g. LiteLLM workers) go too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.procs = [(n, p) for (n, p) in self.procs if p is not proc]

    def stop_all(self) -> None:
        for _, p in list(reversed(self.procs)):
            self.stop(p)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def group_cpu_s(pgid: int) -> float:
    """User+system CPU seconds of every live process in a process group (the server and, for
    LiteLLM, its workers)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        # fields[0] is field 3 (state); pgrp is field 5, utime 14, stime 15.
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def busy_cpu_s() -> float:
    """Machine-wide busy CPU seconds since boot (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    # guest time is already counted in user/nice
    total = sum(vals[:8])
    return (total - idle) / CLK_TCK


def children_cpu_s() -> float:
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wait_quiet(max_cores: float, timeout: float) -> float:
    """Waits until the machine is nearly idle between points (another job, e.g. a compiler,
    would distort the figures); returns the busy cores seen last."""
    deadline = time.monotonic() + timeout
    warned = False
    while True:
        b0, t0 = busy_cpu_s(), time.monotonic()
        time.sleep(1.0)
        cores = (busy_cpu_s() - b0) / (time.monotonic() - t0)
        if cores <= max_cores or time.monotonic() >= deadline:
            if cores > max_cores:
                log(f"machine still busy ({cores:.2f} cores used by others); measuring anyway")
            return cores
        if not warned:
            log(f"machine busy ({cores:.2f} cores used by something else); waiting up to {timeout:.0f}s")
            warned = True


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 10.0):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, dict(resp.headers), resp.read()


def wait_ready(name: str, proc: subprocess.Popen, url: str, timeout: float, log_dir: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (log_dir / f"{name}.err").read_text(errors="replace")[-3000:]
            die(f"{name} exited with code {proc.returncode} before it was ready; stderr tail:\n{tail}")
        try:
            status, _, _ = http("GET", url, timeout=2)
            if status == 200:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    die(f"{name} not ready at {url} after {timeout:.0f}s (logs in {log_dir})")


# ---------------------------------------------------------------------------------------------
# Setup of the three targets
# ---------------------------------------------------------------------------------------------


def run_cli(argv: list[str]) -> str:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        die(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def hegui_config(path: Path, listen: str, db: Path, mock_base: str) -> None:
    path.write_text(
        f"""# Written by bench/bench.py: every stage on, durable SQLite records.
[server]
listen = "{listen}"

[storage]
database_url = "sqlite://{db}"

[upstream]
base_url = "{mock_base}"

[identity]
require_verification = true

[review]
input = true
output = true
demo_lexicon = true

[label]
explicit_position = "end"
header = true

[log]
level = "warn"
"""
    )


def litellm_config(path: Path, mock_base: str) -> None:
    # Production settings from LiteLLM's own "best practices" page, minus what needs a DB.
    path.write_text(
        f"""# Written by bench/bench.py.
model_list:
  - model_name: {MODEL}
    litellm_params:
      model: openai/{MODEL}
      api_base: {mock_base}
      api_key: x

general_settings:
  master_key: {LITELLM_MASTER_KEY}
  disable_spend_logs: true
  disable_error_logs: true

litellm_settings:
  request_timeout: 600
  set_verbose: false
  json_logs: true
"""
    )


def request_body(stream: bool) -> str:
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        body["stream"] = True
    return json.dumps(body, ensure_ascii=False)


def check_target(name: str, url: str, headers: dict, stream: bool, expect_chars: int) -> None:
    """One request per target and mode before measuring: the reply must be complete."""
    hdrs = dict(headers)
    hdrs["Content-Type"] = "application/json"
    try:
        status, resp_headers, body = http("POST", url, request_body(stream).encode(), hdrs, timeout=30)
    except urllib.error.HTTPError as e:
        die(f"{name}: sanity request failed with HTTP {e.code}: {e.read()[:500]!r}")
    text = body.decode("utf-8", "replace")
    if stream:
        content = ""
        for line in text.splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                ev = json.loads(line[6:])
                for ch in ev.get("choices") or []:
                    content += (ch.get("delta") or {}).get("content") or ""
        if "data: [DONE]" not in text:
            die(f"{name}: stream did not end with [DONE]: {text[-300:]!r}")
    else:
        content = json.loads(text)["choices"][0]["message"]["content"]
    got = content.count(CHUNK_TEXT)
    if got != expect_chars:
        die(f"{name}: expected {expect_chars}x{CHUNK_TEXT!r} in the reply, got {got}: {content[:200]!r}")
    extra = ""
    if name.startswith("hegui"):
        lower = {k.lower(): v for k, v in resp_headers.items()}
        extra = f" (x-aigc header {'present' if 'x-aigc' in lower else 'MISSING'})"
    log(f"sanity {name} {'stream' if stream else 'json'}: HTTP {status}, {len(content)} chars{extra}")


# ---------------------------------------------------------------------------------------------
# Load generation
# ---------------------------------------------------------------------------------------------


class Oha:
    def __init__(self, path: str, connections: int) -> None:
        self.path = path
        self.connections = connections
        help_text = subprocess.run([path, "--help"], capture_output=True, text=True).stdout
        if "--output-format" in help_text:
            self.json_flag = ["--output-format", "json"]
        elif "--json" in help_text:
            self.json_flag = ["--json"]
        else:
            die("this oha prints no JSON (neither --output-format json nor --json)")
        self.no_tui = ["--no-tui"] if "--no-tui" in help_text else []
        if "--latency-correction" not in help_text:
            die("this oha has no --latency-correction")
        self.wait_ongoing = ["-w"] if "--wait-ongoing-requests-after-deadline" in help_text else []
        self.version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()

    def run(self, url: str, headers: dict, body: str, rate: int, seconds: float, out: Path | None) -> dict:
        argv = [self.path, *self.no_tui, *self.json_flag, "--latency-correction", *self.wait_ongoing,
                "-q", str(rate), "-z", f"{seconds}s", "-c", str(self.connections), "-m", "POST",
                "-H", "Content-Type: application/json"]
        for k, v in headers.items():
            argv += ["-H", f"{k}: {v}"]
        argv += ["-d", body, url]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
        if r.returncode != 0:
            die(f"oha failed ({r.returncode}): {r.stderr.strip()[:1000]}")
        data = json.loads(r.stdout)
        if out is not None:
            out.write_text(json.dumps({"argv": argv, "oha": data}, ensure_ascii=False, indent=1))
        return data


def summarize(data: dict, rate: int, seconds: float) -> dict:
    status = {int(k): int(v) for k, v in (data.get("statusCodeDistribution") or {}).items()}
    errors_dist = {k: int(v) for k, v in (data.get("errorDistribution") or {}).items()}
    ok = sum(v for k, v in status.items() if 200 <= k < 300)
    bad_status = sum(v for k, v in status.items() if not 200 <= k < 300)
    errors = bad_status + sum(errors_dist.values())
    total = ok + errors
    pct = data.get("latencyPercentiles") or {}
    def ms(key):
        v = pct.get(key)
        return None if v is None else float(v) * 1000.0
    achieved = ok / seconds
    sustained = total > 0 and achieved >= SUSTAIN_RATE_FRACTION * rate and errors <= SUSTAIN_MAX_ERROR_FRACTION * total
    return {
        "rate": rate,
        "seconds": seconds,
        "ok": ok,
        "errors": errors,
        "status": status,
        "error_kinds": errors_dist,
        "achieved_rps": achieved,
        "oha_rps": (data.get("summary") or {}).get("requestsPerSec"),
        "p50_ms": ms("p50"),
        "p90_ms": ms("p90"),
        "p99_ms": ms("p99"),
        "p999_ms": ms("p99.9"),
        "sustained": sustained,
    }


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def fmt_ms(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def fmt_pair(a, b) -> str:
    return f"{fmt_ms(a)} / {fmt_ms(b)}"


def ratio(lite_added, hegui_added):
    if lite_added is None or hegui_added is None:
        return None
    if hegui_added <= 0:
        return float("inf") if lite_added > 0 else None
    return lite_added / hegui_added


def fmt_ratio(r) -> str:
    if r is None:
        return "—"
    if r == float("inf"):
        return "∞ (hegui added ≤ 0)"
    return f"{r:.1f}×"


def not_sustained(s: dict) -> str:
    return f"not sustained ({s['achieved_rps']:.0f}/s, {s['errors']} err)"


def analyse(points: dict, workloads: list[str], rates: list[int], targets: list[str]) -> dict:
    rows = []
    for w in workloads:
        for r in rates:
            row = {"workload": w, "rate": r}
            for t in targets:
                row[t] = points.get((w, r, t))
            d = row.get("direct")
            for t in ("hegui", "litellm"):
                s = row.get(t)
                if d and s and d["sustained"] and s["sustained"]:
                    row[f"{t}_added_p50"] = s["p50_ms"] - d["p50_ms"]
                    row[f"{t}_added_p99"] = s["p99_ms"] - d["p99_ms"]
                else:
                    row[f"{t}_added_p50"] = row[f"{t}_added_p99"] = None
            row["ratio_p50"] = ratio(row["litellm_added_p50"], row["hegui_added_p50"])
            row["ratio_p99"] = ratio(row["litellm_added_p99"], row["hegui_added_p99"])
            rows.append(row)

    # Target 1: hegui's added p99 <= 1 ms at 1000 req/s, every workload.
    t1 = []
    for row in rows:
        if row["rate"] != HEGUI_BUDGET_RATE or "hegui" not in targets:
            continue
        s = row.get("hegui")
        if s is None:
            continue
        if not s["sustained"]:
            t1.append((row["workload"], False, f"hegui {not_sustained(s)}"))
        elif row["hegui_added_p99"] is None:
            t1.append((row["workload"], False, "no baseline"))
        else:
            a = row["hegui_added_p99"]
            t1.append((row["workload"], a <= HEGUI_P99_BUDGET_MS, f"added p99 {a:.3f} ms"))

    # Target 2: at every rate LiteLLM sustains, hegui's added p99 is >= 5x lower.
    t2 = []
    for row in rows:
        lite = row.get("litellm")
        if lite is None or "hegui" not in targets:
            continue
        if not lite["sustained"]:
            t2.append((row["workload"], row["rate"], None, f"LiteLLM {not_sustained(lite)}: not counted"))
            continue
        h = row.get("hegui")
        if h is None or not h["sustained"]:
            t2.append((row["workload"], row["rate"], False, "hegui not sustained where LiteLLM is"))
            continue
        rr = row["ratio_p99"]
        if rr is None:
            t2.append((row["workload"], row["rate"], None, "LiteLLM added p99 ≤ 0: no ratio"))
        else:
            t2.append((row["workload"], row["rate"], rr >= LITELLM_RATIO_TARGET,
                       f"LiteLLM added p99 {row['litellm_added_p99']:.3f} ms vs hegui {row['hegui_added_p99']:.3f} ms = {fmt_ratio(rr)}"))
    return {"rows": rows, "target1": t1, "target2": t2}


# ---------------------------------------------------------------------------------------------
# hegui's own view: /metrics histograms and the durable records of each measured point
# ---------------------------------------------------------------------------------------------


def scrape_metrics(url: str) -> dict:
    """Cumulative bucket counts of hegui's latency histograms, keyed (metric, le)."""
    out = {}
    try:
        _, _, body = http("GET", url, timeout=5)
    except (urllib.error.URLError, OSError):
        return out
    for line in body.decode().splitlines():
        if not line.startswith("hegui_") or "_bucket{" not in line:
            continue
        name, rest = line.split("{", 1)
        le = rest.split('le="', 1)[1].split('"', 1)[0]
        out[(name[: -len("_bucket")], le)] = float(line.rsplit(" ", 1)[1])
    return out


def metrics_delta(before: dict, after: dict) -> dict:
    """Per metric: quantile estimates (upper bound of the bucket holding it) for the interval."""
    res = {}
    names = {n for n, _ in after}
    for name in names:
        buckets = []
        for (n, le), v in after.items():
            if n != name:
                continue
            bound = float("inf") if le == "+Inf" else float(le)
            buckets.append((bound, v - before.get((n, le), 0.0)))
        buckets.sort()
        total = buckets[-1][1] if buckets else 0
        if total <= 0:
            continue
        def q(frac):
            for bound, cum in buckets:
                if cum >= frac * total:
                    return bound * 1000.0
            return float("inf")
        short = name.replace("hegui_", "").replace("_seconds", "")
        res[short] = {"count": int(total), "p50_le_ms": q(0.5), "p99_le_ms": q(0.99)}
    return res


def pct(values: list, q: float):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def records_diag(db: Path, diag: dict) -> None:
    """For each measured hegui point: how many records, and hegui's time outside the upstream
    as the record states it (latency_us is taken just before the record is written)."""
    con = sqlite3.connect(str(db))
    try:
        for key, d in diag.items():
            t0, t1 = d["window_ms"]
            rows = con.execute("SELECT j.record FROM interactions i JOIN journal j ON j.id = i.id "
                               "WHERE i.received_at >= ? AND i.received_at <= ?",
                               (t0, t1)).fetchall()
            pre, up = [], []
            for (text,) in rows:
                r = json.loads(text)
                if r.get("upstream_us") is not None:
                    pre.append((r["latency_us"] - r["upstream_us"]) / 1000.0)
                    up.append(r["upstream_us"] / 1000.0)
            d["records"] = len(rows)
            d["pre_write_overhead_ms"] = {"p50": pct(pre, 0.5), "p99": pct(pre, 0.99)}
            d["upstream_ms"] = {"p50": pct(up, 0.5), "p99": pct(up, 0.99)}
    finally:
        con.close()


def render_diag(diag: dict) -> str:
    if not diag:
        return ""
    out = ["", "hegui's own view of each measured hegui point (diagnostic): *records* = rows written in the "
           "point's time window (one per request, whatever its outcome); *before record* = "
           "latency_us − upstream_us from the records (identity, review, labeling, relaying; taken "
           "just before the durable write); *total overhead* and *upstream* = hegui's /metrics "
           "histograms (total includes the durable write; bucket upper bounds, so \"≤\").", ""]
    out.append("| workload | req/s | 2xx · records | before record p50/p99 ms | total overhead p50/p99 ms | upstream p50/p99 ms |")
    out.append("|---|---|---|---|---|---|")
    for (w, r), d in diag.items():
        m = d.get("metrics", {})
        ov = m.get("overhead")
        upm = m.get("upstream_duration")
        pre = d.get("pre_write_overhead_ms") or {}
        out.append("| " + " | ".join([
            w, str(r), f"{d['ok']} · {d.get('records', '—')}",
            fmt_pair(pre.get("p50"), pre.get("p99")),
            "—" if not ov else f"≤ {ov['p50_le_ms']:g} / ≤ {ov['p99_le_ms']:g}",
            "—" if not upm else f"≤ {upm['p50_le_ms']:g} / ≤ {upm['p99_le_ms']:g}",
        ]) + " |")
    return "\n".join(out)


def render(result: dict, meta: dict, targets: list[str]) -> str:
    rows = result["rows"]
    out = []
    out.append(f"Run {meta['started_utc']} UTC · {meta['duration_s']:g} s per point · "
               f"{meta['connections']} connections · rates {', '.join(map(str, meta['rates']))} req/s · "
               f"{meta['machine']['nproc']} cores ({meta['machine']['cpu']}) · {meta['oha']} · LiteLLM {meta['litellm_version']} "
               f"({meta['litellm_workers']} worker(s))")
    if len(meta.get("sources") or {}) > 1:
        out.append("")
        out.append("This table merges runs: a row in which another process loaded the machine during a point (or "
                   "that an interrupted run never reached) was measured again, all three targets together:")
        by_run: dict = {}
        for row in rows:
            runs = {row[t].get("run") for t in targets if row.get(t)}
            for r in runs:
                by_run.setdefault(r, []).append(f"{row['workload']}@{row['rate']}")
        for name, started in meta["sources"].items():
            if by_run.get(name):
                out.append(f"- {started} UTC ({name}): {', '.join(by_run[name])}")
    out.append("")
    out.append("Latency in ms, p50 / p99, full response (last byte) from the moment each request was due "
               "(oha --latency-correction). *added* = target minus direct at the same rate and workload.")
    out.append("")
    head = ["workload", "req/s", "direct p50/p99"]
    if "hegui" in targets:
        head += ["hegui p50/p99", "hegui added p50/p99"]
    if "litellm" in targets:
        head += ["LiteLLM p50/p99", "LiteLLM added p50/p99"]
    if "hegui" in targets and "litellm" in targets:
        head += ["LiteLLM÷hegui added p50 / p99"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for row in rows:
        cells = [row["workload"], str(row["rate"])]
        d = row.get("direct")
        cells.append("—" if d is None else (fmt_pair(d["p50_ms"], d["p99_ms"]) if d["sustained"] else not_sustained(d)))
        for t in ("hegui", "litellm"):
            if t not in targets:
                continue
            s = row.get(t)
            if s is None:
                cells += ["—", "—"]
            elif not s["sustained"]:
                cells += [not_sustained(s), "—"]
            else:
                cells += [fmt_pair(s["p50_ms"], s["p99_ms"]), fmt_pair(row[f"{t}_added_p50"], row[f"{t}_added_p99"])]
        if "hegui" in targets and "litellm" in targets:
            cells.append(f"{fmt_ratio(row['ratio_p50'])} / {fmt_ratio(row['ratio_p99'])}")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("Achieved rate (successful responses per second of the run), errors (non-2xx or transport) and the "
               "CPU time the target's own processes used per successful request (for direct: the mock's; for "
               "hegui and LiteLLM: theirs alone, the mock's comes on top); *other load* = CPU used during the "
               "point by anything but the servers and oha (the harness itself, the machine's own services, "
               "other jobs), highest of the row's three points:")
    out.append("")
    head2 = ["workload", "req/s"] + [f"{t} ok/s · errors · CPU/req" for t in targets] + ["other load (cores, max)"]
    out.append("| " + " | ".join(head2) + " |")
    out.append("|" + "---|" * len(head2))
    for row in rows:
        cells = [row["workload"], str(row["rate"])]
        for t in targets:
            s = row.get(t)
            if s is None:
                cells.append("—")
            else:
                extra = ""
                if s["errors"]:
                    kinds = {**{f"HTTP {k}": v for k, v in s["status"].items() if not 200 <= k < 300}, **s["error_kinds"]}
                    extra = " (" + "; ".join(f"{k}: {v}" for k, v in list(kinds.items())[:3]) + ")"
                cpu = (s.get("cpu_s") or {}).get(t)
                cpu_txt = f" · {cpu / max(s['ok'], 1) * 1e6:.0f} µs" if cpu is not None else ""
                cells.append(f"{s['achieved_rps']:.0f} · {s['errors']}{extra}{cpu_txt}")
        others = [row[t]["other_cores"] for t in targets if row.get(t) and row[t].get("other_cores") is not None]
        cells.append(f"{max(others):.2f}" if others else "—")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("Targets:")
    t1 = result["target1"]
    if t1:
        ok = all(p for _, p, _ in t1)
        out.append(f"- hegui added p99 ≤ {HEGUI_P99_BUDGET_MS:g} ms at {HEGUI_BUDGET_RATE} req/s: "
                   f"**{'MET' if ok else 'MISSED'}** — " + "; ".join(f"{w}: {d}{'' if p else ' ✗'}" for w, p, d in t1))
    else:
        out.append(f"- hegui added p99 ≤ {HEGUI_P99_BUDGET_MS:g} ms at {HEGUI_BUDGET_RATE} req/s: not measured (rate not in this run)")
    t2 = result["target2"]
    if t2:
        counted = [x for x in t2 if x[2] is not None]
        if counted:
            ok = all(x[2] for x in counted)
            verdict = f"**{'MET' if ok else 'MISSED'}** on the {len(counted)} point(s) LiteLLM sustains"
        else:
            verdict = "**not testable**: LiteLLM sustained none of the measured points"
        out.append(f"- hegui added p99 ≥ {LITELLM_RATIO_TARGET:g}× lower than LiteLLM's at every rate LiteLLM sustains: {verdict}")
        for w, r, p, d in t2:
            mark = "" if p is None else (" ✓" if p else " ✗")
            out.append(f"  - {w} @ {r}: {d}{mark}")
    if meta.get("records"):
        rec = meta["records"]
        out.append("")
        scope = " (summed over the runs of this table that kept their count)" if len(meta.get("sources") or {}) > 1 else ""
        out.append(f"Durable records{scope}: hegui answered {rec['hegui_ok']} requests with 2xx during measured points and "
                   f"warm-ups; its SQLite database holds {rec['rows']} interaction records in all (the few extra are the "
                   f"sanity requests made before measuring).")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def save_progress(run_dir: Path, meta: dict, points: dict, diag: dict) -> None:
    """Everything measured so far, so that an interrupted run can be completed (--redo-noisy)."""
    prog = {
        "meta": meta,
        "points": [{"workload": w, "rate": r, "target": t, **s} for (w, r, t), s in points.items()],
        "hegui_diag": [{"workload": w, "rate": r, **d} for (w, r), d in diag.items()],
    }
    tmp = run_dir / "progress.json.tmp"
    tmp.write_text(json.dumps(prog, ensure_ascii=False, indent=1, default=str))
    tmp.replace(run_dir / "progress.json")


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hegui", required=True, help="path to the hegui binary")
    ap.add_argument("--mock", required=True, help="path to the hegui-mock-upstream binary")
    ap.add_argument("--oha", required=True, help="path to oha")
    ap.add_argument("--litellm", help="path to the litellm CLI (needed when litellm is a target)")
    ap.add_argument("--results", required=True, help="results folder (a timestamped run folder goes inside)")
    ap.add_argument("--rates", default="10,50,500,1000,2000", help="comma-separated request rates (req/s)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per measured point")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of unrecorded load before each point")
    ap.add_argument("--connections", type=int, default=64, help="oha connections (-c)")
    ap.add_argument("--workloads", default="json-short,json-long,stream-short,stream-long")
    ap.add_argument("--targets", default="direct,hegui,litellm")
    ap.add_argument("--litellm-workers", type=int, default=2)
    ap.add_argument("--cooldown", type=float, default=0.5, help="pause between points (s)")
    ap.add_argument("--keep-db", action="store_true", help="keep hegui's SQLite database after the run")
    ap.add_argument("--quiet-cores", type=float, default=0.25,
                    help="before each point wait until other processes use at most this many cores (0: don't wait)")
    ap.add_argument("--quiet-timeout", type=float, default=180.0, help="longest wait for a quiet machine (s)")
    ap.add_argument("--noisy-cores", type=float, default=0.3,
                    help="a point during which other processes used more than this many cores is measured again")
    ap.add_argument("--retry-noisy", type=int, default=1, help="how many times a noisy point is measured again")
    ap.add_argument("--redo-noisy", metavar="RUN_DIR",
                    help="measure again, with the same settings, every row of an earlier run in which a point had "
                         "more than --noisy-cores of other load or is missing (interrupted run), and write a merged run")
    ap.add_argument("--db-dir", help="folder for hegui's SQLite database (default: the run folder, on disk)")
    args = ap.parse_args()

    rates = [int(x) for x in args.rates.split(",") if x.strip()]
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    old = None  # an earlier run whose noisy rows are measured again (--redo-noisy)
    selected = None  # rows (workload, rate) to measure; None = all
    if args.redo_noisy:
        old_dir = Path(args.redo_noisy)
        src = old_dir / "summary.json"
        if not src.exists():
            src = old_dir / "progress.json"  # an interrupted run
        old = json.loads(src.read_text())
        om = old["meta"]
        rates, workloads, targets = om["rates"], om["workloads"], om["targets"]
        args.duration, args.connections, args.litellm_workers = om["duration_s"], om["connections"], om["litellm_workers"]
        args.warmup = om.get("warmup_s", args.warmup)
        selected = set()
        have = {(p["workload"], p["rate"], p["target"]) for p in old["points"]}
        for pnt in old["points"]:
            if (pnt.get("other_cores") or 0) > args.noisy_cores:
                selected.add((pnt["workload"], pnt["rate"]))
        for w in workloads:
            for r in rates:
                if any((w, r, t) not in have for t in targets):
                    selected.add((w, r))  # never measured (interrupted run)
        log(f"measuring {len(selected)} noisy or missing row(s) of {old_dir.name} again: "
            + ", ".join(f"{w}@{r}" for w, r in sorted(selected)))
    for w in workloads:
        mode, _, size = w.partition("-")
        if mode not in ("json", "stream") or size not in SIZES:
            die(f"unknown workload {w!r} (json|stream)-(short|long)")
    for t in targets:
        if t not in ("direct", "hegui", "litellm"):
            die(f"unknown target {t!r}")
    if "direct" not in targets:
        die("the direct target is the baseline and cannot be left out")
    if "litellm" in targets and not args.litellm:
        die("--litellm is required when litellm is a target")
    for label, path in (("hegui", args.hegui), ("hegui-mock-upstream", args.mock), ("oha", args.oha)):
        if not (path and os.access(path, os.X_OK)):
            die(f"{label} not found or not executable at {path!r}")

    started = dt.datetime.now(dt.timezone.utc)
    run_dir = Path(args.results) / started.strftime("%Y%m%dT%H%M%SZ")
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    oha = Oha(args.oha, args.connections)

    litellm_version = "-"
    if "litellm" in targets:
        py = Path(args.litellm).parent / "python"
        r = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                           capture_output=True, text=True)
        litellm_version = r.stdout.strip() or "?"

    meta = {
        "started_utc": started.strftime("%Y-%m-%d %H:%M"),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "rates": rates,
        "workloads": workloads,
        "targets": targets,
        "machine": machine_info(),
        "oha": oha.version,
        "litellm_version": litellm_version,
        "litellm_workers": args.litellm_workers,
        "prompt": PROMPT,
        "chunk_text": CHUNK_TEXT,
        "sizes": SIZES,
        "run_dir": str(run_dir),
    }

    procs = Procs(log_dir)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    db = (Path(args.db_dir) if args.db_dir else run_dir) / f"hegui-{run_dir.name}.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    meta["hegui_db"] = str(db)
    hegui_ok_total = 0
    points: dict = {}
    diag: dict = {}  # (workload, rate) -> hegui's own view of each measured hegui point
    metrics_url = ""
    n_points = len(workloads) * len(rates) * len(targets)
    est = n_points * (args.duration + args.warmup + args.cooldown + 1)
    log(f"{n_points} points, about {est / 60:.0f} min of load; results in {run_dir}")
    try:
        # One verified user and key, in the database every hegui of this run shares.
        key = None
        if "hegui" in targets:
            cfg0 = log_dir / "hegui-admin.toml"
            hegui_config(cfg0, "127.0.0.1:0", db, "http://127.0.0.1:9/v1")
            user = run_cli([args.hegui, "--config", str(cfg0), "users", "create"]).split()[0]
            run_cli([args.hegui, "--config", str(cfg0), "users", "verify", user, "--reason", "bench"])
            key = run_cli([args.hegui, "--config", str(cfg0), "keys", "create", "--user", user]).strip().splitlines()[-1]
            log(f"hegui user {user} verified, key {key[:10]}…")

        sizes_needed = []
        for w in workloads:
            size = w.split("-", 1)[1]
            if selected is not None and not any(sw == w for sw, _ in selected):
                continue
            if size not in sizes_needed:
                sizes_needed.append(size)

        for size in sizes_needed:
            chunks = SIZES[size]
            # The mock for this reply size: every target of these points talks to this one process.
            mport = free_port()
            mock = procs.start(f"mock-{size}", [args.mock, "--listen", f"127.0.0.1:{mport}",
                                                "--bench-chunks", str(chunks), "--bench-chunk-text", CHUNK_TEXT])
            mock_base = f"http://127.0.0.1:{mport}/v1"
            # The mock has no /healthz; its model list answers once it serves.
            wait_ready(f"mock-{size}", mock, f"{mock_base}/models", 30, log_dir)
            endpoints = {"direct": (f"{mock_base}/chat/completions", {})}
            servers = {"direct": mock}
            started_here = [mock]
            if "hegui" in targets:
                hport = free_port()
                cfg = log_dir / f"hegui-{size}.toml"
                hegui_config(cfg, f"127.0.0.1:{hport}", db, mock_base)
                hp = procs.start(f"hegui-{size}", [args.hegui, "serve", "--config", str(cfg)])
                wait_ready(f"hegui-{size}", hp, f"http://127.0.0.1:{hport}/healthz", 60, log_dir)
                endpoints["hegui"] = (f"http://127.0.0.1:{hport}/v1/chat/completions", {"Authorization": f"Bearer {key}"})
                metrics_url = f"http://127.0.0.1:{hport}/metrics"
                started_here.append(hp)
                servers["hegui"] = hp
            if "litellm" in targets:
                lport = free_port()
                lcfg = log_dir / f"litellm-{size}.yaml"
                litellm_config(lcfg, mock_base)
                env = dict(os.environ)
                env.update({
                    "LITELLM_LOG": "ERROR",
                    "LITELLM_MODE": "PRODUCTION",
                    # No network here: use the cost map shipped in the package instead of fetching it.
                    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                    "DISABLE_SCHEMA_UPDATE": "true",
                    "NO_DOCS": "True",
                    # LiteLLM aborts a stream after 100 identical consecutive chunks (a guard
                    # against looping models); the synthetic long reply repeats one chunk 200
                    # times, so the guard is raised out of the way.
                    "REPEATED_STREAMING_CHUNK_LIMIT": "1000000",
                })
                env.pop("DATABASE_URL", None)
                lp = procs.start(f"litellm-{size}", [args.litellm, "--config", str(lcfg), "--host", "127.0.0.1",
                                                     "--port", str(lport), "--num_workers", str(args.litellm_workers)],
                                 env=env, cwd=log_dir)
                wait_ready(f"litellm-{size}", lp, f"http://127.0.0.1:{lport}/health/liveliness", 180, log_dir)
                endpoints["litellm"] = (f"http://127.0.0.1:{lport}/v1/chat/completions",
                                        {"Authorization": f"Bearer {LITELLM_MASTER_KEY}"})
                started_here.append(lp)
                servers["litellm"] = lp

            for w in workloads:
                if w.split("-", 1)[1] != size:
                    continue
                if selected is not None and not any(sw == w for sw, _ in selected):
                    continue
                stream = w.startswith("stream")
                for t in targets:
                    url, hdrs = endpoints[t]
                    check_target(f"{t}-{size}", url, hdrs, stream, chunks)
                body = request_body(stream)
                for rate in rates:
                    if selected is not None and (w, rate) not in selected:
                        continue
                    for t in targets:
                        url, hdrs = endpoints[t]
                        if args.warmup > 0:
                            wd = oha.run(url, hdrs, body, rate, args.warmup, None)
                            if t == "hegui":
                                hegui_ok_total += summarize(wd, rate, args.warmup)["ok"]
                        for attempt in range(1 + args.retry_noisy):
                            idle_before = wait_quiet(args.quiet_cores, args.quiet_timeout) if args.quiet_cores > 0 else None
                            if t == "hegui":
                                m0 = scrape_metrics(metrics_url)
                                t0_ms = int(time.time() * 1000)
                            cpu0 = {n: group_cpu_s(p.pid) for n, p in servers.items()}
                            busy0, kids0, w0 = busy_cpu_s(), children_cpu_s(), time.monotonic()
                            data = oha.run(url, hdrs, body, rate, args.duration, run_dir / f"{w}-{rate}-{t}.json")
                            busy1, kids1, w1 = busy_cpu_s(), children_cpu_s(), time.monotonic()
                            cpu1 = {n: group_cpu_s(p.pid) for n, p in servers.items()}
                            s = summarize(data, rate, args.duration)
                            s["cpu_s"] = {n: cpu1[n] - cpu0[n] for n in servers}
                            s["oha_cpu_s"] = kids1 - kids0
                            # CPU used by anything but the servers of this phase and oha (cores).
                            s["other_cores"] = max(0.0, (busy1 - busy0) - sum(s["cpu_s"].values()) - s["oha_cpu_s"]) / (w1 - w0)
                            s["busy_before_cores"] = idle_before
                            if t == "hegui":
                                t1_ms = int(time.time() * 1000)
                                hegui_ok_total += s["ok"]
                                diag[(w, rate)] = {"window_ms": (t0_ms, t1_ms), "ok": s["ok"], "errors": s["errors"],
                                                   "metrics": metrics_delta(m0, scrape_metrics(metrics_url))}
                            points[(w, rate, t)] = s
                            if s["other_cores"] <= args.noisy_cores or attempt == args.retry_noisy:
                                break
                            log(f"{w} {rate}/s {t}: {s['other_cores']:.2f} cores of other load during the point; measuring it again")
                        s["attempts"] = attempt + 1
                        s["run"] = run_dir.name
                        save_progress(run_dir, meta, points, diag)
                        log(f"{w:12s} {rate:5d}/s {t:8s} p50 {fmt_ms(s['p50_ms'])} p99 {fmt_ms(s['p99_ms'])} ms, "
                            f"{s['achieved_rps']:.0f} ok/s, {s['errors']} errors, other load {s['other_cores']:.2f} cores"
                            f"{'' if s['sustained'] else '  NOT SUSTAINED'}")
                        time.sleep(args.cooldown)
            for p in reversed(started_here):
                procs.stop(p)
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); stopping servers")
        procs.stop_all()
        raise SystemExit(130)
    finally:
        procs.stop_all()

    if "hegui" in targets and db.exists():
        con = sqlite3.connect(str(db))
        rows = con.execute("SELECT count(*) FROM interactions").fetchone()[0]
        con.close()
        meta["records"] = {"hegui_ok": hegui_ok_total, "rows": rows}
        records_diag(db, diag)
        if not args.keep_db:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)

    if old is not None:
        # Rows not measured again come from the earlier run, raw JSON included.
        old_dir = Path(args.redo_noisy)
        for pnt in old["points"]:
            key3 = (pnt["workload"], pnt["rate"], pnt["target"])
            if (pnt["workload"], pnt["rate"]) in selected:
                continue
            pt = {k: v for k, v in pnt.items() if k not in ("workload", "rate", "target")}
            pt["status"] = {int(k): v for k, v in pt["status"].items()}
            pt["run"] = pt.get("run") or pt.get("from_run") or old_dir.name
            pt.pop("from_run", None)
            points[key3] = pt
            raw = old_dir / f"{key3[0]}-{key3[1]}-{key3[2]}.json"
            if raw.exists():
                shutil.copy(raw, run_dir / raw.name)
        for d in old.get("hegui_diag", []):
            if (d["workload"], d["rate"]) not in selected:
                diag[(d["workload"], d["rate"])] = {k: v for k, v in d.items() if k not in ("workload", "rate")}
        sources = dict(old["meta"].get("sources") or {old_dir.name: old["meta"]["started_utc"]})
        sources[run_dir.name] = meta["started_utc"]
        meta["sources"] = sources
        meta["merged_from"] = {"run": old_dir.name, "started_utc": old["meta"]["started_utc"],
                               "remeasured_rows": sorted(f"{w}@{r}" for w, r in selected)}
        if old["meta"].get("records") and meta.get("records"):
            meta["records"] = {k: old["meta"]["records"][k] + meta["records"][k] for k in ("hegui_ok", "rows")}
        # Keep the table's row order.
        diag = {k: diag[k] for w in workloads for r in rates for k in [(w, r)] if k in diag}

    result = analyse(points, workloads, rates, targets)
    table = render(result, meta, targets) + "\n" + render_diag(diag)
    summary = {
        "meta": meta,
        "points": [{"workload": w, "rate": r, "target": t, **s} for (w, r, t), s in points.items()],
        "rows": [
            {k: v for k, v in row.items() if k not in targets} for row in result["rows"]
        ],
        "target1": result["target1"],
        "target2": result["target2"],
        "hegui_diag": [{"workload": w, "rate": r, **d} for (w, r), d in diag.items()],
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
    (run_dir / "summary.md").write_text(table + "\n")
    latest = Path(args.results) / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name)
    except OSError:
        pass
    print(table)
    log(f"raw oha JSON and summary in {run_dir}")


if __name__ == "__main__":
    main()
