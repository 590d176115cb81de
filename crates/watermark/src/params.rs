//! Fixed parameters of the scheme (changing any of them changes the watermark format).

/// The watermark tile is `TILE × TILE` chips, repeated over the whole image.
pub(crate) const TILE: usize = 64;
pub(crate) const TILE_CHIPS: usize = TILE * TILE;
/// Payload bytes (64-bit payload).
pub(crate) const DATA_BYTES: usize = 8;
/// Reed–Solomon check bytes: corrects `PARITY_BYTES / 2` byte errors.
pub(crate) const PARITY_BYTES: usize = 16;
pub(crate) const CODE_BYTES: usize = DATA_BYTES + PARITY_BYTES;
pub(crate) const CODED_BITS: usize = CODE_BYTES * 8;
/// Chips of the tile reserved for the synchronisation template; the rest is split evenly
/// between the coded bits.
pub(crate) const SYNC_CHIPS: usize = 1024;
/// Chips across the longer image side (chip size = longer side / this).
pub(crate) const CHIPS_ACROSS: f32 = 320.0;
/// Smallest accepted image side, in pixels.
pub(crate) const MIN_SIDE: u32 = 32;
/// Detection works on a box-downsampled luminance plane with about this many pixels per chip.
pub(crate) const WORK_CHIP: f32 = 2.0;
/// Fold bins per chip in the synchronisation search.
pub(crate) const BINS_PER_CHIP: usize = 2;
pub(crate) const FOLD: usize = TILE * BINS_PER_CHIP;
/// Range of (actual chip size) / (chip size guessed from the image dimensions) searched by
/// the detector: 1.0 for an uncropped or uniformly resized image, up to 1/0.74 for an image
/// whose longer side was cropped by up to 26 %.
pub(crate) const SCALE_MIN: f32 = 0.97;
pub(crate) const SCALE_MAX: f32 = 1.36;
/// Synchronisation candidates decoded after the full scale search.
pub(crate) const DECODE_CANDIDATES: usize = 3;
/// Upper bound on decode attempts per detection (1 early + `DECODE_CANDIDATES`); enters the
/// Reed–Solomon false-decode bound.
pub(crate) const DECODE_ATTEMPTS: usize = 1 + DECODE_CANDIDATES;
/// Phase 1 of the search covers |ln(scale ratio)| ≤ this.
pub(crate) const EARLY_SCALE_SPAN: f32 = 0.012;
/// False-positive budget of the synchronisation gate (split between the two search phases).
pub(crate) const FPR_BUDGET: f64 = 1e-6;

/// Chip size in pixels for an image of the given size.
pub(crate) fn chip_size(width: u32, height: u32) -> f32 {
    width.max(height) as f32 / CHIPS_ACROSS
}
