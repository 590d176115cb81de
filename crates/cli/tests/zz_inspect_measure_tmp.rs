#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::process::Command;
const HEGUI: &str = env!("CARGO_BIN_EXE_hegui");
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure() {
    let db = std::env::var("MEASURE_DB").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("h.toml");
    std::fs::write(&cfg, format!("[storage]\ndatabase_url = \"{db}\"\ndata_dir = \"{}\"\n[ledger]\nsigning_key_file = \"{}\"\n", dir.path().join("d").display(), dir.path().join("k").display())).unwrap();
    let store = hegui_store::Store::open(&db, 2).await.unwrap();
    let day = 1_748_707_200_000i64;
    for b in 0..20 {
        let recs: Vec<hegui_types::InteractionRecord> = (0..500).map(|i| {
            let n = b * 500 + i;
            serde_json::from_value(serde_json::json!({"v":1,"id":format!("0190aaaa-0000-7000-8000-{n:012}"),"received_at_ms": day + n as i64 * 1000,
              "user_id": format!("usr_{n}"), "key_id": "key_1", "endpoint":"chat.completions","model":"m","upstream_model":"m","stream":false,"outcome":"served","status":200,
              "error_code":null,"error":null,"input":[{"role":"user","content":"请介绍一下北京的历史和文化，谢谢。"}],"output":"北京是中国的首都，有三千多年的建城史。【本内容由人工智能生成】","finish_reason":"stop",
              "decisions":[{"stage":"input","action":"allow","risks":[],"matches":[],"policy_version":"lex-abc"},{"stage":"output","action":"allow","risks":[],"matches":[],"policy_version":"lex-abc"}],
              "label":{"Label":"1","ContentProducer":"hegui","ProduceID":format!("p-{n}")},"usage":{"prompt_tokens":12,"completion_tokens":30},"latency_us":1000,"upstream_us":800})).unwrap()
        }).collect();
        store.insert_records(&recs).await.unwrap();
    }
    store.close().await;
    let run = |args: &[&str]| {
        let t = std::time::Instant::now();
        let o = Command::new(HEGUI)
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
            t.elapsed(),
        )
    };
    let (ok, out, t) = run(&["ledger", "checkpoint"]);
    assert!(ok, "{out}");
    eprintln!("integrate+checkpoint {t:?}");
    let (ok, key, _) = run(&["ledger", "public-key"]);
    assert!(ok);
    let out_path = dir.path().join("b.tar");
    let (ok, out, t) = run(&[
        "inspect",
        "export",
        "--from",
        "2025-06-01",
        "--to",
        "2025-06-01",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    eprintln!("export {t:?}\n{out}");
    let (ok, out, t) = run(&[
        "inspect",
        "verify",
        out_path.to_str().unwrap(),
        "--public-key",
        key.trim(),
    ]);
    assert!(ok, "{out}");
    eprintln!("verify {t:?}\n{out}");
}
