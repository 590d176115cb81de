#!/usr/bin/env python3
"""End-to-end: the official `openai` Python client against `hegui serve`.

Starts the loopback mock model server and `hegui serve` (SQLite or PostgreSQL), provisions a
verified user and key with the `hegui` CLI, then drives the API with the openai package,
streaming and not, and checks the records with `hegui records list`.

Usage: test_openai_client.py --bin target/debug --backend sqlite|postgres
"""

import argparse
import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

import openai

ARGS = None
LABEL = "【本内容由人工智能生成】"


def start(cmd, pattern, env=None):
    """Starts a process and waits for the line announcing its address; stderr is kept in p.log."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    p.log = []
    deadline = time.time() + 30
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            raise RuntimeError(f"{cmd[0]} exited early: {p.stderr.read()}")
        m = re.search(pattern, line)
        if m:
            threading.Thread(target=p.stdout.read, daemon=True).start()
            p.log_reader = threading.Thread(target=lambda: p.log.extend(p.stderr), daemon=True)
            p.log_reader.start()
            return p, m.group(1)
    raise RuntimeError(f"{cmd[0]} did not announce its address in 30 s")


def fresh_postgres(admin_url):
    """A new database for this run: (its URL, its name), dropped again by Gateway.stop."""
    name = "hegui_e2e_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", admin_url, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    u = urllib.parse.urlparse(admin_url)
    return urllib.parse.urlunparse(u._replace(path="/" + name)), name


class Gateway:
    def __init__(self, bindir, backend):
        self.dir = tempfile.mkdtemp(prefix="hegui-e2e-")
        self.hegui = os.path.join(bindir, "hegui")
        self.mock, mock_url = start(
            [os.path.join(bindir, "hegui-mock-upstream"), "--listen", "127.0.0.1:0"],
            r"listening on (http://\S+/v1)",
        )
        self.pg_database = None
        if backend == "postgres":
            db, self.pg_database = fresh_postgres(os.environ["HEGUI_TEST_POSTGRES_URL"])
        else:
            db = "sqlite://" + os.path.join(self.dir, "hegui.db")
        self.config = os.path.join(self.dir, "hegui.toml")
        with open(self.config, "w") as f:
            f.write(
                f"""
[server]
listen = "127.0.0.1:0"
shutdown_grace_secs = 20
[storage]
database_url = "{db}"
data_dir = "{self.dir}"
[upstream]
base_url = "{mock_url}"
[label]
content_producer = "001191440300708461136T1XGW3"
[log]
format = "json"
"""
            )
        user = self.cli("users", "create", "--ref", "e2e").split()[0]
        self.cli("users", "verify", user, "--reason", "e2e test fixture")
        self.key = self.cli("keys", "create", "--user", user).strip()
        unverified = self.cli("users", "create").split()[0]
        self.unverified_key = self.cli("keys", "create", "--user", unverified).strip()
        self.proc, self.url = start(
            [self.hegui, "--config", self.config, "serve"], r"hegui listening on (http://\S+)"
        )
        self.client = openai.OpenAI(base_url=self.url + "/v1", api_key=self.key, max_retries=0)

    def cli(self, *args):
        out = subprocess.run(
            [self.hegui, "--config", self.config, *args], check=True, capture_output=True, text=True
        )
        return out.stdout

    def records(self):
        out = self.cli("records", "list", "--json", "--limit", "1000")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def stop(self):
        for p in (self.proc, self.mock):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
        if self.pg_database:
            # Each run used to leave its database on the server.
            subprocess.run(
                ["psql", os.environ["HEGUI_TEST_POSTGRES_URL"], "-q", "-c",
                 f"DROP DATABASE IF EXISTS {self.pg_database} WITH (FORCE)"],
                check=True,
            )


GW = None


class OpenAIClientAgainstHegui(unittest.TestCase):
    def test_non_streaming_completion_is_labeled(self):
        raw = GW.client.chat.completions.with_raw_response.create(
            model="mock-small", messages=[{"role": "user", "content": "[[reply:你好，世界]]"}]
        )
        resp = raw.parse()
        self.assertEqual(resp.choices[0].message.content, "你好，世界\n\n" + LABEL)
        self.assertEqual(resp.choices[0].finish_reason, "stop")
        aigc = resp.model_extra["aigc"]
        self.assertEqual(aigc["Label"], "1")
        self.assertEqual(json.loads(raw.headers["x-aigc"])["AIGC"]["ProduceID"], aigc["ProduceID"])
        self.assertGreater(resp.usage.total_tokens, 0)

    def test_streaming_with_usage(self):
        stream = GW.client.chat.completions.create(
            model="mock-small",
            messages=[{"role": "user", "content": "[[reply:一二三四五六七八九十]][[chunk:2]]"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text, finish, usage, chunks = "", None, None, 0
        for chunk in stream:
            chunks += 1
            if chunk.usage:
                usage = chunk.usage
            for c in chunk.choices:
                text += c.delta.content or ""
                finish = c.finish_reason or finish
        self.assertEqual(text, "一二三四五六七八九十\n\n" + LABEL)
        self.assertEqual(finish, "stop")
        self.assertIsNotNone(usage)
        self.assertGreater(chunks, 3)

    def test_blocked_prompt_is_a_policy_error(self):
        for stream in (False, True):
            with self.assertRaises(openai.BadRequestError) as cm:
                GW.client.chat.completions.create(
                    model="mock-small", messages=[{"role": "user", "content": "教我制造炸弹"}], stream=stream
                )
            self.assertEqual(cm.exception.code, "content_policy_violation")

    def test_blocked_output_ends_with_content_filter_in_streaming(self):
        bad = base64.b64encode("好的，冰毒的做法如下".encode()).decode()
        stream = GW.client.chat.completions.create(
            model="mock-small",
            messages=[{"role": "user", "content": f"[[reply_b64:{bad}]][[chunk:1]]"}],
            stream=True,
        )
        text, finish = "", None
        for chunk in stream:
            for c in chunk.choices:
                text += c.delta.content or ""
                finish = c.finish_reason or finish
        self.assertEqual(finish, "content_filter")
        self.assertNotIn("冰", text)
        resp = GW.client.chat.completions.create(
            model="mock-small", messages=[{"role": "user", "content": f"[[reply_b64:{bad}]]"}]
        )
        self.assertEqual(resp.choices[0].finish_reason, "content_filter")
        self.assertNotIn("冰毒", resp.choices[0].message.content or "")

    def test_models_are_listed(self):
        ids = [m.id for m in GW.client.models.list()]
        self.assertIn("mock-small", ids)

    def test_identity_gate(self):
        bad = openai.OpenAI(base_url=GW.url + "/v1", api_key="hg-wrong", max_retries=0)
        with self.assertRaises(openai.AuthenticationError):
            bad.chat.completions.create(model="mock-small", messages=[{"role": "user", "content": "hi"}])
        unverified = openai.OpenAI(base_url=GW.url + "/v1", api_key=GW.unverified_key, max_retries=0)
        with self.assertRaises(openai.PermissionDeniedError) as cm:
            unverified.chat.completions.create(model="mock-small", messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(cm.exception.code, "real_name_verification_required")

    def test_images_and_speech_leave_labeled(self):
        import io

        from PIL import Image

        resp = GW.client.images.generate(
            model="mock-small", prompt="a red fox in the snow", size="256x256", response_format="b64_json"
        )
        self.assertEqual(len(resp.data), 1)
        png = base64.b64decode(resp.data[0].b64_json)
        img = Image.open(io.BytesIO(png))
        self.assertEqual(img.format, "PNG")
        self.assertEqual(img.size, (256, 256))
        carried = json.loads(img.info["AIGC"])["AIGC"]
        self.assertEqual(carried["Label"], "1")
        self.assertEqual(carried["ContentProducer"], "001191440300708461136T1XGW3")
        self.assertTrue(carried["ReservedCode1"].startswith("ed25519:"))
        self.assertEqual(carried["ProduceID"], resp.data[0].model_extra["aigc"]["ProduceID"])
        with self.assertRaises(openai.BadRequestError) as cm:
            GW.client.images.generate(model="mock-small", prompt="a fox", response_format="url")
        self.assertEqual(cm.exception.code, "unsupported_response_format")

        audio = GW.client.audio.speech.create(
            model="mock-small", voice="alloy", input="你好", response_format="wav"
        )
        wav = audio.content
        self.assertEqual(wav[:4], b"RIFF")
        self.assertEqual(wav[8:12], b"WAVE")
        self.assertIn(b"AIGC", wav)

    def test_zz_every_request_is_recorded(self):
        outcomes = [r["outcome"] for r in GW.records()]
        for o in ("served", "blocked_input", "blocked_output", "rejected"):
            self.assertIn(o, outcomes)
        text = GW.cli("records", "list")
        self.assertIn("blocked_input", text)


def graceful_shutdown_finishes_streams():
    """SIGTERM while a stream is in flight: the stream still completes and is recorded."""
    result = {}

    def consume():
        stream = GW.client.chat.completions.create(
            model="mock-small",
            messages=[{"role": "user", "content": "[[reply:abcdefghij]][[chunk:1]][[delay_ms:200]]"}],
            stream=True,
        )
        result["text"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.6)
    GW.proc.send_signal(signal.SIGTERM)
    t.join(timeout=30)
    GW.proc.wait(timeout=30)
    assert result.get("text") == "abcdefghij\n\n" + LABEL, result
    assert GW.proc.returncode == 0, GW.proc.returncode
    assert GW.records()[0]["outcome"] == "served"
    print("graceful shutdown finished the in-flight stream: ok")


def logs_carry_no_content_or_secrets():
    """The structured logs name pseudonymous ids, never prompts, answers or key secrets."""
    GW.proc.log_reader.join(timeout=10)
    lines = GW.proc.log
    events = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(e.get("fields", {}).get("outcome") == "blocked_input" for e in events), lines[:5]
    text = "".join(lines)
    for secret in (GW.key, GW.unverified_key, "你好，世界", "制造炸弹", "冰毒", "一二三四五"):
        assert secret not in text, f"{secret!r} found in the logs"
    print(f"{len(events)} JSON log events carry no content or secrets: ok")


def main():
    global ARGS, GW
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ARGS = ap.parse_args()
    print(f"openai {openai.__version__}, backend {ARGS.backend}")
    GW = Gateway(ARGS.bin, ARGS.backend)
    try:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(OpenAIClientAgainstHegui)
        ok = unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful()
        if ok:
            graceful_shutdown_finishes_streams()
            logs_carry_no_content_or_secrets()
    finally:
        GW.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
