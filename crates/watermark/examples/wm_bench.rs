//! Batch driver used by `bench/watermark.sh` (timings are taken in-process, excluding PNG/JPEG
//! file I/O, like the Python peers).
//!
//! * `wm_bench embed KEY_HEX` — stdin lines `in.png<TAB>out.png<TAB>payload_hex`; writes the
//!   watermarked PNGs; prints one JSON object per line: `{"file","ms","psnr"}`.
//! * `wm_bench detect KEY_HEX` — stdin lines `path`; prints
//!   `{"file","ms","payload","raw","score","confidence"}` (hex strings or null). `raw` is the
//!   payload part of the hard bits before error correction, for bit-accuracy statistics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::time::Instant;

use hegui_watermark::{detect, detect_with_stats, embed, Strength, WatermarkKey};

fn key_from_hex(hex: &str) -> WatermarkKey {
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("00"), 16).unwrap_or(0);
    }
    WatermarkKey(key)
}

fn psnr(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let mse: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let key = key_from_hex(args.get(2).map_or("", String::as_str));
    let strength = match args.get(3).map(String::as_str) {
        Some("low") => Strength::Low,
        Some("high") => Strength::High,
        _ => Strength::Normal,
    };
    let mut first = true;
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let fields: Vec<&str> = line.split('\t').collect();
        match mode {
            "embed" => {
                let img = image::open(fields[0]).unwrap().to_rgb8();
                let payload = u64::from_str_radix(fields[2], 16).unwrap();
                if first {
                    // one untimed warm-up call, as for the Python peers
                    let _ = embed(&img, &key, payload, strength).unwrap();
                    first = false;
                }
                let t = Instant::now();
                let marked = embed(&img, &key, payload, strength).unwrap();
                let ms = t.elapsed().as_secs_f64() * 1e3;
                marked.save(fields[1]).unwrap();
                println!(
                    "{{\"file\":\"{}\",\"ms\":{ms:.3},\"psnr\":{:.3}}}",
                    fields[1],
                    psnr(&img, &marked)
                );
            }
            "detect" => {
                let img = image::open(fields[0]).unwrap().to_rgb8();
                let t = Instant::now();
                let d = detect(&img, &key);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                // untimed second pass for the pre-correction bits (bit-accuracy statistics)
                let (_, st) = detect_with_stats(&img, &key);
                let hex =
                    |v: Option<u64>| v.map_or("null".to_string(), |p| format!("\"{p:016x}\""));
                println!(
                    "{{\"file\":\"{}\",\"ms\":{ms:.3},\"payload\":{},\"raw\":{},\"score\":{:.3},\"confidence\":{:.6}}}",
                    fields[0],
                    hex(d.payload),
                    hex(st.raw_payload),
                    d.score,
                    d.confidence
                );
            }
            _ => {
                eprintln!("usage: wm_bench embed|detect KEY_HEX [low|normal|high] < manifest");
                std::process::exit(2);
            }
        }
    }
}
