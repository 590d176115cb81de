//! `hegui lexicon`, `hegui review` and `hegui classifier` as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const HEGUI: &str = env!("CARGO_BIN_EXE_hegui");

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(HEGUI)
        .current_dir(dir)
        .env_remove("HEGUI_CONFIG")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn lexicon_check_reports_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[lexicon]\nname = \"x\"\n[[entry]]\nterm = \"a\"\nrisk = \"A9-1\"\n[[entry]]\nterm = \"b\"\nrisk = \"A1-1\"\nseverity = \"huge\"\n",
    )
    .unwrap();
    let (ok, _, err) = run(dir.path(), &["lexicon", "check", "bad.toml"], None);
    assert!(!ok);
    assert!(err.contains("bad.toml:5: unknown risk code A9-1"), "{err}");
    assert!(
        err.contains("bad.toml:9: unknown severity \"huge\""),
        "{err}"
    );
    std::fs::write(
        dir.path().join("big.jsonl"),
        "{\"lexicon\": {\"name\": \"big\"}}\n{\"term\": \"x\", \"risk\": \"A9-9\"}\n{\"term\": \"y\", \"risk\": \"A1-8\", \"weight\": 2}\n",
    )
    .unwrap();
    let (ok, _, err) = run(dir.path(), &["lexicon", "check", "big.jsonl"], None);
    assert!(!ok);
    assert!(err.contains("big.jsonl:2: unknown risk code A9-9"), "{err}");
    assert!(
        err.contains("big.jsonl:3: ") && err.contains("weight"),
        "{err}"
    );
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lexicons/demo.toml");
    let (ok, out, err) = run(
        dir.path(),
        &["lexicon", "check", good.to_str().unwrap()],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.contains("OK (75 entries"), "{out}");
}

#[test]
fn lexicon_stats_lists_the_gaps_against_tc260() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(dir.path(), &["lexicon", "stats", "--json"], None);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["meets_tc260"], false);
    assert_eq!(v["risks"].as_array().unwrap().len(), 31);
    assert!(v["gaps"][0].as_str().unwrap().contains("10000"), "{v}");
}

#[test]
fn review_reads_text_and_jsonl_and_prints_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(
        dir.path(),
        &["review", "--stage", "output"],
        Some("你这个傻@冒，电话13812345678"),
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["decision"]["action"], "mask");
    assert_eq!(v["text"], "你这个***，电话***********");

    let (ok, out, err) = run(
        dir.path(),
        &["review", "--explain", "--text", "教我製-造-炸-彈"],
        None,
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["decision"]["matches"][0]["matched"], "製-造-炸-彈");
    assert_eq!(v["decision"]["matches"][0]["term"], "制造炸弹");

    let jsonl = "{\"id\": 1, \"text\": \"教我製造炸彈\"}\n\n{\"id\": 2, \"text\": \"你好\"}\n";
    let (ok, out, err) = run(dir.path(), &["review", "--format", "jsonl"], Some(jsonl));
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["decision"]["action"], "block");
    assert_eq!(lines[0]["input"]["id"], 1);
    assert_eq!(lines[1]["decision"]["action"], "allow");

    let (ok, _, err) = run(
        dir.path(),
        &["review", "--format", "jsonl"],
        Some("{\"x\": 1}\n"),
    );
    assert!(!ok);
    assert!(err.contains("line 1: no string field \"text\""), "{err}");
    let (ok, _, err) = run(dir.path(), &["review", "missing.txt"], None);
    assert!(!ok);
    assert!(err.contains("cannot open missing.txt"), "{err}");
}

#[test]
fn classifier_trains_evaluates_and_plugs_into_review() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../classifier/tests/fixtures/tiny.csv");
    let model = dir.path().join("m.hgc");
    let (ok, out, err) = run(
        dir.path(),
        &[
            "classifier",
            "train",
            "--data",
            data.to_str().unwrap(),
            "--out",
            "m.hgc",
            "--label-map",
            "0=safe,1=offensive",
            "--negative-label",
            "safe",
            "--risk",
            "offensive=A2-9",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    assert!(model.is_file());
    let (ok, out, err) = run(
        dir.path(),
        &[
            "classifier",
            "eval",
            "--model",
            "m.hgc",
            "--data",
            data.to_str().unwrap(),
            "--label-map",
            "0=safe,1=offensive",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.to_lowercase().contains("accuracy"), "{out}");

    std::fs::write(
        dir.path().join("hegui.toml"),
        "[review]\nclassifier = { model = \"m.hgc\", output = false }\n",
    )
    .unwrap();
    let (ok, out, err) = run(
        dir.path(),
        &[
            "--config",
            "hegui.toml",
            "review",
            "--text",
            "你这个傻子滚出去",
        ],
        None,
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let m = &v["decision"]["matches"][0];
    assert_eq!(m["risk"], "A2-9", "{v}");
    assert!(
        m["rule"].as_str().unwrap().starts_with("classifier:"),
        "{v}"
    );
    assert!(m["score_permille"].as_u64().unwrap() > 500, "{v}");

    std::fs::write(dir.path().join("broken.hgc"), b"not a model").unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        "[review]\nclassifier = { model = \"broken.hgc\" }\n",
    )
    .unwrap();
    let (ok, _, err) = run(
        dir.path(),
        &["--config", "broken.toml", "review", "--text", "x"],
        None,
    );
    assert!(!ok);
    assert!(err.contains("broken.hgc"), "{err}");
}

/// SIGHUP and the admin API swap in edited lexicons while the server keeps serving; a broken
/// edit is refused and the policy in force stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_and_the_admin_api_reload_lexicons_in_a_running_server() {
    let mock = hegui_mock_upstream::spawn(hegui_mock_upstream::MockConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lex = dir.path().join("ops.toml");
    std::fs::write(&lex, "[lexicon]\nname = \"ops\"\n").unwrap();
    let cfg = dir.path().join("hegui.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = {:?}\n[upstream]\nbase_url = {:?}\n[identity]\nrequire_verification = false\n[review]\nlexicons = [\"ops.toml\"]\n",
            dir.path().join("data").display().to_string(),
            mock.base_url
        ),
    )
    .unwrap();
    let (ok, out, err) = run(
        dir.path(),
        &["--config", "hegui.toml", "users", "create"],
        None,
    );
    assert!(ok, "{err}");
    let user = out.split_whitespace().next().unwrap().to_string();
    let (_, secret, _) = run(
        dir.path(),
        &["--config", "hegui.toml", "keys", "create", "--user", &user],
        None,
    );
    let secret = secret.trim().to_string();

    let server = common::serve(&cfg, &[("HEGUI_ADMIN_TOKEN", "s3cret-admin")]);
    let http = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", server.1);
    let status = |text: &'static str| {
        let (http, url, secret) = (http.clone(), url.clone(), secret.clone());
        async move {
            let body = serde_json::json!({"model": "mock-small", "messages": [{"role": "user", "content": text}]});
            http.post(&url)
                .bearer_auth(&secret)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("紫色独角兽").await, 200);

    // Edit, then SIGHUP.
    std::fs::write(&lex, "[lexicon]\nname = \"ops\"\n[[entry]]\nterm = \"紫色独角兽\"\nrisk = \"A1-8\"\naction = \"block\"\n").unwrap();
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let mut blocked = false;
    for _ in 0..100 {
        if status("紫色独角兽").await == 400 {
            blocked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(blocked, "SIGHUP did not reload the lexicon");

    // A broken edit through the admin API: refused with the file and line; the policy stays.
    std::fs::write(
        &lex,
        "[lexicon]\nname = \"ops\"\n[[entry]]\nterm = \"紫色独角兽\"\nrisk = \"A1-99\"\n",
    )
    .unwrap();
    let admin = format!("{}/admin/review/reload", server.1);
    let resp = http.post(&admin).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = http
        .post(&admin)
        .bearer_auth("s3cret-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let e: serde_json::Value = resp.json().await.unwrap();
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("ops.toml:5") && msg.contains("policy in force stays"),
        "{msg}"
    );
    assert_eq!(status("紫色独角兽").await, 400);

    // A good edit through the admin API.
    std::fs::write(&lex, "[lexicon]\nname = \"ops\"\n").unwrap();
    let resp = http
        .post(&admin)
        .bearer_auth("s3cret-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(
        v["policy_version"].as_str().unwrap().starts_with("lex-"),
        "{v}"
    );
    assert_eq!(status("紫色独角兽").await, 200);
}

/// `hegui review` consults the configured guard models after the engine, as the gateway
/// does: an unreachable guard with `fail_closed` blocks, and says so.
#[test]
fn review_asks_the_configured_guards_and_their_fallback_applies() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 of the loopback: the call fails at once.
    std::fs::write(
        dir.path().join("hegui.toml"),
        "[review]\n[[review.guards]]\nkind = \"qwen3guard\"\nbase_url = \"http://127.0.0.1:9\"\n\
         model = \"g\"\ntimeout_ms = 500\nfallback = \"fail_closed\"\n",
    )
    .unwrap();
    let (ok, out, err) = run(
        dir.path(),
        &["--config", "hegui.toml", "review", "--text", "你好"],
        None,
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["decision"]["action"], "allow", "{v}");
    assert_eq!(v["action"], "block", "{v}");
    let guards = v["guards"].as_array().unwrap();
    assert_eq!(guards.len(), 1, "{v}");
    assert!(
        guards[0]["risks"].to_string().contains("GUARD-unavailable"),
        "{v}"
    );
}

/// Two files of one lexicon name cannot be in force together: `lexicon check` says so.
#[test]
fn lexicon_check_reports_two_files_of_one_name() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[lexicon]\nname = \"ops\"\n[[entry]]\nterm = \"冰毒\"\nrisk = \"A1-4\"\n";
    std::fs::write(dir.path().join("ops.toml"), text).unwrap();
    std::fs::write(dir.path().join("ops2.toml"), text).unwrap();
    let (ok, _, err) = run(
        dir.path(),
        &["lexicon", "check", "ops.toml", "ops2.toml"],
        None,
    );
    assert!(
        !ok && err.contains("ops2.toml") && err.contains("ops.toml already"),
        "{err}"
    );
}
