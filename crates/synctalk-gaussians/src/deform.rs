//! Per-Gaussian deformation basis.

/// Values each basis holds per Gaussian: position offset (3), rotation
/// offset added to the raw quaternion (4), log-scale offset (3), opacity
/// logit offset (1).
pub const DEFORM_CHANNELS: usize = 11;

/// A low-rank deformation of the canonical Gaussians.
///
/// For per-frame coefficients `w` (one per basis), Gaussian `i`'s raw
/// parameters are offset by `sum_k w[k] * basis_k(i)` before activation:
/// position `+= d[0..3]`, quaternion `+= d[3..7]`, log-scale `+= d[7..10]`,
/// opacity logit `+= d[10]`. The coefficients come from the portrait's
/// controller (lip and expression codes); the renderer evaluates the sum per
/// Gaussian per frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deformation {
    /// Number of bases (K).
    pub num_bases: usize,
    /// Offsets laid out `[k][channel][gaussian]`, i.e. index
    /// `(k * DEFORM_CHANNELS + c) * n + i`, so that neighbouring GPU threads
    /// read neighbouring values.
    pub bases: Vec<f32>,
}

impl Deformation {
    /// The offset of channel `c` of Gaussian `i` for coefficients `w`, in f64.
    pub fn offset(&self, n: usize, i: usize, c: usize, w: &[f32]) -> f64 {
        (0..self.num_bases.min(w.len()))
            .map(|k| f64::from(w[k]) * f64::from(self.bases[(k * DEFORM_CHANNELS + c) * n + i]))
            .sum()
    }

    /// Whether the basis has the right size for `n` Gaussians.
    pub fn fits(&self, n: usize) -> bool {
        self.bases.len() == self.num_bases * DEFORM_CHANNELS * n
    }
}
