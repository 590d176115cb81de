//! Embedding: a keyed ±1 chip tile, bilinearly interpolated, tiled over the image in chip units
//! proportional to the longer side, scaled by a local-activity mask and added to R, G and B
//! alike (i.e. to luminance only).

use image::RgbImage;

use crate::layout::Layout;
use crate::params::{chip_size, CODE_BYTES, MIN_SIDE, TILE};
use crate::rs::ReedSolomon;
use crate::{Strength, WatermarkError, WatermarkKey};

const BLOCK: usize = 8;

pub(crate) fn coded_bits(payload: u64) -> Vec<u8> {
    let rs = ReedSolomon::new(CODE_BYTES - crate::params::DATA_BYTES);
    let code = rs.encode(&payload.to_be_bytes());
    code.iter()
        .flat_map(|&byte| (0..8).rev().map(move |i| (byte >> i) & 1))
        .collect()
}

/// Per-axis interpolation table: for each pixel, (cell index, next cell index, fraction).
fn axis_table(len: usize, step: f32, offset: f32, cells: usize) -> Vec<(u16, u16, f32)> {
    (0..len)
        .map(|i| {
            let u = i as f32 / step - offset;
            let f = u.floor();
            let i0 = (f as i64).rem_euclid(cells as i64) as usize;
            let i1 = (i0 + 1) % cells;
            (i0 as u16, i1 as u16, u - f)
        })
        .collect()
}

/// Clamped interpolation table for the mask block grid (block centres at (b + 0.5)·BLOCK).
fn mask_table(len: usize, blocks: usize) -> Vec<(u32, u32, f32)> {
    (0..len)
        .map(|i| {
            let u = (i as f32 + 0.5) / BLOCK as f32 - 0.5;
            if u <= 0.0 {
                (0, 0, 0.0)
            } else {
                let b0 = (u.floor() as usize).min(blocks - 1);
                let b1 = (b0 + 1).min(blocks - 1);
                (b0 as u32, b1 as u32, u - b0 as f32)
            }
        })
        .collect()
}

/// Local-activity mask on an 8×8 block grid, RMS-normalised to 1, and the flatness factor.
fn activity_mask(img: &RgbImage) -> (Vec<f32>, usize, usize, f32) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let nbx = w.div_ceil(BLOCK);
    let nby = h.div_ceil(BLOCK);
    let mut sum = vec![0u32; nbx * nby];
    let mut sumsq = vec![0u64; nbx * nby];
    let mut count = vec![0u32; nbx * nby];
    let raw = img.as_raw();
    // Statistics from every other row and column (the mask is a coarse estimate anyway).
    for y in (0..h).step_by(2) {
        let base = (y / BLOCK) * nbx;
        let line = &raw[y * w * 3..(y + 1) * w * 3];
        for (bx, chunk) in line.chunks(BLOCK * 3).enumerate() {
            let mut s = 0u32;
            let mut q = 0u64;
            let mut c = 0u32;
            for p in chunk.chunks_exact(6) {
                let l = (77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8;
                s += l;
                q += (l * l) as u64;
                c += 1;
            }
            sum[base + bx] += s;
            sumsq[base + bx] += q;
            count[base + bx] += c;
        }
    }
    let sigma: Vec<f32> = (0..nbx * nby)
        .map(|i| {
            let n = count[i].max(1) as f64;
            let mean = sum[i] as f64 / n;
            ((sumsq[i] as f64 / n - mean * mean).max(0.0)).sqrt() as f32
        })
        .collect();
    let mean_sigma = sigma.iter().sum::<f32>() / sigma.len().max(1) as f32;
    let raw_mask: Vec<f32> = sigma
        .iter()
        .map(|&s| ((s + 1.0) / (mean_sigma + 1.0)).clamp(0.35, 2.0))
        .collect();
    // 3×3 smoothing of the block grid.
    let mut mask = vec![0f32; nbx * nby];
    for by in 0..nby {
        for bx in 0..nbx {
            let mut acc = 0.0;
            let mut n = 0.0;
            for yy in by.saturating_sub(1)..(by + 2).min(nby) {
                for xx in bx.saturating_sub(1)..(bx + 2).min(nbx) {
                    acc += raw_mask[yy * nbx + xx];
                    n += 1.0;
                }
            }
            mask[by * nbx + bx] = acc / n;
        }
    }
    let rms = (mask.iter().map(|m| m * m).sum::<f32>() / mask.len().max(1) as f32).sqrt();
    if rms > 0.0 {
        mask.iter_mut().for_each(|m| *m /= rms);
    }
    let flatness = (mean_sigma / 2.5).clamp(0.3, 1.0);
    (mask, nbx, nby, flatness)
}

pub(crate) fn embed(
    img: &RgbImage,
    key: &WatermarkKey,
    payload: u64,
    strength: Strength,
) -> Result<RgbImage, WatermarkError> {
    let (w32, h32) = img.dimensions();
    if w32 < MIN_SIDE || h32 < MIN_SIDE {
        return Err(WatermarkError::ImageTooSmall {
            width: w32,
            height: h32,
            min: MIN_SIDE,
        });
    }
    let (w, h) = (w32 as usize, h32 as usize);
    let layout = Layout::new(key);
    let tile = layout.tile_values(&coded_bits(payload));
    let chip = chip_size(w32, h32);
    let (mask, nbx, nby, flatness) = activity_mask(img);
    let xt = axis_table(w, chip, 0.0, TILE);
    let yt = axis_table(h, chip, 0.0, TILE);
    // Exact mean square of the bilinear ±1 pattern at these pixel phases (≈ 4/9).
    let phase_ms = |t: &[(u16, u16, f32)]| {
        t.iter()
            .map(|&(_, _, f)| (1.0 - f) * (1.0 - f) + f * f)
            .sum::<f32>()
            / t.len().max(1) as f32
    };
    let pattern_rms = (phase_ms(&xt) * phase_ms(&yt)).sqrt().max(0.1);
    let amp = strength.target_rms() / pattern_rms * flatness;
    let mxt = mask_table(w, nbx);
    let myt = mask_table(h, nby);

    let src = img.as_raw();
    let mut out = vec![0u8; src.len()];
    let mut tile_row = [0f32; TILE];
    let mut mask_row = vec![0f32; nbx];
    let mut delta = vec![0f32; w];
    for y in 0..h {
        let (j0, j1, fv) = yt[y];
        let (t0, t1) = (j0 as usize * TILE, j1 as usize * TILE);
        for (i, t) in tile_row.iter_mut().enumerate() {
            *t = (1.0 - fv) * tile[t0 + i] + fv * tile[t1 + i];
        }
        let (b0, b1, fm) = myt[y];
        let (m0, m1) = (b0 as usize * nbx, b1 as usize * nbx);
        for (i, m) in mask_row.iter_mut().enumerate() {
            *m = amp * ((1.0 - fm) * mask[m0 + i] + fm * mask[m1 + i]);
        }
        for ((d, &(i0, i1, fu)), &(c0, c1, fc)) in delta.iter_mut().zip(&xt).zip(&mxt) {
            let p = (1.0 - fu) * tile_row[i0 as usize] + fu * tile_row[i1 as usize];
            let m = (1.0 - fc) * mask_row[c0 as usize] + fc * mask_row[c1 as usize];
            *d = p * m;
        }
        let line = &src[y * w * 3..(y + 1) * w * 3];
        let dst = &mut out[y * w * 3..(y + 1) * w * 3];
        for ((px, o), &d) in line
            .chunks_exact(3)
            .zip(dst.chunks_exact_mut(3))
            .zip(&delta)
        {
            // round half away from zero without a libm call
            let di = (d + 0.5f32.copysign(d)) as i16;
            o[0] = (px[0] as i16 + di).clamp(0, 255) as u8;
            o[1] = (px[1] as i16 + di).clamp(0, 255) as u8;
            o[2] = (px[2] as i16 + di).clamp(0, 255) as u8;
        }
    }
    RgbImage::from_raw(w32, h32, out).ok_or(WatermarkError::Internal("output buffer size"))
}
