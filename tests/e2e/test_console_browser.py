#!/usr/bin/env python3
"""Browser test: Debian's chromium, driven by Playwright, against `hegui serve`.

A member of the public files a complaint about a generated answer (with JavaScript off: the
page must work without it) and follows it by receipt code; a reviewer logs in, takes it into
review and resolves it with a takedown; the public status and the content API then show it
withdrawn; an inspector downloads the inspection bundle from the console and
`hegui inspect verify` checks it offline with the log's public key. Screenshots of each key
page are saved under target/screenshots/ as test artifacts.

Chromium is kept off the network: every host but 127.0.0.1 resolves to nothing, no proxy,
no background services.

Usage: test_console_browser.py --bin target/debug
"""

import argparse
import json
import os
import subprocess
import sys
import urllib.request

from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_openai_client as base  # noqa: E402  (reuses its Gateway fixture)

CHROMIUM = os.environ.get("HEGUI_CHROMIUM", "/usr/bin/chromium")
OFFLINE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
]
PASSWORD = "browser test password"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    shots = os.path.join("target", "screenshots")
    os.makedirs(shots, exist_ok=True)
    gw = base.Gateway(args.bin, "sqlite")
    try:
        run(gw, shots)
    finally:
        gw.stop()
    print(f"browser test passed; screenshots in {shots}")


def add_staff(gw, username, role):
    subprocess.run(
        [gw.hegui, "--config", gw.config, "staff", "add", username, "--role", role],
        input=PASSWORD + "\n",
        check=True,
        capture_output=True,
        text=True,
    )


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def login(page, url, username):
    page.goto(url + "/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/console")


def run(gw, shots):
    url = gw.url
    add_staff(gw, "reviewer1", "reviewer")
    add_staff(gw, "inspector1", "inspector")
    answer = gw.client.chat.completions.create(
        model="mock-small", messages=[{"role": "user", "content": "[[reply:生成的回答]]"}]
    )
    produce_id = answer.model_extra["aigc"]["ProduceID"]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=OFFLINE_ARGS, headless=True)

        # The public, without JavaScript: file, get a receipt, follow it.
        public = browser.new_context(java_script_enabled=False, locale="zh-CN")
        page = public.new_page()
        page.goto(url + "/complaints")
        assert "投诉举报" in page.content()
        page.click("text=English")
        assert "File a complaint" in page.content()
        page.screenshot(path=os.path.join(shots, "complaint-form.png"), full_page=True)
        page.select_option("#category", "A1-6")
        page.check("input[name=target_kind][value=produce_id]")
        page.fill("#target", produce_id)
        page.fill("#description", "The answer promotes violence. <b>not bold</b>")
        page.fill("#contact", "someone@example.com")
        page.click("button:has-text('Submit complaint')")
        receipt = page.inner_text("#receipt").strip()
        assert receipt.startswith("HG-"), receipt
        page.screenshot(path=os.path.join(shots, "complaint-receipt.png"), full_page=True)
        page.click("text=Follow this complaint")
        assert page.get_attribute("#state", "data-state") == "received"

        # A reviewer handles it.
        staff = browser.new_context()
        r = staff.new_page()
        login(r, url, "reviewer1")
        r.screenshot(path=os.path.join(shots, "console-dashboard.png"), full_page=True)
        r.goto(url + "/console/complaints")
        r.click(f"text={receipt}")
        assert "&lt;b&gt;not bold&lt;/b&gt;" in r.content(), "complainant text is escaped"
        r.click("#take-review")
        r.select_option("#action", "delete")
        r.fill("#reason", "宣扬暴力，已删除 / promotes violence, deleted")
        r.screenshot(path=os.path.join(shots, "console-case.png"), full_page=True)
        r.click("#resolve")
        assert r.inner_text("#state") == "resolved"
        # A reviewer is not an inspector: no export.
        assert r.goto(url + "/console/export").status == 403

        # The takedown is in effect.
        page.goto(f"{url}/complaints/track?receipt={receipt}&lang=en")
        assert page.get_attribute("#state", "data-state") == "resolved"
        page.screenshot(path=os.path.join(shots, "complaint-resolved.png"), full_page=True)
        content = get_json(f"{url}/complaints/v1/content/{produce_id}")
        assert content["withdrawn"] is True and content["action"] == "delete", content
        # A file carrying that ProduceID is reported withdrawn by `hegui label inspect`.
        answer_file = os.path.join(gw.dir, "answer.md")
        with open(answer_file, "w") as f:
            f.write("生成的回答\n")
        gw.cli("label", "add", answer_file, "--producer", "001191440300708461136T1XGW3",
               "--produce-id", produce_id)
        report = json.loads(gw.cli("label", "inspect", answer_file, "--check-withdrawn", "--json"))
        assert report["withdrawn"] and report["withdrawn"][0]["action"] == "delete", report
        assert report["withdrawn"][0]["complaint"] == receipt, report

        # An inspector exports and the bundle verifies offline with only the public key.
        insp = browser.new_context(accept_downloads=True)
        i = insp.new_page()
        login(i, url, "inspector1")
        i.goto(url + "/console/ledger")
        public_key = i.inner_text("#public-key").strip()
        i.goto(url + "/console/export")
        i.screenshot(path=os.path.join(shots, "console-export.png"), full_page=True)
        with i.expect_download() as dl:
            i.click("#export")
        bundle = os.path.join(gw.dir, "inspection.bundle")
        dl.value.save_as(bundle)
        out = subprocess.run(
            [gw.hegui, "inspect", "verify", bundle, "--public-key", public_key, "--json"],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        # An inspector cannot change anything.
        i.goto(url + f"/console/complaints/{receipt}")
        assert i.locator("#take-review").count() == 0 and i.locator("#resolve").count() == 0
        browser.close()


if __name__ == "__main__":
    main()
