#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The image label: size rule, placement, legibility, untouched surroundings, bad input.

use hegui_explicit::{
    contrast_ratio, relative_luminance, ExplicitError, ExplicitLabeler, ImageLabelOptions,
    ImageLabeler, LabelLayout, Position, Wording, DEFAULT_WORDINGS,
};
use image::{DynamicImage, GrayImage, Rgb, RgbImage, Rgba, RgbaImage};
use proptest::prelude::*;

fn labeler(wording: &str, position: Position) -> ImageLabeler {
    ImageLabeler::new(ImageLabelOptions {
        wording: Wording::new(wording).unwrap(),
        position,
        ..ImageLabelOptions::default()
    })
    .unwrap()
}

/// Deterministic noisy RGB image (xorshift), so tests need no rng crate.
fn noise(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut s = seed | 1;
    RgbImage::from_fn(w, h, |_, _| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        Rgb([s as u8, (s >> 8) as u8, (s >> 16) as u8])
    })
}

/// Rows and columns (inclusive bounds) of overlay pixels whose text coverage is ≥ 50%.
/// The overlay has a black plate and white text, so red/255 is the text coverage share.
fn ink_bbox(overlay: &RgbaImage, x_range: std::ops::Range<u32>) -> Option<(u32, u32, u32, u32)> {
    let mut b: Option<(u32, u32, u32, u32)> = None;
    for (x, y, p) in overlay.enumerate_pixels() {
        if !x_range.contains(&x) || text_coverage(p) < 0.5 {
            continue;
        }
        b = Some(match b {
            None => (x, y, x, y),
            Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
        });
    }
    b
}

/// Share of text in an overlay pixel: composited colour = text·cov + plate·(1−cov)·a_plate.
fn text_coverage(p: &Rgba<u8>) -> f32 {
    let a = f32::from(p[3]) / 255.0;
    let r = f32::from(p[0]) / 255.0 * a;
    // Premultiplied red is exactly the text coverage (plate red is 0).
    r
}

#[test]
fn rendered_text_height_meets_five_percent_of_shortest_side() {
    for (w, h) in [
        (1920, 1080),
        (1080, 1920),
        (640, 480),
        (4000, 300),
        (7680, 4320),
    ] {
        for wording in DEFAULT_WORDINGS {
            let l = labeler(wording, Position::BottomRight);
            let (overlay, layout) = l.render_overlay(w, h).unwrap();
            let required = (w.min(h) as f64 * 0.05).ceil() as u32;
            assert_eq!(layout.required_px, required.max(1));
            let (_, y0, _, y1) = ink_bbox(&overlay, 0..overlay.width()).unwrap();
            let ink_h = y1 - y0 + 1;
            assert!(
                ink_h >= required,
                "{w}x{h} {wording}: ink {ink_h} px < required {required} px"
            );
        }
    }
}

#[test]
fn the_latin_cap_height_itself_meets_the_rule() {
    // "AI生成" on a 1000×1000 image: 5% is 50 px; the leftmost ink run is the letter A.
    let l = labeler("AI生成", Position::TopLeft);
    let (overlay, layout) = l.render_overlay(1000, 1000).unwrap();
    assert_eq!(layout.cap_height_px, 50);
    let cols_with_ink: Vec<bool> = (0..overlay.width())
        .map(|x| (0..overlay.height()).any(|y| text_coverage(overlay.get_pixel(x, y)) >= 0.5))
        .collect();
    let a_start = cols_with_ink.iter().position(|c| *c).unwrap() as u32;
    let a_end = a_start
        + cols_with_ink[a_start as usize..]
            .iter()
            .position(|c| !*c)
            .unwrap() as u32;
    let (_, y0, _, y1) = ink_bbox(&overlay, a_start..a_end).unwrap();
    let cap = y1 - y0 + 1;
    assert!((50..=52).contains(&cap), "measured cap height of A: {cap}");
}

#[test]
fn small_images_grow_the_text_to_the_legible_minimum_when_it_fits() {
    let l = labeler("AI生成", Position::BottomLeft);
    let layout = l.layout(200, 200).unwrap();
    assert_eq!(layout.required_px, 10);
    assert_eq!(layout.cap_height_px, 12);
}

fn assert_inside(layout: &LabelLayout, w: u32, h: u32) {
    assert!(layout.width > 0 && layout.height > 0);
    assert!(layout.x + layout.width <= w, "{layout:?} in {w}x{h}");
    assert!(layout.y + layout.height <= h, "{layout:?} in {w}x{h}");
}

#[test]
fn positions_put_the_plate_at_the_named_corner_or_edge() {
    let (w, h) = (1000u32, 600u32);
    let margin = 12; // 2% of 600
    for p in Position::ALL {
        let lay = labeler("AI生成", p).layout(w, h).unwrap();
        assert_inside(&lay, w, h);
        let right = w - lay.x - lay.width;
        let bottom = h - lay.y - lay.height;
        let name = format!("{p:?}");
        if name.contains("Left") {
            assert_eq!(lay.x, margin, "{name}");
        } else if name.contains("Right") {
            assert_eq!(right, margin, "{name}");
        } else {
            assert!(lay.x.abs_diff(right) <= 1, "{name} not centred");
        }
        if name.starts_with("Top") {
            assert_eq!(lay.y, margin, "{name}");
        } else if name.starts_with("Bottom") {
            assert_eq!(bottom, margin, "{name}");
        } else {
            assert!(lay.y.abs_diff(bottom) <= 1, "{name} not centred");
        }
    }
}

#[test]
fn pixels_outside_the_label_rectangle_are_unchanged() {
    for p in Position::ALL {
        let original = noise(321, 123, 7);
        let mut img = original.clone();
        let lay = labeler("人工智能生成", p).label_rgb(&mut img).unwrap();
        let mut changed_inside = 0;
        for (x, y, px) in img.enumerate_pixels() {
            let inside =
                x >= lay.x && x < lay.x + lay.width && y >= lay.y && y < lay.y + lay.height;
            if inside {
                changed_inside += usize::from(px != original.get_pixel(x, y));
            } else {
                assert_eq!(px, original.get_pixel(x, y), "{p:?} changed ({x},{y})");
            }
        }
        assert!(
            changed_inside as u32 > lay.width * lay.height / 2,
            "the label barely changed its own rectangle"
        );
    }
}

/// Worst contrast between any fully-covered text pixel and any plate pixel of a labelled image.
fn worst_text_plate_contrast(background: RgbImage) -> f32 {
    let (w, h) = background.dimensions();
    let l = labeler("AI生成", Position::BottomRight);
    let (overlay, lay) = l.render_overlay(w, h).unwrap();
    let mut img = background;
    l.label_rgb(&mut img).unwrap();
    let (mut text_min, mut plate_max) = (f32::MAX, f32::MIN);
    for (ox, oy, p) in overlay.enumerate_pixels() {
        let cov = text_coverage(p);
        let seen = img.get_pixel(lay.x + ox, lay.y + oy).0;
        let lum = relative_luminance(seen);
        if cov >= 0.999 {
            text_min = text_min.min(lum);
        } else if cov <= 0.001 {
            plate_max = plate_max.max(lum);
        }
    }
    assert!(text_min < f32::MAX && plate_max > f32::MIN);
    (text_min + 0.05) / (plate_max + 0.05)
}

#[test]
fn text_is_legible_on_white_black_and_noisy_backgrounds() {
    let (w, h) = (640, 360);
    let backgrounds = [
        ("white", RgbImage::from_pixel(w, h, Rgb([255, 255, 255]))),
        ("black", RgbImage::from_pixel(w, h, Rgb([0, 0, 0]))),
        ("noise", noise(w, h, 42)),
        ("mid-grey", RgbImage::from_pixel(w, h, Rgb([128, 128, 128]))),
    ];
    for (name, bg) in backgrounds {
        let c = worst_text_plate_contrast(bg);
        assert!(c >= 4.5, "{name}: worst text/plate contrast {c:.2}:1");
    }
    assert!((contrast_ratio([255; 3], [0; 3]) - 21.0).abs() < 0.01);
}

#[test]
fn transparent_rgba_images_get_an_opaque_enough_plate() {
    let mut img = RgbaImage::new(300, 300);
    let lay = labeler("AI生成", Position::TopLeft)
        .label_rgba(&mut img)
        .unwrap();
    let p = img.get_pixel(lay.x, lay.y);
    assert_eq!(p[3], 184, "plate alpha over a transparent pixel");
    assert_eq!(img.get_pixel(299, 299)[3], 0, "outside stays transparent");
}

#[test]
fn dynamic_images_keep_rgb_or_rgba_and_others_are_converted() {
    let l = labeler("AI生成", Position::BottomRight);
    let out = l
        .apply(DynamicImage::ImageRgba8(RgbaImage::new(64, 64)))
        .unwrap();
    assert!(matches!(out, DynamicImage::ImageRgba8(_)));
    let out = l
        .apply(DynamicImage::ImageLuma8(GrayImage::new(64, 64)))
        .unwrap();
    assert!(matches!(out, DynamicImage::ImageRgb8(_)));
}

#[test]
fn tiny_and_huge_images_are_labelled_without_panic() {
    let l = labeler("AI生成", Position::BottomRight);
    for (w, h) in [
        (16, 16),
        (1, 1),
        (16, 1),
        (64, 8),
        (7680, 4320),
        (4320, 7680),
    ] {
        match l.layout(w, h) {
            Ok(lay) => {
                assert_inside(&lay, w, h);
                let mut img = RgbImage::new(w, h);
                l.label_rgb(&mut img).unwrap();
            }
            Err(e) => assert!(
                matches!(e, ExplicitError::ImageTooSmall { .. }),
                "{w}x{h}: {e}"
            ),
        }
    }
    // 16×16 is the smallest size promised to work.
    let lay = l.layout(16, 16).unwrap();
    assert!(lay.cap_height_px >= 1);
}

#[test]
fn a_label_that_cannot_fit_at_the_required_size_is_refused_with_sizes() {
    let l = ImageLabeler::new(ImageLabelOptions {
        wording: Wording::new("本内容由人工智能生成").unwrap(),
        text_height_ratio: 0.5,
        ..ImageLabelOptions::default()
    })
    .unwrap();
    let err = l.layout(20, 100).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ExplicitError::ImageTooSmall { .. }));
    assert!(
        msg.contains("20x100") && msg.contains("shorter wording"),
        "{msg}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn label_is_inside_and_meets_the_rule_or_is_refused(
        w in 1u32..4000,
        h in 1u32..4000,
        pos in 0usize..8,
        wording in 0usize..4,
    ) {
        let l = labeler(DEFAULT_WORDINGS[wording], Position::ALL[pos]);
        let required = ((w.min(h) as f64 * 0.05).ceil() as u32).max(1);
        match l.layout(w, h) {
            Ok(lay) => {
                prop_assert!(lay.x + lay.width <= w && lay.y + lay.height <= h);
                prop_assert_eq!(lay.required_px, required);
                prop_assert!(lay.cap_height_px >= required);
            }
            Err(ExplicitError::ImageTooSmall { required_px, .. }) => {
                prop_assert_eq!(required_px, required);
            }
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    #[test]
    fn rendered_ink_stays_inside_the_rectangle(
        w in 16u32..300,
        h in 16u32..300,
        pos in 0usize..8,
    ) {
        let l = labeler("AI生成", Position::ALL[pos]);
        let original = noise(w, h, u64::from(w * 1000 + h));
        let mut img = original.clone();
        let lay = l.label_rgb(&mut img).unwrap();
        for (x, y, px) in img.enumerate_pixels() {
            let inside = x >= lay.x && x < lay.x + lay.width && y >= lay.y && y < lay.y + lay.height;
            prop_assert!(inside || px == original.get_pixel(x, y));
        }
        let (overlay, _) = l.render_overlay(w, h).unwrap();
        let (_, y0, _, y1) = ink_bbox(&overlay, 0..overlay.width()).unwrap();
        prop_assert!(y1 - y0 + 1 >= lay.required_px);
    }
}
