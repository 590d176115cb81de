//! Small systematic Reed–Solomon code over GF(2^8) (primitive polynomial 0x11d, first
//! consecutive root α^0), shortened to `n ≤ 255` symbols, hard-decision errors-only decoding with
//! Berlekamp–Massey, Chien search and Forney's formula.
//!
//! Written here instead of depending on a crate: the crates.io crates that *locate* errors
//! (`reed-solomon` 0.2) have not been released since 2017, and the maintained ones
//! (`reed-solomon-erasure`, `reed-solomon-simd`, `reed-solomon-novelpoly`) only fill erasures at
//! known positions, which is useless for a watermark whose bit errors are at unknown positions.

const fn build_tables() -> ([u8; 512], [u8; 256]) {
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= 0x11d;
        }
        i += 1;
    }
    while i < 512 {
        exp[i] = exp[i - 255];
        i += 1;
    }
    (exp, log)
}

static TABLES: ([u8; 512], [u8; 256]) = build_tables();

#[inline]
fn exp(i: usize) -> u8 {
    TABLES.0[i % 255]
}

#[inline]
fn log(x: u8) -> usize {
    TABLES.1[x as usize] as usize
}

#[inline]
fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        TABLES.0[log(a) + log(b)]
    }
}

/// `a / b`; returns 0 for `b == 0` (callers never divide by zero, this keeps it total).
#[inline]
fn div(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        TABLES.0[log(a) + 255 - log(b)]
    }
}

/// Evaluates a polynomial given highest-degree coefficient first.
fn eval_hi(poly: &[u8], x: u8) -> u8 {
    poly.iter().fold(0u8, |acc, &c| mul(acc, x) ^ c)
}

/// Evaluates a polynomial given lowest-degree coefficient first.
fn eval_lo(poly: &[u8], x: u8) -> u8 {
    poly.iter().rev().fold(0u8, |acc, &c| mul(acc, x) ^ c)
}

/// A Reed–Solomon code with `parity` check symbols (corrects `parity / 2` symbol errors).
#[derive(Debug, Clone)]
pub(crate) struct ReedSolomon {
    parity: usize,
    /// Generator polynomial, highest degree first, monic (`gen[0] == 1`).
    generator: Vec<u8>,
}

impl ReedSolomon {
    pub(crate) fn new(parity: usize) -> Self {
        let mut generator = vec![1u8];
        for i in 0..parity {
            // multiply by (x - α^i)
            let root = exp(i);
            let mut next = vec![0u8; generator.len() + 1];
            for (j, &c) in generator.iter().enumerate() {
                next[j] ^= c;
                next[j + 1] ^= mul(c, root);
            }
            generator = next;
        }
        Self { parity, generator }
    }

    /// Systematic encoding: returns `data || parity`.
    pub(crate) fn encode(&self, data: &[u8]) -> Vec<u8> {
        let mut work = data.to_vec();
        work.resize(data.len() + self.parity, 0);
        for i in 0..data.len() {
            let coef = work[i];
            if coef != 0 {
                for (j, &g) in self.generator.iter().enumerate().skip(1) {
                    work[i + j] ^= mul(g, coef);
                }
            }
        }
        let mut out = data.to_vec();
        out.extend_from_slice(&work[data.len()..]);
        out
    }

    fn syndromes(&self, word: &[u8]) -> Vec<u8> {
        (0..self.parity).map(|j| eval_hi(word, exp(j))).collect()
    }

    /// Decodes in place. Returns the number of corrected symbol errors, or `None` when the word
    /// is farther than `parity / 2` symbols from every codeword (detected failure).
    pub(crate) fn decode(&self, word: &mut [u8]) -> Option<usize> {
        let n = word.len();
        if n > 255 || n <= self.parity {
            return None;
        }
        let synd = self.syndromes(word);
        if synd.iter().all(|&s| s == 0) {
            return Some(0);
        }
        // Berlekamp–Massey: error locator Λ(x), lowest degree first.
        let mut lambda = vec![1u8];
        let mut prev = vec![1u8];
        let mut l = 0usize;
        let mut m = 1usize;
        let mut prev_disc = 1u8;
        for step in 0..self.parity {
            let mut disc = synd[step];
            for i in 1..=l {
                let li = lambda.get(i).copied().unwrap_or(0);
                disc ^= mul(li, synd[step - i]);
            }
            if disc == 0 {
                m += 1;
                continue;
            }
            let coef = div(disc, prev_disc);
            let saved = lambda.clone();
            if lambda.len() < prev.len() + m {
                lambda.resize(prev.len() + m, 0);
            }
            for (i, &p) in prev.iter().enumerate() {
                lambda[i + m] ^= mul(coef, p);
            }
            if 2 * l <= step {
                l = step + 1 - l;
                prev = saved;
                prev_disc = disc;
                m = 1;
            } else {
                m += 1;
            }
        }
        while lambda.len() > 1 && lambda.last() == Some(&0) {
            lambda.pop();
        }
        let degree = lambda.len() - 1;
        if degree != l || l == 0 || 2 * l > self.parity {
            return None;
        }
        // Chien search over the (shortened) positions only.
        let mut positions = Vec::with_capacity(l);
        for idx in 0..n {
            let deg = n - 1 - idx;
            let x_inv = exp(255 - deg % 255);
            if eval_lo(&lambda, x_inv) == 0 {
                positions.push(idx);
            }
        }
        if positions.len() != l {
            return None;
        }
        // Forney: Ω = S·Λ mod x^parity, Y = X·Ω(X⁻¹)/Λ'(X⁻¹) (first consecutive root α^0).
        let mut omega = vec![0u8; self.parity];
        for (i, &s) in synd.iter().enumerate() {
            for (j, &lj) in lambda.iter().enumerate() {
                if i + j < self.parity {
                    omega[i + j] ^= mul(s, lj);
                }
            }
        }
        let deriv: Vec<u8> = (1..lambda.len())
            .map(|i| if i % 2 == 1 { lambda[i] } else { 0 })
            .collect();
        for &idx in &positions {
            let deg = n - 1 - idx;
            let x = exp(deg);
            let x_inv = exp(255 - deg % 255);
            let denom = eval_lo(&deriv, x_inv);
            if denom == 0 {
                return None;
            }
            let value = mul(x, div(eval_lo(&omega, x_inv), denom));
            word[idx] ^= value;
        }
        if self.syndromes(word).iter().any(|&s| s != 0) {
            return None;
        }
        Some(l)
    }
}

/// Probability that a uniformly random word of `n` symbols lies within Hamming distance `e` of
/// some codeword of an `(n, k)` RS code over GF(256): `Σ_{j≤e} C(n,j)·255^j / 256^(n−k)`
/// (decoding balls of radius `e ≤ (n−k)/2` are disjoint, so this is exact).
pub(crate) fn false_decode_probability(n: usize, k: usize, e: usize) -> f64 {
    let mut total = 0.0f64;
    let mut binom = 1.0f64; // C(n, j)
    for j in 0..=e.min(n) {
        if j > 0 {
            binom *= (n - j + 1) as f64 / j as f64;
        }
        total += binom * 255f64.powi(j as i32);
    }
    total / 256f64.powi((n - k) as i32)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn corrects_up_to_t_errors() {
        let rs = ReedSolomon::new(16);
        let mut state = 0x1234_5678_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for trial in 0..500 {
            let data: Vec<u8> = (0..8).map(|_| next() as u8).collect();
            let code = rs.encode(&data);
            assert_eq!(code.len(), 24);
            let errors = trial % 9;
            let mut word = code.clone();
            let mut used = Vec::new();
            while used.len() < errors {
                let p = (next() % 24) as usize;
                if !used.contains(&p) {
                    used.push(p);
                    word[p] ^= (next() % 255 + 1) as u8;
                }
            }
            assert_eq!(rs.decode(&mut word), Some(errors), "trial {trial}");
            assert_eq!(word, code);
        }
    }

    #[test]
    fn too_many_errors_rarely_miscorrect() {
        let rs = ReedSolomon::new(16);
        let mut state = 0x9e37_79b9_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let mut accepted = 0;
        for _ in 0..2000 {
            let mut word: Vec<u8> = (0..24).map(|_| next() as u8).collect();
            if rs.decode(&mut word).is_some() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 0);
        assert!(false_decode_probability(24, 8, 8) < 1e-13);
    }
}
