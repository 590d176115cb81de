//! # hegui-watermark — keyed invisible image watermark with a 64-bit payload
//!
//! Implicit-label companion to GB 45438 metadata labels: the payload (e.g.
//! [`payload_from_produce_id`]) survives re-encoding, resizing, cropping and the metadata
//! stripping that platforms do, and the detector states its false-positive rate.
//!
//! ## Design
//!
//! **Why not a frequency-domain block watermark.** DWT/DCT block schemes (invisible-watermark,
//! blind-watermark) tie each bit to a fixed block grid: a crop shifts the grid and a resize
//! changes its period, so the bits are lost. Here the carrier is defined in a *geometry that
//! the detector can re-discover*:
//!
//! 1. **Chip tile in image-proportional units.** A keyed `64 × 64` tile of ±1 *chips* is
//!    tiled over the whole image; one chip measures `max(W, H) / 320` pixels (6 px at 1920 wide),
//!    so a uniform resize leaves the pattern unchanged relative to the image. The chip grid is
//!    bilinearly interpolated (smooth, low/mid frequency: survives JPEG q50, 50 % downscaling and
//!    chroma subsampling) and added equally to R, G and B — i.e. to luminance only, so chroma
//!    subsampling cannot touch it.
//! 2. **Sync + payload chips.** 1024 of the 4096 chips form a keyed synchronisation template; the
//!    other 3072 carry the 192 coded bits, 16 chips each, scattered by a keyed permutation and
//!    multiplied by keyed pseudo-noise signs (spread spectrum). Everything keyed comes from
//!    ChaCha20 seeded with SHA-256(domain ‖ key).
//! 3. **Error correction.** 64-bit payload → Reed–Solomon (24, 8) over GF(256) (corrects 8 byte
//!    errors), whitened by a keyed bit sequence. (A small RS codec is included: see `rs.rs` for
//!    why no crate was used.)
//! 4. **Perceptual mask.** Amplitude follows 8×8-block luminance activity (0.35×–2× the image
//!    mean, smoothed) and is normalised so the RMS change hits the [`Strength`] PSNR target;
//!    nearly flat images are marked at ≤ 0.3–1× of it.
//!
//! **Detection** (no original needed): luminance is box-downsampled to ~2 px per chip and
//! whitened (minus a local mean, divided by local deviation, clipped). Crops change the chip size
//! *guessed from the dimensions* by a factor `r ∈ [0.97, 1.36]` (1 when only the shorter side was
//! cropped or the image was uniformly resized) and shift the tile arbitrarily. For each `r` on a
//! log grid fine enough that the drift over the image stays below 0.15 chip, the residual is
//! *folded* modulo the tile period (2 bins per chip, 128 × 128) and circularly cross-correlated
//! with the sync template by FFT, which scores all 16 384 shifts at once (exhaustive shift
//! search, no separate template in the spectrum). Phase 1 searches `|ln r| ≤ 0.012` and stops
//! early when it decodes; otherwise phase 2 searches the whole range. The best peaks are refined
//! (parabolic sub-bin shift, ±½-step scale), the residual is splatted onto the 4096 chips with
//! the bilinear kernel (matched filter), soft bits are the normalised PN correlations, and the
//! hard bits are RS-decoded.
//!
//! ## False positives
//!
//! A payload is reported only if **both** hold:
//! * **Sync gate.** The FFT peak `z = (max − mean)/sd` over shifts is ≈ N(0, 1) per hypothesis
//!   without a watermark; with `M` (scale × shift) hypotheses searched, the gate is
//!   `z ≥ τ = Q⁻¹(α / M)` with `α = 0.5·10⁻⁶` per phase (Bonferroni), so P(gate) ≤ 10⁻⁶. For a
//!   full-HD search `M ≈ 3.0·10⁶`, `τ ≈ 7.3`; phase 1, `M ≈ 2·10⁵`, `τ ≈ 6.9`.
//! * **Decoding.** For a key that did not mark the image, the keyed signs and permutation make
//!   the 192 hard bits i.i.d. fair coins whatever the image is, so each decode attempt succeeds
//!   with probability `Σ_{j≤8} C(24,j)·255^j / 256^16 ≈ 3.9·10⁻¹⁴`; at most 4 attempts are made.
//!
//! The bits are independent of the sync chips, so the two bounds multiply:
//! FPR ≤ 10⁻⁶ × 1.6·10⁻¹³. `Detection::score` is the refined sync z, `confidence` is
//! `1 − 4·P(decode with ≤ e byte errors)` when a payload is reported. Measured numbers are in
//! the crate README / benchmark output.
//!
//! ## Limits
//! * Not designed for rotation, flips, aspect-ratio changes, or crops removing > 26 % of the
//!   longer side; images with a side < 32 px are rejected by [`embed`].
//! * The chip is `max(W, H)/320` px: below ~640 px on the longer side, chips get small and
//!   downscaling by ≥ 2× plus JPEG is no longer survived.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod detect;
mod embed;
mod fft;
mod layout;
mod params;
mod plane;
mod rs;

use sha2::{Digest, Sha256};

pub use detect::DetectStats;

/// Secret watermark key (provider-specific). All keyed sequences are derived from it.
#[derive(Clone, PartialEq, Eq)]
pub struct WatermarkKey(pub [u8; 32]);

impl std::fmt::Debug for WatermarkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WatermarkKey(..)")
    }
}

impl WatermarkKey {
    /// Derives a key from arbitrary secret material (SHA-256 of it).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }
}

/// Embedding strength; each level targets an RMS luminance change (PSNR over RGB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strength {
    /// Targets 46 dB PSNR (measured ≈ 45.5 dB).
    Low,
    /// Targets 43 dB PSNR (measured ≈ 42.6 dB); the default, survives every attack in the
    /// test suite with margin.
    #[default]
    Normal,
    /// Targets 40 dB PSNR (measured ≈ 39.6 dB): extra margin for harsher processing.
    High,
}

impl Strength {
    pub(crate) fn target_rms(self) -> f32 {
        let psnr: f32 = match self {
            Strength::Low => 46.0,
            Strength::Normal => 43.0,
            Strength::High => 40.0,
        };
        255.0 * 10f32.powf(-psnr / 20.0)
    }
}

/// Result of [`detect`].
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The decoded payload, or `None` when no watermark of this key was found.
    pub payload: Option<u64>,
    /// With a payload: `1 − p`, `p` the probability that an unwatermarked image yields a payload
    /// with this many corrected errors (≥ 1 − 1.6e-13). Without a payload: 0 when the
    /// synchronisation gate failed (nothing found); `1 − M·Q(score)` (Bonferroni over the `M`
    /// hypotheses searched) when a watermark of this key was found but its payload was
    /// unreadable.
    pub confidence: f64,
    /// Coded bits (of 192) that had to be corrected.
    pub bit_errors_corrected: u32,
    /// Synchronisation correlation z-score (≈ N(0, 1) at a fixed alignment without watermark).
    pub score: f64,
}

impl Detection {
    fn absent(confidence: f64, score: f64) -> Self {
        Self {
            payload: None,
            confidence,
            bit_errors_corrected: 0,
            score,
        }
    }
}

/// Errors of [`embed`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WatermarkError {
    /// The image is smaller than the minimum side length.
    #[error("image {width}x{height} is too small to watermark (minimum side {min} px)")]
    ImageTooSmall {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Minimum side.
        min: u32,
    },
    /// Internal invariant broken (should not happen).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// 64-bit payload for a produce ID: the first 8 bytes (big-endian) of SHA-256 of its UTF-8.
pub fn payload_from_produce_id(produce_id: &str) -> u64 {
    let digest = Sha256::digest(produce_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Embeds `payload` under `key`. Errors only for images with a side below 32 px.
pub fn embed(
    img: &image::RgbImage,
    key: &WatermarkKey,
    payload: u64,
    strength: Strength,
) -> Result<image::RgbImage, WatermarkError> {
    embed::embed(img, key, payload, strength)
}

/// [`embed`] into an image with alpha: the colour channels are marked, the alpha channel
/// stays as it was.
pub fn embed_rgba(
    img: &mut image::RgbaImage,
    key: &WatermarkKey,
    payload: u64,
    strength: Strength,
) -> Result<(), WatermarkError> {
    let rgb = image::DynamicImage::ImageRgba8(img.clone()).into_rgb8();
    let marked = embed(&rgb, key, payload, strength)?;
    for (p, m) in img.pixels_mut().zip(marked.pixels()) {
        p.0[..3].copy_from_slice(&m.0);
    }
    Ok(())
}

/// Looks for a watermark of `key`; never panics, `payload` is `None` when none is found.
pub fn detect(img: &image::RgbImage, key: &WatermarkKey) -> Detection {
    detect::detect(img, key, false).0
}

/// [`detect`] plus search diagnostics. When no candidate passes the synchronisation gate it
/// also decodes the best one anyway (reported in [`DetectStats::ungated_decode`], never as a
/// payload), to let callers check the null model.
pub fn detect_with_stats(img: &image::RgbImage, key: &WatermarkKey) -> (Detection, DetectStats) {
    detect::detect(img, key, true)
}
