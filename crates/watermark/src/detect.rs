//! Detection: prefilter → scale search with folded FFT correlation against the keyed sync
//! template → sub-chip refinement → matched-filter chip accumulation → Reed–Solomon decode.

use image::RgbImage;
use rustfft::num_complex::Complex32;

use crate::fft::Fft2;
use crate::layout::{Layout, SYNC};
use crate::params::{
    chip_size, BINS_PER_CHIP, CODED_BITS, CODE_BYTES, DATA_BYTES, DECODE_ATTEMPTS,
    DECODE_CANDIDATES, EARLY_SCALE_SPAN, FOLD, FPR_BUDGET, MIN_SIDE, SCALE_MAX, SCALE_MIN, TILE,
    TILE_CHIPS, WORK_CHIP,
};
use crate::plane::{box_blur, luminance_downsampled, Plane};
use crate::rs::{false_decode_probability, ReedSolomon};
use crate::{Detection, WatermarkKey};

/// Whitened residual: (luminance − local mean) / local deviation, clipped.
fn prefilter(lum: &Plane, chip: f32) -> Plane {
    let r1 = (chip.round() as usize).max(1);
    let blurred = box_blur(lum, r1);
    let resid: Vec<f32> = lum
        .data
        .iter()
        .zip(&blurred.data)
        .map(|(a, b)| a - b)
        .collect();
    let sq = Plane {
        w: lum.w,
        h: lum.h,
        data: resid.iter().map(|v| v * v).collect(),
    };
    let local = box_blur(&sq, ((3.0 * chip).round() as usize).max(2));
    let data = resid
        .iter()
        .zip(&local.data)
        .map(|(r, v)| {
            let z = r / (v.max(0.0).sqrt() + 0.5);
            if z.is_finite() {
                z.clamp(-4.0, 4.0)
            } else {
                0.0
            }
        })
        .collect();
    Plane {
        w: lum.w,
        h: lum.h,
        data,
    }
}

/// Bilinear sample of a periodic `TILE × TILE` grid at tile coordinates (u, v) in chips.
fn sample_tile(tile: &[f32], u: f32, v: f32) -> f32 {
    let (fu, fv) = (u.floor(), v.floor());
    let (a, b) = (u - fu, v - fv);
    let t = TILE as i64;
    let i0 = (fu as i64).rem_euclid(t) as usize;
    let j0 = (fv as i64).rem_euclid(t) as usize;
    let i1 = (i0 + 1) % TILE;
    let j1 = (j0 + 1) % TILE;
    (1.0 - b) * ((1.0 - a) * tile[j0 * TILE + i0] + a * tile[j0 * TILE + i1])
        + b * ((1.0 - a) * tile[j1 * TILE + i0] + a * tile[j1 * TILE + i1])
}

/// Conjugated spectrum of the sync template rendered at fold-bin centres (DC removed).
fn template_spectrum(layout: &Layout, fft: &mut Fft2) -> Vec<Complex32> {
    let sync = layout.sync_values();
    let bins = BINS_PER_CHIP as f32;
    let mut buf: Vec<Complex32> = (0..FOLD * FOLD)
        .map(|k| {
            let (a, b) = (k % FOLD, k / FOLD);
            let u = (a as f32 + 0.5) / bins;
            let v = (b as f32 + 0.5) / bins;
            Complex32::new(sample_tile(&sync, u, v), 0.0)
        })
        .collect();
    fft.forward(&mut buf);
    buf[0] = Complex32::new(0.0, 0.0);
    buf.iter_mut().for_each(|c| *c = c.conj());
    buf
}

fn bin_table(len: usize, centre: f32, chip: f32) -> Vec<usize> {
    let scale = BINS_PER_CHIP as f32 / chip;
    (0..len)
        .map(|x| ((((x as f32 - centre) * scale).floor()) as i64).rem_euclid(FOLD as i64) as usize)
        .collect()
}

/// Folds the residual modulo the tile period (at `BINS_PER_CHIP` bins per chip) into `buf`.
fn fold(resid: &Plane, chip: f32, buf: &mut [Complex32], row: &mut [f32]) {
    let bx = bin_table(resid.w, resid.w as f32 / 2.0, chip);
    let by = bin_table(resid.h, resid.h as f32 / 2.0, chip);
    buf.iter_mut().for_each(|c| *c = Complex32::new(0.0, 0.0));
    for (y, &b) in by.iter().enumerate() {
        row.iter_mut().for_each(|v| *v = 0.0);
        for (&v, &x) in resid.data[y * resid.w..(y + 1) * resid.w].iter().zip(&bx) {
            row[x] += v;
        }
        for (dst, &v) in buf[b * FOLD..(b + 1) * FOLD].iter_mut().zip(row.iter()) {
            dst.re += v;
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Peak {
    z: f32,
    scale_index: usize,
    chip: f32,
    /// Offset of the tile origin in chips, relative to the plane centre.
    off_x: f32,
    off_y: f32,
}

fn find_peak(buf: &[Complex32], scale_index: usize, chip: f32) -> Peak {
    let (mut sum, mut sumsq) = (0f64, 0f64);
    let (mut best, mut arg) = (f32::MIN, 0usize);
    for (i, c) in buf.iter().enumerate() {
        let v = c.re;
        sum += v as f64;
        sumsq += (v as f64) * (v as f64);
        if v > best {
            best = v;
            arg = i;
        }
    }
    let n = buf.len() as f64;
    let mean = sum / n;
    let sd = (sumsq / n - mean * mean).max(1e-30).sqrt();
    let (sx, sy) = (arg % FOLD, arg / FOLD);
    let at = |x: usize, y: usize| buf[(y % FOLD) * FOLD + (x % FOLD)].re;
    let parabola = |m: f32, c: f32, p: f32| {
        let d = m - 2.0 * c + p;
        if d < 0.0 {
            (0.5 * (m - p) / d).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    };
    let dx = parabola(at(sx + FOLD - 1, sy), best, at(sx + 1, sy));
    let dy = parabola(at(sx, sy + FOLD - 1), best, at(sx, sy + 1));
    let bins = BINS_PER_CHIP as f32;
    Peak {
        z: ((best as f64 - mean) / sd) as f32,
        scale_index,
        chip,
        off_x: (sx as f32 + dx) / bins,
        off_y: (sy as f32 + dy) / bins,
    }
}

fn interp_table(len: usize, centre: f32, chip: f32, offset: f32) -> Vec<(u16, u16, f32)> {
    (0..len)
        .map(|x| {
            let u = (x as f32 - centre) / chip - offset;
            let f = u.floor();
            let i0 = (f as i64).rem_euclid(TILE as i64) as usize;
            (i0 as u16, ((i0 + 1) % TILE) as u16, u - f)
        })
        .collect()
}

/// Matched-filter accumulation of the residual onto the tile chips (bilinear splat) for the
/// alignment in `peak`.
fn splat(resid: &Plane, chip: f32, off_x: f32, off_y: f32) -> Vec<f32> {
    let xt = interp_table(resid.w, resid.w as f32 / 2.0, chip, off_x);
    let yt = interp_table(resid.h, resid.h as f32 / 2.0, chip, off_y);
    let mut acc = vec![0f32; TILE_CHIPS];
    let mut row = [0f32; TILE];
    for (y, &(j0, j1, fv)) in yt.iter().enumerate() {
        row.iter_mut().for_each(|v| *v = 0.0);
        for (&v, &(i0, i1, fu)) in resid.data[y * resid.w..(y + 1) * resid.w].iter().zip(&xt) {
            row[i0 as usize] += v * (1.0 - fu);
            row[i1 as usize] += v * fu;
        }
        let (a0, a1) = (j0 as usize * TILE, j1 as usize * TILE);
        for (i, &r) in row.iter().enumerate() {
            acc[a0 + i] += r * (1.0 - fv);
            acc[a1 + i] += r * fv;
        }
    }
    acc
}

fn sync_z(layout: &Layout, acc: &[f32]) -> f32 {
    let (mut num, mut den) = (0f64, 0f64);
    for ((&bit, &sign), &a) in layout.chip_bit.iter().zip(&layout.chip_sign).zip(acc) {
        if bit == SYNC {
            num += (sign * a) as f64;
            den += (a as f64) * (a as f64);
        }
    }
    if den > 0.0 {
        (num / den.sqrt()) as f32
    } else {
        0.0
    }
}

fn soft_bits(layout: &Layout, acc: &[f32]) -> Vec<f32> {
    let mut num = vec![0f64; CODED_BITS];
    let mut den = vec![0f64; CODED_BITS];
    for ((&bit, &sign), &a) in layout.chip_bit.iter().zip(&layout.chip_sign).zip(acc) {
        if bit != SYNC {
            let b = bit as usize;
            num[b] += (sign * a) as f64;
            den[b] += (a as f64) * (a as f64);
        }
    }
    num.iter()
        .zip(&den)
        .map(|(n, d)| if *d > 0.0 { (n / d.sqrt()) as f32 } else { 0.0 })
        .collect()
}

/// Upper tail of the standard normal, `Q(z) = erfc(z/√2)/2` (Numerical Recipes erfc, rel. err.
/// < 1.2e-7).
pub(crate) fn normal_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let y = t
        * (-x * x - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    let erfc = if x >= 0.0 { y } else { 2.0 - y };
    erfc / 2.0
}

struct Decoded {
    payload: u64,
    byte_errors: usize,
    bit_errors: u32,
}

/// Hard decisions (whitening removed) packed into the received code word.
fn hard_word(layout: &Layout, soft: &[f32]) -> (Vec<u8>, Vec<u8>) {
    let hard: Vec<u8> = soft
        .iter()
        .zip(&layout.whitening)
        .map(|(&s, &w)| u8::from(s > 0.0) ^ w)
        .collect();
    let bytes = hard
        .chunks_exact(8)
        .map(|c| c.iter().fold(0u8, |acc, &b| (acc << 1) | b))
        .collect();
    (hard, bytes)
}

fn decode(layout: &Layout, soft: &[f32]) -> Option<Decoded> {
    if soft.iter().all(|&s| s == 0.0) {
        return None;
    }
    let (hard, mut bytes) = hard_word(layout, soft);
    if bytes.len() != CODE_BYTES {
        return None;
    }
    let rs = ReedSolomon::new(CODE_BYTES - DATA_BYTES);
    let byte_errors = rs.decode(&mut bytes)?;
    let mut data = [0u8; DATA_BYTES];
    data.copy_from_slice(&bytes[..DATA_BYTES]);
    let payload = u64::from_be_bytes(data);
    let bit_errors = crate::embed::coded_bits(payload)
        .iter()
        .zip(&hard)
        .filter(|(a, b)| a != b)
        .count() as u32;
    Some(Decoded {
        payload,
        byte_errors,
        bit_errors,
    })
}

/// Diagnostics of one detection run (used by the benchmark and tests).
#[derive(Debug, Clone, Default)]
pub struct DetectStats {
    /// Number of scale hypotheses searched.
    pub scales: usize,
    /// Total (scale × shift) hypotheses of the sync search.
    pub hypotheses: usize,
    /// Best sync z over the search (FFT statistic).
    pub best_search_z: f32,
    /// Refined sync z of the candidates tried, in order.
    pub candidate_z: Vec<f32>,
    /// Fraction of coded bits whose sign was wrong for the decoded codeword (if any).
    pub raw_bit_error_rate: Option<f32>,
    /// Chip size ratio of the accepted candidate (actual / guessed from dimensions).
    pub scale_ratio: Option<f32>,
    /// Synchronisation threshold that applied to the last search phase.
    pub threshold: f32,
    /// Normalised soft bits of the first candidate decoded (≈ iid N(0,1) without watermark).
    pub soft_bits: Vec<f32>,
    /// Systematic (payload) part of the first candidate's hard bits, before error correction.
    pub raw_payload: Option<u64>,
    /// Diagnostics only: whether the best candidate decodes when the sync gate is ignored.
    pub ungated_decode: Option<bool>,
}

/// Inverse of [`normal_tail`] by bisection (monotone, 0 < p < 0.5).
pub(crate) fn normal_tail_inverse(p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if normal_tail(mid) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Synchronisation threshold for a search over `hypotheses` (scale × shift) positions spending
/// `alpha` of the false-positive budget: Bonferroni, `hypotheses · Q(τ) = alpha`.
pub(crate) fn sync_threshold(hypotheses: usize, alpha: f64) -> f64 {
    normal_tail_inverse(alpha / hypotheses.max(1) as f64)
}

struct Searcher<'a> {
    resid: &'a Plane,
    tmpl: Vec<Complex32>,
    fft: Fft2,
    buf: Vec<Complex32>,
    row: Vec<f32>,
    cw: f32,
    step: f32,
}

impl Searcher<'_> {
    fn peak_at(&mut self, scale_index: usize) -> Peak {
        let chip = self.cw * SCALE_MIN * (scale_index as f32 * self.step).exp();
        fold(self.resid, chip, &mut self.buf, &mut self.row);
        self.fft.forward(&mut self.buf);
        for (b, t) in self.buf.iter_mut().zip(&self.tmpl) {
            *b *= *t;
        }
        self.fft.inverse(&mut self.buf);
        find_peak(&self.buf, scale_index, chip)
    }
}

/// Result of trying one synchronisation candidate.
fn try_candidate(
    layout: &Layout,
    resid: &Plane,
    cand: &Peak,
    step: f32,
    stats: &mut DetectStats,
) -> Option<(Decoded, f32, f32)> {
    // Scale refinement around the grid point (the tile offset at the centre is unchanged).
    let mut best: Option<(f32, f32, Vec<f32>)> = None;
    for k in -2i32..=2 {
        let chip = cand.chip * (k as f32 * step / 4.0).exp();
        let acc = splat(resid, chip, cand.off_x, cand.off_y);
        let z = sync_z(layout, &acc);
        if best.as_ref().is_none_or(|b| z > b.0) {
            best = Some((z, chip, acc));
        }
    }
    let (z, chip, acc) = best?;
    stats.candidate_z.push(z);
    let soft = soft_bits(layout, &acc);
    if stats.soft_bits.is_empty() {
        stats.soft_bits = soft.clone();
        let (_, bytes) = hard_word(layout, &soft);
        let mut data = [0u8; DATA_BYTES];
        if let Some(head) = bytes.get(..DATA_BYTES) {
            data.copy_from_slice(head);
            stats.raw_payload = Some(u64::from_be_bytes(data));
        }
    }
    decode(layout, &soft).map(|d| (d, z, chip))
}

pub(crate) fn detect(
    img: &RgbImage,
    key: &WatermarkKey,
    diagnostics: bool,
) -> (Detection, DetectStats) {
    let mut stats = DetectStats::default();
    let (w32, h32) = img.dimensions();
    if w32 < MIN_SIDE || h32 < MIN_SIDE {
        return (Detection::absent(0.0, 0.0), stats);
    }
    let chip_full = chip_size(w32, h32);
    let factor = ((chip_full / WORK_CHIP).floor() as usize).max(1);
    let lum = luminance_downsampled(img, factor);
    if lum.w < 16 || lum.h < 16 {
        return (Detection::absent(0.0, 0.0), stats);
    }
    let cw = chip_full / factor as f32;
    let resid = prefilter(&lum, cw);
    let layout = Layout::new(key);
    let mut fft = Fft2::new(FOLD);
    let tmpl = template_spectrum(&layout, &mut fft);

    let half_extent = lum.w.max(lum.h) as f32 / 2.0 / cw;
    let step = (0.3 / half_extent).clamp(0.0015, 0.03);
    let n_scales = ((SCALE_MAX / SCALE_MIN).ln() / step).ceil() as usize + 1;
    let mut searcher = Searcher {
        resid: &resid,
        tmpl,
        fft,
        buf: vec![Complex32::new(0.0, 0.0); FOLD * FOLD],
        row: vec![0f32; FOLD],
        cw,
        step,
    };
    let ratio = |s: usize| SCALE_MIN * (s as f32 * step).exp();
    let shifts = FOLD * FOLD;
    let mut tried_first: Option<usize> = None;
    let mut peaks: Vec<Peak> = Vec::with_capacity(n_scales);

    let found = |d: Decoded, z: f32, chip: f32, attempts: usize, stats: &mut DetectStats| {
        let p_false =
            attempts as f64 * false_decode_probability(CODE_BYTES, DATA_BYTES, d.byte_errors);
        stats.raw_bit_error_rate = Some(d.bit_errors as f32 / CODED_BITS as f32);
        stats.scale_ratio = Some(chip / cw);
        Detection {
            payload: Some(d.payload),
            confidence: (1.0 - p_false).clamp(0.0, 1.0),
            bit_errors_corrected: d.bit_errors,
            score: z as f64,
        }
    };

    // Phase 1: the chip size implied by the dimensions (no crop of the longer side).
    let near: Vec<usize> = (0..n_scales)
        .filter(|&s| (ratio(s).ln()).abs() <= EARLY_SCALE_SPAN)
        .collect();
    for &s in &near {
        peaks.push(searcher.peak_at(s));
    }
    let m1 = near.len() * shifts;
    let tau1 = sync_threshold(m1, FPR_BUDGET / 2.0);
    if let Some(best) = peaks.iter().max_by(|a, b| a.z.total_cmp(&b.z)).copied() {
        stats.best_search_z = best.z;
        if best.z as f64 >= tau1 {
            tried_first = Some(best.scale_index);
            if let Some((d, z, chip)) = try_candidate(&layout, &resid, &best, step, &mut stats) {
                stats.scales = near.len();
                stats.hypotheses = m1;
                stats.threshold = tau1 as f32;
                return (found(d, z, chip, DECODE_ATTEMPTS, &mut stats), stats);
            }
        }
    }

    // Phase 2: every other scale in [SCALE_MIN, SCALE_MAX].
    for s in 0..n_scales {
        if !near.contains(&s) {
            peaks.push(searcher.peak_at(s));
        }
    }
    stats.scales = n_scales;
    stats.hypotheses = n_scales * shifts;
    let tau2 = sync_threshold(stats.hypotheses, FPR_BUDGET / 2.0);
    stats.threshold = tau2 as f32;
    peaks.sort_by(|a, b| b.z.total_cmp(&a.z));
    stats.best_search_z = peaks.first().map_or(0.0, |p| p.z);
    let mut chosen: Vec<Peak> = Vec::new();
    for p in &peaks {
        if chosen.len() >= DECODE_CANDIDATES || (p.z as f64) < tau2 {
            break;
        }
        let far = chosen
            .iter()
            .all(|c| c.scale_index.abs_diff(p.scale_index) > 2);
        if far && Some(p.scale_index) != tried_first {
            chosen.push(*p);
        }
    }
    for cand in &chosen {
        if let Some((d, z, chip)) = try_candidate(&layout, &resid, cand, step, &mut stats) {
            return (found(d, z, chip, DECODE_ATTEMPTS, &mut stats), stats);
        }
    }
    if diagnostics && chosen.is_empty() && tried_first.is_none() {
        // Null-model diagnostics: decode the best candidate although it failed the gate.
        if let Some(best) = peaks.first() {
            stats.ungated_decode =
                Some(try_candidate(&layout, &resid, best, step, &mut stats).is_some());
        }
    }
    // No payload. Confidence stays 0 unless the synchronisation gate passed (a watermark of
    // this key is present at FPR ≤ 1e-6 but its payload was unreadable).
    let z = stats.best_search_z as f64;
    let presence = if z >= stats.threshold as f64 {
        1.0 - (stats.hypotheses as f64 * normal_tail(z)).min(1.0)
    } else {
        0.0
    };
    (Detection::absent(presence.max(0.0), z), stats)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn normal_tail_and_threshold() {
        assert!((normal_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_tail(3.0) - 1.349_898e-3).abs() < 1e-8);
        assert!((normal_tail(7.0) / 1.279_813e-12 - 1.0).abs() < 1e-4);
        let tau = sync_threshold(2_981_888, 0.5e-6);
        assert!((tau - 7.28).abs() < 0.02, "{tau}");
        assert!(normal_tail(tau) * 2_981_888.0 <= 0.5e-6 * 1.0001);
    }

    #[test]
    fn layout_is_keyed_and_balanced() {
        let a = Layout::new(&WatermarkKey([1; 32]));
        let b = Layout::new(&WatermarkKey([2; 32]));
        assert_ne!(a.chip_sign, b.chip_sign);
        let sync = a.chip_bit.iter().filter(|&&c| c == SYNC).count();
        assert_eq!(sync, crate::params::SYNC_CHIPS);
        for bit in 0..CODED_BITS as u16 {
            assert_eq!(a.chip_bit.iter().filter(|&&c| c == bit).count(), 16);
        }
    }
}
