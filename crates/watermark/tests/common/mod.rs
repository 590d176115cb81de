//! Shared by the integration tests and the benchmark example: procedural test images and
//! attacks implemented with real encoders/decoders.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use image::{imageops, ImageFormat, RgbImage};
use std::io::Cursor;

/// xorshift64* — deterministic, dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    pub fn gauss(&mut self) -> f32 {
        let u1 = self.unit().max(1e-7);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

/// A "natural-looking" procedural image: smooth gradient, low-frequency clouds, shaded shapes,
/// text-like glyph rows with sharp edges, and sensor-like noise.
pub fn synth_image(seed: u64, w: u32, h: u32) -> RgbImage {
    let mut rng = Rng::new(seed);
    let (wf, hf) = (w as f32, h as f32);
    let c0: [f32; 3] = [
        rng.range(20., 235.),
        rng.range(20., 235.),
        rng.range(20., 235.),
    ];
    let c1: [f32; 3] = [
        rng.range(20., 235.),
        rng.range(20., 235.),
        rng.range(20., 235.),
    ];
    let ang = rng.range(0.0, std::f32::consts::TAU);
    let (ca, sa) = (ang.cos(), ang.sin());
    let waves: Vec<(f32, f32, f32, f32)> = (0..6)
        .map(|_| {
            (
                rng.range(0.5, 6.0) / wf,
                rng.range(0.5, 6.0) / hf,
                rng.range(0.0, 6.3),
                rng.range(4.0, 18.0),
            )
        })
        .collect();
    let mut img = RgbImage::new(w, h);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (xf, yf) = (x as f32, y as f32);
        let t = (((xf / wf - 0.5) * ca + (yf / hf - 0.5) * sa) + 0.7).clamp(0.0, 1.4) / 1.4;
        let mut cloud = 0.0;
        for &(fx, fy, ph, a) in &waves {
            cloud += a * (std::f32::consts::TAU * (fx * xf + fy * yf) + ph).sin();
        }
        for c in 0..3 {
            let v = c0[c] * (1.0 - t) + c1[c] * t + cloud * (0.6 + 0.2 * c as f32);
            p[c] = v.clamp(0.0, 255.0) as u8;
        }
    }
    // multi-octave value noise (1/f-like texture: foliage, fabric, gravel...)
    let rough = rng.range(0.0, 1.0);
    let tex_amp = rng.range(3.0, 30.0);
    let mut octave_cell = 256.0f32;
    while octave_cell >= 2.0 {
        let gw = (wf / octave_cell) as usize + 2;
        let gh = (hf / octave_cell) as usize + 2;
        let grid: Vec<f32> = (0..gw * gh).map(|_| rng.range(-1.0, 1.0)).collect();
        let amp = tex_amp * (octave_cell / 256.0).powf(0.9 * rough);
        let tint = [
            rng.range(0.6, 1.0),
            rng.range(0.6, 1.0),
            rng.range(0.6, 1.0),
        ];
        for (x, y, p) in img.enumerate_pixels_mut() {
            let u = x as f32 / octave_cell;
            let v = y as f32 / octave_cell;
            let (i, j) = (u as usize, v as usize);
            let (fu, fv) = (u - i as f32, v - j as f32);
            let (su, sv) = (fu * fu * (3.0 - 2.0 * fu), fv * fv * (3.0 - 2.0 * fv));
            let g = |a: usize, b: usize| grid[b * gw + a];
            let n = (1.0 - sv) * ((1.0 - su) * g(i, j) + su * g(i + 1, j))
                + sv * ((1.0 - su) * g(i, j + 1) + su * g(i + 1, j + 1));
            for c in 0..3 {
                p[c] = (p[c] as f32 + amp * n * tint[c]).round().clamp(0.0, 255.0) as u8;
            }
        }
        octave_cell /= 2.0;
    }
    // shaded shapes
    let shapes = 6 + (rng.next_u64() % 8) as usize;
    for _ in 0..shapes {
        let cx = rng.range(0.0, wf);
        let cy = rng.range(0.0, hf);
        let r = rng.range(0.04, 0.22) * wf.min(hf);
        let col = [
            rng.range(0., 255.),
            rng.range(0., 255.),
            rng.range(0., 255.),
        ];
        let circle = rng.unit() < 0.5;
        let texture = rng.range(0.0, 25.0);
        let x0 = (cx - r).max(0.0) as u32;
        let x1 = ((cx + r).min(wf - 1.0)) as u32;
        let y0 = (cy - r).max(0.0) as u32;
        let y1 = ((cy + r).min(hf - 1.0)) as u32;
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let inside = if circle {
                    dx * dx + dy * dy <= r * r
                } else {
                    dx.abs() <= r && dy.abs() <= r * 0.6
                };
                if inside {
                    let shade = 0.75 + 0.25 * (dx - dy) / (2.0 * r);
                    let tex = texture * ((x as f32 * 0.31).sin() * (y as f32 * 0.27).cos());
                    let p = img.get_pixel_mut(x, y);
                    for c in 0..3 {
                        p[c] = (col[c] * shade + tex).clamp(0.0, 255.0) as u8;
                    }
                }
            }
        }
    }
    // text-like rows of glyphs
    let blocks = 1 + (rng.next_u64() % 3) as usize;
    for _ in 0..blocks {
        let size = rng.range(8.0, 28.0) * (hf / 1080.0).max(0.3);
        let bx = rng.range(0.0, wf * 0.6);
        let by = rng.range(0.0, hf * 0.8);
        let lines = 2 + (rng.next_u64() % 5) as u32;
        let dark = rng.unit() < 0.5;
        let ink = if dark { 20u8 } else { 240u8 };
        for l in 0..lines {
            let mut x = bx;
            let y = by + l as f32 * size * 1.6;
            let n = 10 + (rng.next_u64() % 30) as u32;
            for _ in 0..n {
                let gw = size * rng.range(0.4, 0.9);
                if rng.unit() < 0.15 {
                    x += size * 0.6;
                    continue;
                }
                let strokes = 1 + (rng.next_u64() % 3) as u32;
                for s in 0..strokes {
                    let vertical = rng.unit() < 0.5;
                    let (sx, sy, ew, eh) = if vertical {
                        (x + gw * s as f32 / 3.0, y, size * 0.14, size)
                    } else {
                        (x, y + size * s as f32 / 2.5, gw, size * 0.14)
                    };
                    for yy in sy as u32..(sy + eh) as u32 {
                        for xx in sx as u32..(sx + ew.max(1.0)) as u32 {
                            if xx < w && yy < h {
                                img.put_pixel(xx, yy, image::Rgb([ink, ink, ink]));
                            }
                        }
                    }
                }
                x += gw + size * 0.25;
            }
        }
    }
    // sensor noise
    let sigma = rng.range(1.0, 5.0);
    for p in img.pixels_mut() {
        let n = rng.gauss() * sigma;
        for c in 0..3 {
            p[c] = (p[c] as f32 + n).round().clamp(0.0, 255.0) as u8;
        }
    }
    img
}

pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let mse = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum::<f64>()
        / a.as_raw().len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// Real JPEG encode (jpeg-encoder, 4:2:0 chroma subsampling) and decode (image / zune-jpeg).
pub fn jpeg(img: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut bytes, quality);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    enc.encode(
        img.as_raw(),
        img.width() as u16,
        img.height() as u16,
        jpeg_encoder::ColorType::Rgb,
    )
    .unwrap();
    image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg)
        .unwrap()
        .to_rgb8()
}

pub fn png_roundtrip(img: &RgbImage) -> RgbImage {
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    image::load_from_memory_with_format(&bytes, ImageFormat::Png)
        .unwrap()
        .to_rgb8()
}

pub fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    imageops::resize(img, w, h, imageops::FilterType::CatmullRom)
}

/// Crops the given fractions from the left, top, right and bottom edges.
pub fn crop(img: &RgbImage, left: f32, top: f32, right: f32, bottom: f32) -> RgbImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let x0 = (w * left).round() as u32;
    let y0 = (h * top).round() as u32;
    let x1 = (w * (1.0 - right)).round() as u32;
    let y1 = (h * (1.0 - bottom)).round() as u32;
    imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image()
}

/// Pillow-style `ImageEnhance.Brightness`: multiply every channel by `factor`.
pub fn brightness(img: &RgbImage, factor: f32) -> RgbImage {
    let mut out = img.clone();
    for v in out.iter_mut() {
        *v = (*v as f32 * factor).round().clamp(0.0, 255.0) as u8;
    }
    out
}

/// "Screenshot-like": RGB → YCbCr (BT.601 full range) with 4:2:0 chroma (2×2 box average),
/// chroma upsampled bilinearly, back to RGB, then a PNG round trip.
pub fn chroma420_png(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut yp = vec![0f32; w * h];
    let mut cb = vec![0f32; cw * ch];
    let mut cr = vec![0f32; cw * ch];
    let mut cnt = vec![0f32; cw * ch];
    for (x, y, p) in img.enumerate_pixels() {
        let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
        let (x, y) = (x as usize, y as usize);
        yp[y * w + x] = 0.299 * r + 0.587 * g + 0.114 * b;
        let i = (y / 2) * cw + x / 2;
        cb[i] += 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
        cr[i] += 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
        cnt[i] += 1.0;
    }
    for i in 0..cw * ch {
        cb[i] /= cnt[i];
        cr[i] /= cnt[i];
    }
    let sample = |plane: &[f32], x: usize, y: usize| {
        let u = ((x as f32 + 0.5) / 2.0 - 0.5).clamp(0.0, (cw - 1) as f32);
        let v = ((y as f32 + 0.5) / 2.0 - 0.5).clamp(0.0, (ch - 1) as f32);
        let (x0, y0) = (u.floor() as usize, v.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(cw - 1), (y0 + 1).min(ch - 1));
        let (fx, fy) = (u - x0 as f32, v - y0 as f32);
        (1.0 - fy) * ((1.0 - fx) * plane[y0 * cw + x0] + fx * plane[y0 * cw + x1])
            + fy * ((1.0 - fx) * plane[y1 * cw + x0] + fx * plane[y1 * cw + x1])
    };
    let mut out = RgbImage::new(w as u32, h as u32);
    for (x, y, p) in out.enumerate_pixels_mut() {
        let (xu, yu) = (x as usize, y as usize);
        let yy = yp[yu * w + xu];
        let b = sample(&cb, xu, yu) - 128.0;
        let r = sample(&cr, xu, yu) - 128.0;
        let rgb = [
            yy + 1.402 * r,
            yy - 0.344_136 * b - 0.714_136 * r,
            yy + 1.772 * b,
        ];
        for c in 0..3 {
            p[c] = rgb[c].round().clamp(0.0, 255.0) as u8;
        }
    }
    png_roundtrip(&out)
}

/// The attack suite: (name, attacked image).
pub fn attacks(img: &RgbImage) -> Vec<(&'static str, RgbImage)> {
    let (w, h) = img.dimensions();
    let half = resize(img, w / 2, h / 2);
    vec![
        ("none", img.clone()),
        ("jpeg_q50_420", jpeg(img, 50)),
        ("resize50", half.clone()),
        ("resize50_up", resize(&half, w, h)),
        ("crop10_left", crop(img, 0.1, 0.0, 0.0, 0.0)),
        ("crop10_right", crop(img, 0.0, 0.0, 0.1, 0.0)),
        ("crop10_top", crop(img, 0.0, 0.1, 0.0, 0.0)),
        ("crop10_bottom", crop(img, 0.0, 0.0, 0.0, 0.1)),
        ("crop10_all", crop(img, 0.1, 0.1, 0.1, 0.1)),
        ("bright_+20", brightness(img, 1.2)),
        ("bright_-20", brightness(img, 0.8)),
        ("ycbcr420_png", chroma420_png(img)),
    ]
}
