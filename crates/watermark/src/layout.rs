//! Keyed layout of the watermark tile: which chips carry the synchronisation template, which
//! carry which coded bit, the pseudo-noise signs, and the bit-whitening sequence. Everything is
//! derived from the secret key with ChaCha20 seeded by SHA-256(domain ‖ key).

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use crate::params::{CODED_BITS, SYNC_CHIPS, TILE, TILE_CHIPS};
use crate::WatermarkKey;

/// Marker in `chip_bit` for a synchronisation chip.
pub(crate) const SYNC: u16 = u16::MAX;

pub(crate) struct Layout {
    /// For each chip (row-major `TILE × TILE`): coded-bit index, or [`SYNC`].
    pub chip_bit: Vec<u16>,
    /// For each chip: pseudo-noise sign (+1.0 / −1.0). For sync chips this *is* the template.
    pub chip_sign: Vec<f32>,
    /// XOR mask applied to the coded bits so that an all-zero / all-one read never decodes.
    pub whitening: Vec<u8>,
}

fn rng_for(key: &WatermarkKey, domain: &[u8]) -> ChaCha20Rng {
    let mut hasher = Sha256::new();
    hasher.update(b"hegui-watermark/v1/");
    hasher.update(domain);
    hasher.update(key.0);
    let seed: [u8; 32] = hasher.finalize().into();
    ChaCha20Rng::from_seed(seed)
}

/// Uniform integer in `0..bound` (`bound > 0`) without modulo bias.
fn below(rng: &mut ChaCha20Rng, bound: u32) -> u32 {
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let v = rng.next_u32();
        if v < zone {
            return v % bound;
        }
    }
}

impl Layout {
    pub(crate) fn new(key: &WatermarkKey) -> Self {
        let mut rng = rng_for(key, b"layout");
        // Fisher–Yates shuffle of the chip indices.
        let mut order: Vec<u16> = (0..TILE_CHIPS as u16).collect();
        for i in (1..order.len()).rev() {
            let j = below(&mut rng, i as u32 + 1) as usize;
            order.swap(i, j);
        }
        let mut chip_bit = vec![SYNC; TILE_CHIPS];
        let per_bit = (TILE_CHIPS - SYNC_CHIPS) / CODED_BITS;
        for (rank, &chip) in order.iter().enumerate() {
            chip_bit[chip as usize] = if rank < SYNC_CHIPS {
                SYNC
            } else {
                (((rank - SYNC_CHIPS) / per_bit).min(CODED_BITS - 1)) as u16
            };
        }
        let mut chip_sign = Vec::with_capacity(TILE_CHIPS);
        let mut word = 0u64;
        for i in 0..TILE_CHIPS {
            if i % 64 == 0 {
                word = rng.next_u64();
            }
            chip_sign.push(if (word >> (i % 64)) & 1 == 1 {
                1.0
            } else {
                -1.0
            });
        }
        let mut wrng = rng_for(key, b"whitening");
        let whitening = (0..CODED_BITS)
            .map(|_| (wrng.next_u32() & 1) as u8)
            .collect();
        debug_assert_eq!(TILE * TILE, TILE_CHIPS);
        Self {
            chip_bit,
            chip_sign,
            whitening,
        }
    }

    /// Tile chip values (±1) for the given coded bits (0/1, before whitening).
    pub(crate) fn tile_values(&self, coded_bits: &[u8]) -> Vec<f32> {
        self.chip_bit
            .iter()
            .zip(&self.chip_sign)
            .map(|(&bit, &sign)| {
                if bit == SYNC {
                    sign
                } else {
                    let b = coded_bits.get(bit as usize).copied().unwrap_or(0)
                        ^ self.whitening.get(bit as usize).copied().unwrap_or(0);
                    if b == 1 {
                        sign
                    } else {
                        -sign
                    }
                }
            })
            .collect()
    }

    /// Tile with only the synchronisation chips set (others 0).
    pub(crate) fn sync_values(&self) -> Vec<f32> {
        self.chip_bit
            .iter()
            .zip(&self.chip_sign)
            .map(|(&bit, &sign)| if bit == SYNC { sign } else { 0.0 })
            .collect()
    }
}
