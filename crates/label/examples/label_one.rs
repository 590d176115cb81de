//! Labels one file in place as `hegui label add --key` does (`label_file` with a signing key)
//! and prints the time it took and the process's peak resident memory: for timing one-shot
//! runs, where every buffer is fresh memory, on files written by `label_throughput` with
//! `LABEL_THROUGHPUT_SAVE=DIR`.
//!
//! usage: cargo run --release -p hegui-label --example label_one -- FILE
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hegui_label::{label_file, LabelSigningKey, Registry};
fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: label_one FILE (labeled in place)");
    let reg = Registry::new();
    let key = LabelSigningKey::from_secret([7; 32]);
    let label = hegui_types::AigcLabel {
        label: "1".into(),
        content_producer: "001191440300708461136T1XGW3".into(),
        produce_id: "0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11".into(),
        reserved_code1: None,
        content_propagator: None,
        propagate_id: None,
        reserved_code2: None,
    };
    let t = std::time::Instant::now();
    label_file(&reg, std::path::Path::new(&path), &label, Some(&key)).unwrap();
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map_or("unknown".to_string(), |v| v.trim().to_string());
    println!(
        "{:.1} ms, peak resident memory {hwm}",
        t.elapsed().as_secs_f64() * 1e3
    );
}
