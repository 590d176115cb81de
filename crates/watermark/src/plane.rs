//! Single-channel f32 planes and the few filters the detector needs.

use image::RgbImage;

pub(crate) struct Plane {
    pub w: usize,
    pub h: usize,
    pub data: Vec<f32>,
}

/// BT.601 luminance of `img`, box-averaged over `factor × factor` blocks (partial blocks at the
/// right/bottom edge are dropped).
pub(crate) fn luminance_downsampled(img: &RgbImage, factor: usize) -> Plane {
    let factor = factor.max(1);
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    let w = iw / factor;
    let h = ih / factor;
    let mut data = vec![0f32; w * h];
    let raw = img.as_raw();
    let norm = 1.0 / (factor * factor) as f32;
    let mut row = vec![0f32; w];
    for oy in 0..h {
        row.iter_mut().for_each(|v| *v = 0.0);
        for y in oy * factor..(oy + 1) * factor {
            let line = &raw[y * iw * 3..(y * iw + w * factor) * 3];
            for (ox, acc) in row.iter_mut().enumerate() {
                let px = &line[ox * factor * 3..(ox + 1) * factor * 3];
                let mut s = 0u32;
                for p in px.chunks_exact(3) {
                    s += 77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32;
                }
                *acc += s as f32;
            }
        }
        for (dst, &v) in data[oy * w..(oy + 1) * w].iter_mut().zip(&row) {
            *dst = v * norm / 256.0;
        }
    }
    Plane { w, h, data }
}

/// Separable box blur with window `2·radius + 1`, edges averaged over the part inside.
pub(crate) fn box_blur(src: &Plane, radius: usize) -> Plane {
    let (w, h) = (src.w, src.h);
    let mut tmp = vec![0f32; w * h];
    // horizontal
    let mut prefix = vec![0f64; w + 1];
    for y in 0..h {
        let row = &src.data[y * w..(y + 1) * w];
        for x in 0..w {
            prefix[x + 1] = prefix[x] + row[x] as f64;
        }
        for x in 0..w {
            let lo = x.saturating_sub(radius);
            let hi = (x + radius + 1).min(w);
            tmp[y * w + x] = ((prefix[hi] - prefix[lo]) / (hi - lo) as f64) as f32;
        }
    }
    // vertical, running column sums
    let mut out = vec![0f32; w * h];
    let mut col = vec![0f64; w];
    let mut lo = 0usize;
    let mut hi = 0usize; // rows [lo, hi) summed
    for y in 0..h {
        let want_lo = y.saturating_sub(radius);
        let want_hi = (y + radius + 1).min(h);
        while hi < want_hi {
            for (c, &v) in col.iter_mut().zip(&tmp[hi * w..(hi + 1) * w]) {
                *c += v as f64;
            }
            hi += 1;
        }
        while lo < want_lo {
            for (c, &v) in col.iter_mut().zip(&tmp[lo * w..(lo + 1) * w]) {
                *c -= v as f64;
            }
            lo += 1;
        }
        let inv = 1.0 / (hi - lo) as f64;
        for (o, &c) in out[y * w..(y + 1) * w].iter_mut().zip(&col) {
            *o = (c * inv) as f32;
        }
    }
    Plane { w, h, data: out }
}
