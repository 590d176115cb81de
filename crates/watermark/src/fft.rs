//! Square 2-D FFT on top of `rustfft` (rows, transpose, rows). The forward transform leaves
//! the spectrum transposed; the inverse expects that layout and returns the original one.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

pub(crate) struct Fft2 {
    n: usize,
    fwd: Arc<dyn Fft<f32>>,
    inv: Arc<dyn Fft<f32>>,
    scratch: Vec<Complex32>,
}

impl Fft2 {
    pub(crate) fn new(n: usize) -> Self {
        let mut planner = FftPlanner::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let len = fwd
            .get_inplace_scratch_len()
            .max(inv.get_inplace_scratch_len());
        Self {
            n,
            fwd,
            inv,
            scratch: vec![Complex32::new(0.0, 0.0); len],
        }
    }

    fn transpose(&self, data: &mut [Complex32]) {
        let n = self.n;
        for i in 0..n {
            for j in i + 1..n {
                data.swap(i * n + j, j * n + i);
            }
        }
    }

    pub(crate) fn forward(&mut self, data: &mut [Complex32]) {
        self.fwd.process_with_scratch(data, &mut self.scratch);
        self.transpose(data);
        self.fwd.process_with_scratch(data, &mut self.scratch);
    }

    pub(crate) fn inverse(&mut self, data: &mut [Complex32]) {
        self.inv.process_with_scratch(data, &mut self.scratch);
        self.transpose(data);
        self.inv.process_with_scratch(data, &mut self.scratch);
    }
}
