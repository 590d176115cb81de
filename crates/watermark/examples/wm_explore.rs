//! Development probe: per-attack success, BER and sync z on procedural images.
//! Usage: `wm_explore [W H N low|normal|high]`; `HARD=1` adds harsher attacks.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "../tests/common/mod.rs"]
mod common;
use hegui_watermark::*;
use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let w: u32 = args.get(1).map_or(1920, |s| s.parse().unwrap());
    let h: u32 = args.get(2).map_or(1080, |s| s.parse().unwrap());
    let n: u64 = args.get(3).map_or(3, |s| s.parse().unwrap());
    let strength = match args.get(4).map(String::as_str) {
        Some("low") => Strength::Low,
        Some("high") => Strength::High,
        _ => Strength::Normal,
    };
    let key = WatermarkKey::from_secret(b"explore");
    let mut ok: BTreeMap<String, (u32, f32, f32)> = BTreeMap::new();
    let mut te_sum = 0.0;
    let mut td_max = 0.0f64;
    let mut psnr_min = f64::MAX;
    for seed in 0..n {
        let img = common::synth_image(seed + 100, w, h);
        let payload = 0x0123_4567_89ab_cdef ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let t = Instant::now();
        let wm = embed(&img, &key, payload, strength).unwrap();
        te_sum += t.elapsed().as_secs_f64();
        psnr_min = psnr_min.min(common::psnr(&img, &wm));
        if seed == 0 {
            wm.save("/tmp/wm_out.png").unwrap();
            img.save("/tmp/wm_src.png").unwrap();
        }
        let mut atts = common::attacks(&wm);
        if std::env::var("HARD").is_ok() {
            atts.push(("jpeg_q30", common::jpeg(&wm, 30)));
            atts.push(("jpeg_q20", common::jpeg(&wm, 20)));
            atts.push(("resize33", common::resize(&wm, w / 3, h / 3)));
            atts.push(("resize25", common::resize(&wm, w / 4, h / 4)));
            atts.push(("crop25_all", common::crop(&wm, 0.12, 0.12, 0.12, 0.12)));
            atts.push((
                "half_jpeg50",
                common::jpeg(&common::resize(&wm, w / 2, h / 2), 50),
            ));
            atts.push((
                "crop_jpeg50",
                common::jpeg(&common::crop(&wm, 0.1, 0.05, 0.0, 0.1), 50),
            ));
        }
        for (name, att) in atts {
            let t = Instant::now();
            let (d, st) = detect_with_stats(&att, &key);
            td_max = td_max.max(t.elapsed().as_secs_f64());
            let e = ok.entry(name.to_string()).or_default();
            if d.payload == Some(payload) {
                e.0 += 1;
            } else if d.payload.is_some() {
                println!("WRONG PAYLOAD {name} seed {seed}");
            }
            e.1 += st.raw_bit_error_rate.unwrap_or(0.5);
            e.2 += st.best_search_z;
        }
    }
    println!(
        "{w}x{h} n={n} {strength:?}: embed avg {:.1} ms, detect max {:.0} ms, min psnr {psnr_min:.2}",
        te_sum * 1e3 / n as f64,
        td_max * 1e3
    );
    for (k, (c, ber, z)) in ok {
        println!(
            "  {k:14} {c}/{n}  mean ber {:.3}  mean search z {:.1}",
            ber / n as f32,
            z / n as f32
        );
    }
}
