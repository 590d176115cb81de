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


def render(result: dict, meta: dict, targets: list[str]) -> str:
    rows = result["rows"]
    out = []
    out.append(f"Run {meta['started_utc']} UTC · {meta['duration_s']:g} s per point · "
               f"{meta['connections']} connections · rates {', '.join(map(str, meta['rates']))} req/s · "
               f"{meta['machine']['nproc']} cores ({meta['machine']['cpu']}) · {meta['oha']} · LiteLLM {meta['litellm_version']} "
               f"({meta['litellm_workers']} worker(s))")
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
    out.append("Achieved rate (successful responses per second of the run) and errors (non-2xx or transport):")
    out.append("")
    head2 = ["workload", "req/s"] + [f"{t} ok/s · errors" for t in targets]
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
                cells.append(f"{s['achieved_rps']:.0f} · {s['errors']}{extra}")
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
        out.append(f"Durable records: hegui answered {rec['hegui_ok']} requests with 2xx during measured points and "
                   f"warm-ups; its SQLite database holds {rec['rows']} interaction records in all.")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


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
    ap.add_argument("--rates", default="500,1000,2000", help="comma-separated request rates (req/s)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per measured point")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of unrecorded load before each point")
    ap.add_argument("--connections", type=int, default=64, help="oha connections (-c)")
    ap.add_argument("--workloads", default="json-short,json-long,stream-short,stream-long")
    ap.add_argument("--targets", default="direct,hegui,litellm")
    ap.add_argument("--litellm-workers", type=int, default=1)
    ap.add_argument("--cooldown", type=float, default=1.0, help="pause between points (s)")
    ap.add_argument("--keep-db", action="store_true", help="keep hegui's SQLite database after the run")
    args = ap.parse_args()

    rates = [int(x) for x in args.rates.split(",") if x.strip()]
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
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

    db = run_dir / "hegui.db"
    hegui_ok_total = 0
    points: dict = {}
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
            started_here = [mock]
            if "hegui" in targets:
                hport = free_port()
                cfg = log_dir / f"hegui-{size}.toml"
                hegui_config(cfg, f"127.0.0.1:{hport}", db, mock_base)
                hp = procs.start(f"hegui-{size}", [args.hegui, "serve", "--config", str(cfg)])
                wait_ready(f"hegui-{size}", hp, f"http://127.0.0.1:{hport}/healthz", 60, log_dir)
                endpoints["hegui"] = (f"http://127.0.0.1:{hport}/v1/chat/completions", {"Authorization": f"Bearer {key}"})
                started_here.append(hp)
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
                })
                env.pop("DATABASE_URL", None)
                lp = procs.start(f"litellm-{size}", [args.litellm, "--config", str(lcfg), "--host", "127.0.0.1",
                                                     "--port", str(lport), "--num_workers", str(args.litellm_workers)],
                                 env=env, cwd=log_dir)
                wait_ready(f"litellm-{size}", lp, f"http://127.0.0.1:{lport}/health/liveliness", 180, log_dir)
                endpoints["litellm"] = (f"http://127.0.0.1:{lport}/v1/chat/completions",
                                        {"Authorization": f"Bearer {LITELLM_MASTER_KEY}"})
                started_here.append(lp)

            for w in workloads:
                if w.split("-", 1)[1] != size:
                    continue
                stream = w.startswith("stream")
                for t in targets:
                    url, hdrs = endpoints[t]
                    check_target(f"{t}-{size}", url, hdrs, stream, chunks)
                body = request_body(stream)
                for rate in rates:
                    for t in targets:
                        url, hdrs = endpoints[t]
                        if args.warmup > 0:
                            wd = oha.run(url, hdrs, body, rate, args.warmup, None)
                            if t == "hegui":
                                hegui_ok_total += summarize(wd, rate, args.warmup)["ok"]
                        data = oha.run(url, hdrs, body, rate, args.duration, run_dir / f"{w}-{rate}-{t}.json")
                        s = summarize(data, rate, args.duration)
                        if t == "hegui":
                            hegui_ok_total += s["ok"]
                        points[(w, rate, t)] = s
                        log(f"{w:12s} {rate:5d}/s {t:8s} p50 {fmt_ms(s['p50_ms'])} p99 {fmt_ms(s['p99_ms'])} ms, "
                            f"{s['achieved_rps']:.0f} ok/s, {s['errors']} errors{'' if s['sustained'] else '  NOT SUSTAINED'}")
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
        if not args.keep_db:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)

    result = analyse(points, workloads, rates, targets)
    table = render(result, meta, targets)
    summary = {
        "meta": meta,
        "points": [{"workload": w, "rate": r, "target": t, **s} for (w, r, t), s in points.items()],
        "rows": [
            {k: v for k, v in row.items() if k not in targets} for row in result["rows"]
        ],
        "target1": result["target1"],
        "target2": result["target2"],
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
