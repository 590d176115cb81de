//! The `hegui` binary as an operator uses it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::Serve;

use std::path::Path;
use std::process::Command;

const HEGUI: &str = env!("CARGO_BIN_EXE_hegui");

fn hegui(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(HEGUI)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_config(dir: &Path, upstream: &str) -> std::path::PathBuf {
    let p = dir.join("hegui.toml");
    std::fs::write(
        &p,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = \"{}\"\n[upstream]\nbase_url = \"{upstream}\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn config_check_lists_every_problem_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[upstream]\nbase_url = \"nope\"\n[review]\non_block = \"maybe\"\n",
    )
    .unwrap();
    let out = Command::new(HEGUI)
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 problem(s)"), "{err}");
    assert!(
        err.contains("upstream.base_url") && err.contains("review.on_block"),
        "{err}"
    );

    std::fs::write(&bad, "[server]\nlisten = \"127.0.0.1:1\"\nport = 3\n").unwrap();
    let out = Command::new(HEGUI)
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("server") && err.contains("unknown field `port`") && err.contains("line 3"),
        "{err}"
    );

    let good = write_config(dir.path(), "http://127.0.0.1:8000/v1");
    let out = Command::new(HEGUI)
        .args(["config", "check"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn operators_manage_users_and_keys_with_recorded_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "http://127.0.0.1:8000/v1");
    let (ok, out, _) = hegui(&cfg, &["users", "create", "--ref", "acct-1"]);
    assert!(ok);
    let user = out.split_whitespace().next().unwrap().to_string();
    assert!(user.starts_with("usr_"));
    let (ok, _, err) = hegui(&cfg, &["users", "verify", &user, "--reason", " "]);
    assert!(!ok && err.contains("--reason"), "{err}");
    let (ok, out, _) = hegui(
        &cfg,
        &["users", "verify", &user, "--reason", "checked at counter"],
    );
    assert!(ok && out.contains("verified=phone+id"), "{out}");
    let (ok, secret, _) = hegui(&cfg, &["keys", "create", "--user", &user]);
    assert!(ok && secret.trim().starts_with("hg-"));
    let (_, list, _) = hegui(&cfg, &["keys", "list"]);
    assert!(!list.contains(secret.trim()), "secrets are never listed");
    let key_id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let (ok, out, _) = hegui(&cfg, &["keys", "revoke", &key_id]);
    assert!(ok && out.contains("revoked"));
    let (_, show, _) = hegui(&cfg, &["users", "show", &user]);
    for kind in [
        "created",
        "verified",
        "key_created",
        "key_revoked",
        "checked at counter",
    ] {
        assert!(show.contains(kind), "{kind} missing in {show}");
    }
    let (ok, _, err) = hegui(&cfg, &["users", "verify", "usr_missing", "--reason", "x"]);
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, _, err) = hegui(&cfg, &["records", "list", "--outcome", "great"]);
    assert!(!ok && err.contains("unknown outcome"), "{err}");
    // The key secret never lands in the database file in plain text.
    let db = std::fs::read(dir.path().join("data/hegui.db")).unwrap();
    let needle = secret.trim().as_bytes();
    assert!(!db.windows(needle.len()).any(|w| w == needle));
}

fn serve(cfg: &Path) -> Serve {
    common::serve(cfg, &[])
}

/// Invariant: a record acknowledged as written survives kill -9 of the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_kill_9() {
    let mock = hegui_mock_upstream::spawn(hegui_mock_upstream::MockConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &mock.base_url);
    let (_, out, _) = hegui(&cfg, &["users", "create"]);
    let user = out.split_whitespace().next().unwrap().to_string();
    hegui(&cfg, &["users", "verify", &user, "--reason", "test"]);
    let (_, secret, _) = hegui(&cfg, &["keys", "create", "--user", &user]);
    let secret = secret.trim().to_string();
    let http = reqwest::Client::new();
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));

    // Kill the server repeatedly under load, at a different moment each round.
    for round in 0..3u64 {
        let mut server = serve(&cfg);
        let url = format!("{}/v1/chat/completions", server.1);
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (http, url, secret, acked) =
                (http.clone(), url.clone(), secret.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let body = serde_json::json!({"model": "mock-small", "messages": [{"role": "user", "content": "hi"}]});
                    let Ok(resp) = http.post(&url).bearer_auth(&secret).json(&body).send().await else { return };
                    let Some(id) = resp.headers().get("x-hegui-record-id").map(|v| v.to_str().unwrap().to_string()) else { return };
                    if resp.status() == 200 && resp.bytes().await.is_ok() {
                        acked.lock().unwrap().push(id);
                    }
                }
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(400 + 150 * round)).await;
        // SIGKILL: no shutdown path runs.
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 60,
        "only {} requests completed before the kills",
        acked.len()
    );
    eprintln!("{} acknowledged records over 3 kill -9 rounds", acked.len());
    let store = hegui_store::Store::open(
        &format!("sqlite://{}", dir.path().join("data/hegui.db").display()),
        2,
    )
    .await
    .unwrap();
    for id in &acked {
        let row = store.record(id).await.unwrap();
        assert!(row.is_some(), "acknowledged record {id} lost");
    }
    store.close().await;
    // The log picks up where it stopped: every record is a leaf and the whole log verifies.
    let (ok, note, err) = hegui(&cfg, &["ledger", "checkpoint"]);
    assert!(ok, "{err}");
    let size: usize = note.lines().nth(1).unwrap().parse().unwrap();
    assert!(
        size > acked.len(),
        "tree size {size} <= {} acknowledged",
        acked.len()
    );
    let (ok, out, err) = hegui(&cfg, &["ledger", "verify"]);
    assert!(
        ok && out.contains("OK: the log verifies") && out.contains(" 0 pending"),
        "{out}{err}"
    );
}

/// The operator's proof workflow: prove a record, check it offline with only the public key,
/// and see tampering caught by `ledger verify`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_proven_offline_and_tampering_is_caught() {
    let mock = hegui_mock_upstream::spawn(hegui_mock_upstream::MockConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &mock.base_url);
    let (_, out, _) = hegui(&cfg, &["users", "create"]);
    let user = out.split_whitespace().next().unwrap().to_string();
    hegui(&cfg, &["users", "verify", &user, "--reason", "test"]);
    let (_, secret, _) = hegui(&cfg, &["keys", "create", "--user", &user]);
    let server = serve(&cfg);
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for q in ["第一个问题", "第二个问题"] {
        let body = serde_json::json!({"model": "mock-small", "messages": [{"role": "user", "content": q}]});
        let resp = http
            .post(format!("{}/v1/chat/completions", server.1))
            .bearer_auth(secret.trim())
            .json(&body)
            .send()
            .await
            .unwrap();
        ids.push(
            resp.headers()["x-hegui-record-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    drop(server);

    let (ok, key, _) = hegui(&cfg, &["ledger", "public-key"]);
    assert!(ok);
    let bundle = dir.path().join("proof.json");
    let (ok, _, err) = hegui(
        &cfg,
        &[
            "ledger",
            "prove",
            &ids[0],
            "--out",
            bundle.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let check = |key: &str| {
        Command::new(HEGUI)
            .args(["ledger", "check-proof"])
            .arg(&bundle)
            .args(["--public-key", key])
            .output()
            .unwrap()
    };
    let out = check(key.trim());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&ids[0]) && stdout.contains("content matches"),
        "{stdout}"
    );

    // Another key, or an altered disclosed record, fails.
    let other = dir.path().join("other.key");
    let (ok, other_key, _) = hegui(
        &cfg,
        &["ledger", "keygen", "--out", other.to_str().unwrap()],
    );
    assert!(ok);
    assert!(!check(other_key.trim()).status.success());
    let text = std::fs::read_to_string(&bundle).unwrap();
    std::fs::write(&bundle, text.replace("第一个问题", "第三个问题")).unwrap();
    let out = check(key.trim());
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("altered"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A missing signing key is not replaced by a new one once checkpoints exist (they would be
    // signed by a key nobody trusts, for good); verify works with the public key alone.
    let key_file = dir.path().join("data/ledger-signing.key");
    let moved = dir.path().join("ledger-signing.key.bak");
    std::fs::rename(&key_file, &moved).unwrap();
    let (ok, _, err) = hegui(&cfg, &["ledger", "checkpoint"]);
    assert!(
        !ok && err.contains("already has signed checkpoints") && !key_file.exists(),
        "{err}"
    );
    let (ok, out, err) = hegui(&cfg, &["ledger", "verify", "--public-key", key.trim()]);
    assert!(ok && out.contains("OK: the log verifies"), "{out}{err}");
    let (ok, out, _) = hegui(
        &cfg,
        &["ledger", "verify", "--public-key", other_key.trim()],
    );
    assert!(!ok && out.contains("signature"), "{out}");
    std::fs::rename(&moved, &key_file).unwrap();
    std::fs::write(&bundle, "{\"format\": \"hegui-proof-bundle/1\"").unwrap();
    let out = check(key.trim());
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("not a proof bundle")
    );

    // Erasure: blocked by a legal hold, then granted; the proof outlives the content.
    let (ok, hold, _) = hegui(
        &cfg,
        &[
            "holds",
            "add",
            "--record",
            &ids[0],
            "--reason",
            "court order",
        ],
    );
    assert!(ok);
    let (ok, _, err) = hegui(
        &cfg,
        &["records", "erase", &ids[0], "--reason", "PIPL request 7"],
    );
    assert!(!ok && err.contains("legal hold"), "{err}");
    let (ok, _, _) = hegui(
        &cfg,
        &["holds", "release", hold.trim(), "--reason", "order lifted"],
    );
    assert!(ok);
    let (ok, out, err) = hegui(
        &cfg,
        &["records", "erase", &ids[0], "--reason", "PIPL request 7"],
    );
    assert!(ok && out.contains("erased"), "{err}");
    let (_, show, _) = hegui(&cfg, &["records", "show", &ids[0]]);
    assert!(show.contains("content erased"), "{show}");
    let (ok, out, _) = hegui(&cfg, &["ledger", "purge", "--dry-run"]);
    assert!(
        ok && out.contains("would erase the content of 0 record(s)"),
        "{out}"
    );
    let (ok, _, err) = hegui(
        &cfg,
        &[
            "ledger",
            "prove",
            &ids[0],
            "--out",
            bundle.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let out = check(key.trim());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("not disclosed"));

    // Tamper with the second record's stored content: verify names it.
    let (ok, out, _) = hegui(&cfg, &["ledger", "verify"]);
    assert!(ok && out.contains("1 erased"), "{out}");
    let raw = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("data/hegui.db").display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "UPDATE journal SET record = replace(record, '第二个问题', '第二个问我') WHERE id = $1",
    )
    .bind(&ids[1])
    .execute(&raw)
    .await
    .unwrap();
    let (ok, out, _) = hegui(&cfg, &["ledger", "verify"]);
    assert!(!ok);
    assert!(
        out.contains(&format!("(record {})", ids[1])) && out.contains("altered"),
        "{out}"
    );
}

/// Two gateway instances on one PostgreSQL database: both serve and record; one sequencer at
/// a time integrates; when it is killed the other takes over and the log stays whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_log_on_postgres() {
    let Some(admin) = hegui_store::testing::postgres_admin_url() else {
        return;
    };
    let db = hegui_store::testing::fresh_postgres_database(&admin)
        .await
        .expect("PostgreSQL reachable");
    let mock = hegui_mock_upstream::spawn(hegui_mock_upstream::MockConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("log.key");
    let instance = |name: &str| {
        let p = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &p,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndatabase_url = \"{db}\"\ndata_dir = \"{}\"\n\
                 [upstream]\nbase_url = \"{}\"\n[ledger]\nsigning_key_file = \"{}\"\ncheckpoint_interval_secs = 1\n",
                dir.path().join(name).display(),
                mock.base_url,
                key.display()
            ),
        )
        .unwrap();
        p
    };
    let (a_cfg, b_cfg) = (instance("a"), instance("b"));
    let (ok, _, err) = hegui(
        &a_cfg,
        &["ledger", "keygen", "--out", key.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let (_, out, _) = hegui(&a_cfg, &["users", "create"]);
    let user = out.split_whitespace().next().unwrap().to_string();
    hegui(&a_cfg, &["users", "verify", &user, "--reason", "test"]);
    let (_, secret, _) = hegui(&a_cfg, &["keys", "create", "--user", &user]);
    let mut a = serve(&a_cfg);
    let b = serve(&b_cfg);
    let http = reqwest::Client::new();
    let send = |base: String| {
        let (http, secret) = (http.clone(), secret.trim().to_string());
        async move {
            let body = serde_json::json!({"model": "mock-small", "messages": [{"role": "user", "content": "hi"}]});
            let r = http
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(secret)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    for _ in 0..10 {
        send(a.1.clone()).await;
        send(b.1.clone()).await;
    }
    a.0.kill().unwrap(); // the sequencer (whichever it was) may die here
    a.0.wait().unwrap();
    for _ in 0..10 {
        send(b.1.clone()).await;
    }
    // Within a few seconds every record is a leaf under a checkpoint signed with the shared key.
    let mut last = String::new();
    for _ in 0..100 {
        let (ok, out, _) = hegui(&b_cfg, &["ledger", "verify"]);
        if ok && out.contains(" 0 pending") {
            last.clear();
            break;
        }
        last = out;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(last.is_empty(), "log never settled: {last}");
    let (_, out, _) = hegui(&b_cfg, &["records", "list", "--limit", "100", "--json"]);
    assert_eq!(out.lines().count(), 30);
    drop(b);
}

#[test]
fn operator_verification_keeps_numbers_encrypted_and_keys_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "http://127.0.0.1:8000/v1");
    let (ok, out, _) = hegui(&cfg, &["users", "create"]);
    assert!(ok);
    let user = out.split_whitespace().next().unwrap().to_string();
    // A bad number is refused with its rule.
    let (ok, _, err) = hegui(
        &cfg,
        &[
            "users",
            "verify",
            &user,
            "--factor",
            "phone",
            "--phone",
            "1398765",
            "--reason",
            "counter 2",
        ],
    );
    assert!(!ok && err.contains("phone.length"), "{err}");
    let (ok, out, err) = hegui(
        &cfg,
        &[
            "users",
            "verify",
            &user,
            "--factor",
            "phone",
            "--phone",
            "13987654321",
            "--reason",
            "counter 2",
        ],
    );
    assert!(ok && out.contains("verified=phone"), "{out}{err}");
    // The ID number read from standard input (kept out of the shell history): a minor.
    let id = {
        let first17 = "44030520140305402";
        format!(
            "{first17}{}",
            hegui_pii::id_card::check_char(first17).unwrap()
        )
    };
    let mut child = Command::new(HEGUI)
        .arg("--config")
        .arg(&cfg)
        .args([
            "users",
            "verify",
            &user,
            "--factor",
            "id",
            "--id-number",
            "-",
            "--reason",
            "passport seen",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{id}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains("verified=phone+id") && out.contains("minor=true"),
        "{out}"
    );

    let keyfile = dir.path().join("data/pi-keys.toml");
    let export = |cfg: &Path| {
        let (ok, out, err) = hegui(cfg, &["users", "export", &user]);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let v = export(&cfg);
    assert_eq!(v["personal_information"]["phone"], "13987654321");
    assert_eq!(
        v["personal_information"]["id_number"],
        serde_json::Value::Null,
        "ID numbers are not kept unless configured"
    );

    // Rotation: a new key, everything re-encrypted, the old key still in the file.
    let (ok, out, err) = hegui(&cfg, &["keys", "rotate"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("active key is now k2") && out.contains("re-encrypted 1 account"),
        "{out}"
    );
    let file = std::fs::read_to_string(&keyfile).unwrap();
    assert!(
        file.contains("id = \"k1\"") && file.contains("active = \"k2\""),
        "{file}"
    );
    assert_eq!(export(&cfg)["personal_information"]["phone"], "13987654321");
    // Retiring: no stored value needs k1 or k2 after the next rotation.
    let (ok, out, err) = hegui(&cfg, &["keys", "rotate", "--retire"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("retired key k1") && out.contains("retired key k2"),
        "{out}"
    );
    let file = std::fs::read_to_string(&keyfile).unwrap();
    assert!(
        !file.contains("id = \"k1\"") && file.contains("active = \"k3\""),
        "{file}"
    );
    assert_eq!(export(&cfg)["personal_information"]["phone"], "13987654321");
    // Without the key file the numbers cannot be read, and the error says why.
    std::fs::write(&keyfile, PiKeysFixture::other()).unwrap();
    let (ok, _, err) = hegui(&cfg, &["users", "export", &user]);
    assert!(!ok && err.contains("not in the PI key file"), "{err}");
    // Deletion erases the numbers and says what was kept.
    let (ok, out, err) = hegui(
        &cfg,
        &[
            "users",
            "delete",
            &user,
            "--reason",
            "data subject request #7",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("\"identity\": true") && out.contains("six months"),
        "{out}"
    );
    let db = std::fs::read(dir.path().join("data/hegui.db")).unwrap();
    assert!(!db.windows(11).any(|w| w == b"13987654321"));
}

/// A valid key file with other keys.
struct PiKeysFixture;

impl PiKeysFixture {
    fn other() -> String {
        let b64 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        format!(
            "active = \"k9\"\nindex_key = \"{b64}\"\n[[keys]]\nid = \"k9\"\nsecret = \"{b64}\"\n"
        )
    }
}
