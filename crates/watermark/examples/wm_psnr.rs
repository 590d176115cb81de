//! PSNR per strength on procedural images, and what the detector says on flat images.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "../tests/common/mod.rs"]
mod common;
use hegui_watermark::*;
use image::{Rgb, RgbImage};

fn main() {
    let key = WatermarkKey::from_secret(b"psnr");
    for (w, h) in [(1920u32, 1080u32), (1280, 720)] {
        for strength in [Strength::Low, Strength::Normal, Strength::High] {
            let ps: Vec<f64> = (0..20u64)
                .map(|s| {
                    let img = common::synth_image(500 + s, w, h);
                    common::psnr(&img, &embed(&img, &key, s, strength).unwrap())
                })
                .collect();
            let min = ps.iter().cloned().fold(f64::MAX, f64::min);
            let mean = ps.iter().sum::<f64>() / ps.len() as f64;
            println!("{w}x{h} {strength:?}: PSNR min {min:.2} mean {mean:.2} dB (20 images)");
        }
    }
    let mut grad = RgbImage::new(1280, 720);
    for (x, _, p) in grad.enumerate_pixels_mut() {
        let v = (x * 255 / 1279) as u8;
        *p = Rgb([v, v / 2, 255 - v]);
    }
    let flats = [
        (
            "gray128",
            RgbImage::from_pixel(1280, 720, Rgb([128, 128, 128])),
        ),
        ("black", RgbImage::from_pixel(1280, 720, Rgb([0, 0, 0]))),
        (
            "white",
            RgbImage::from_pixel(1280, 720, Rgb([255, 255, 255])),
        ),
        ("gradient", grad),
    ];
    for (name, img) in flats {
        let m = embed(&img, &key, 0xABCD, Strength::Normal).unwrap();
        let show = |d: Detection| {
            format!(
                "{:?} conf {:.3} score {:.1}",
                d.payload.map(|p| p == 0xABCD),
                d.confidence,
                d.score
            )
        };
        println!(
            "flat {name:9} psnr {:.1}: unmarked [{}] marked [{}] marked+jpeg50 [{}]",
            common::psnr(&img, &m),
            show(detect(&img, &key)),
            show(detect(&m, &key)),
            show(detect(&common::jpeg(&m, 50), &key)),
        );
    }
}
