#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{attacks, crop, jpeg, psnr, synth_image};
use hegui_watermark::{
    detect, embed, payload_from_produce_id, Detection, Strength, WatermarkError, WatermarkKey,
};
use image::{Rgb, RgbImage};

fn key() -> WatermarkKey {
    WatermarkKey::from_secret(b"provider-A secret")
}

fn other_key() -> WatermarkKey {
    WatermarkKey::from_secret(b"provider-B secret")
}

/// Every required attack recovers the exact payload, on several images, sizes and payloads.
#[test]
fn every_attack_recovers_the_exact_payload() {
    let cases = [
        (11u64, 1920u32, 1080u32, "produce-0001"),
        (12, 1280, 720, "produce-0002"),
        (13, 1024, 768, "produce-0003"),
        (14, 720, 960, "produce-0004"),
    ];
    let mut failures = Vec::new();
    for (seed, w, h, id) in cases {
        let img = synth_image(seed, w, h);
        let payload = payload_from_produce_id(id);
        let marked = embed(&img, &key(), payload, Strength::Normal).unwrap();
        for (name, attacked) in attacks(&marked) {
            let d = detect(&attacked, &key());
            if d.payload != Some(payload) {
                failures.push(format!("{w}x{h} seed {seed} {name}: {d:?}"));
            }
            assert!(d.payload.is_none() || d.payload == Some(payload));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn extreme_payloads_round_trip() {
    let img = synth_image(21, 800, 600);
    for payload in [
        0u64,
        u64::MAX,
        1,
        0x8000_0000_0000_0000,
        0x5555_5555_5555_5555,
    ] {
        let marked = embed(&img, &key(), payload, Strength::Normal).unwrap();
        let d = detect(&jpeg(&marked, 50), &key());
        assert_eq!(d.payload, Some(payload));
        assert!(d.confidence > 0.999_999);
        assert!(d.score > 7.0);
    }
}

#[test]
fn psnr_meets_threshold() {
    for seed in 30..36u64 {
        let img = synth_image(seed, 1280, 720);
        for (strength, min) in [
            (Strength::High, 38.0),
            (Strength::Normal, 41.5),
            (Strength::Low, 44.5),
        ] {
            let marked = embed(&img, &key(), 42, strength).unwrap();
            let p = psnr(&img, &marked);
            assert!(p >= min, "seed {seed} {strength:?}: {p:.2} dB < {min}");
        }
    }
}

#[test]
fn wrong_key_gives_none() {
    for seed in 40..46u64 {
        let img = synth_image(seed, 960, 540);
        let marked = embed(&img, &key(), 0xDEAD_BEEF, Strength::High).unwrap();
        let d = detect(&marked, &other_key());
        assert_eq!(d.payload, None, "seed {seed}");
        assert!(d.score < 7.0);
    }
}

#[test]
fn unwatermarked_gives_none() {
    for seed in 50..62u64 {
        let img = synth_image(seed, 800 + seed as u32, 600);
        let d = detect(&img, &key());
        assert_eq!(d.payload, None, "seed {seed}");
        assert_eq!(d.confidence, 0.0, "{d:?}");
        assert!(d.score < 7.0, "{d:?}");
    }
}

#[test]
fn flat_images_never_yield_a_wrong_payload() {
    let payload = 0x0123_4567_89AB_CDEF;
    let mut gradient = RgbImage::new(640, 480);
    for (x, _, p) in gradient.enumerate_pixels_mut() {
        let v = (x * 255 / 639) as u8;
        *p = Rgb([v, v / 2, 255 - v]);
    }
    let flats = [
        RgbImage::from_pixel(640, 480, Rgb([128, 128, 128])),
        RgbImage::from_pixel(640, 480, Rgb([0, 0, 0])),
        RgbImage::from_pixel(640, 480, Rgb([255, 255, 255])),
        gradient,
    ];
    for (i, flat) in flats.iter().enumerate() {
        let none = detect(flat, &key());
        assert_eq!(none.payload, None, "unmarked flat {i}");
        let marked = embed(flat, &key(), payload, Strength::Normal).unwrap();
        // Flat images get a weaker mark (flatness factor): high PSNR.
        assert!(psnr(flat, &marked) > 45.0, "flat {i}");
        for attacked in [
            marked.clone(),
            jpeg(&marked, 50),
            crop(&marked, 0.1, 0.0, 0.0, 0.0),
        ] {
            let d = detect(&attacked, &key());
            assert!(
                d.payload.is_none() || d.payload == Some(payload),
                "flat {i}: {d:?}"
            );
            if d.payload.is_none() {
                assert!(d.confidence < 1.0);
            }
        }
    }
}

#[test]
fn tiny_and_odd_images_never_panic() {
    let sizes = [
        (1u32, 1u32),
        (7, 3),
        (31, 31),
        (32, 32),
        (33, 47),
        (2, 4000),
        (4000, 2),
        (5000, 40),
        (40, 3000),
        (97, 61),
        (1001, 999),
    ];
    for (w, h) in sizes {
        let img = synth_image(w as u64 * 7 + h as u64, w, h);
        match embed(&img, &key(), 7, Strength::Normal) {
            Ok(marked) => {
                assert_eq!(marked.dimensions(), (w, h));
                let d = detect(&marked, &key());
                assert!(d.payload.is_none() || d.payload == Some(7), "{w}x{h}");
            }
            Err(WatermarkError::ImageTooSmall { .. }) => assert!(w < 32 || h < 32),
            Err(e) => panic!("{w}x{h}: {e}"),
        }
        let d: Detection = detect(&img, &key());
        assert_eq!(d.payload, None, "{w}x{h}");
    }
    let empty = RgbImage::new(0, 0);
    assert!(embed(&empty, &key(), 1, Strength::Normal).is_err());
    assert_eq!(detect(&empty, &key()).payload, None);
}

#[test]
fn embedding_is_deterministic_and_keyed() {
    let img = synth_image(70, 640, 360);
    let a = embed(&img, &key(), 99, Strength::Normal).unwrap();
    let b = embed(&img, &key(), 99, Strength::Normal).unwrap();
    let c = embed(&img, &other_key(), 99, Strength::Normal).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(detect(&c, &other_key()).payload, Some(99));
}

#[test]
fn produce_id_payload_is_sha256_prefix() {
    // SHA-256("abc") = ba7816bf8f01cfea...
    assert_eq!(payload_from_produce_id("abc"), 0xba78_16bf_8f01_cfea);
    assert_ne!(payload_from_produce_id("a"), payload_from_produce_id("b"));
}
