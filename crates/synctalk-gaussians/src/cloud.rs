//! The Gaussian cloud.

/// Highest spherical-harmonics degree supported (16 coefficients per channel).
pub const MAX_SH_DEGREE: u32 = 3;

/// Number of SH coefficients per colour channel for a degree (0..=3).
pub fn sh_coeffs_for_degree(degree: u32) -> usize {
    ((degree + 1) * (degree + 1)) as usize
}

/// A cloud of 3D Gaussians in structure-of-arrays layout, raw (pre-activation)
/// parameters as trained.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gaussians {
    /// Spherical-harmonics degree, 0..=3.
    pub sh_degree: u32,
    /// Centres.
    pub positions: Vec<[f32; 3]>,
    /// Rotations as quaternions `(w, x, y, z)`, not necessarily normalised.
    pub rotations: Vec<[f32; 4]>,
    /// Natural logarithms of the three axis scales.
    pub log_scales: Vec<[f32; 3]>,
    /// Opacity logits (`sigmoid` gives the opacity).
    pub opacity_logits: Vec<f32>,
    /// SH coefficients, `sh_coeffs_for_degree(sh_degree)` RGB triples per
    /// Gaussian, DC first: `sh[i * coeffs + k] = [r, g, b]`.
    pub sh: Vec<[f32; 3]>,
}

/// A Gaussian cloud whose arrays disagree or hold unusable numbers.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CloudError {
    /// Degree out of range.
    #[error("SH degree {0} is not supported (0..=3)")]
    ShDegree(u32),
    /// Array lengths disagree with the number of positions.
    #[error("field `{field}` has {got} entries, expected {expected}")]
    Length {
        /// The field.
        field: &'static str,
        /// Entries present.
        got: usize,
        /// Entries expected.
        expected: usize,
    },
    /// A NaN or infinity.
    #[error("field `{field}` of Gaussian {index} is not finite")]
    NotFinite {
        /// The field.
        field: &'static str,
        /// Index of the Gaussian.
        index: usize,
    },
    /// A rotation of length zero.
    #[error("rotation of Gaussian {0} has zero length")]
    ZeroRotation(usize),
}

impl Gaussians {
    /// Number of Gaussians.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether the cloud is empty.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// SH coefficients per colour channel.
    pub fn sh_coeffs(&self) -> usize {
        sh_coeffs_for_degree(self.sh_degree)
    }

    /// Checks array lengths and that every value is finite.
    pub fn validate(&self) -> Result<(), CloudError> {
        if self.sh_degree > MAX_SH_DEGREE {
            return Err(CloudError::ShDegree(self.sh_degree));
        }
        let n = self.len();
        let lens = [
            ("rotations", self.rotations.len(), n),
            ("log_scales", self.log_scales.len(), n),
            ("opacity_logits", self.opacity_logits.len(), n),
            ("sh", self.sh.len(), n * self.sh_coeffs()),
        ];
        for (field, got, expected) in lens {
            if got != expected {
                return Err(CloudError::Length {
                    field,
                    got,
                    expected,
                });
            }
        }
        fn finite<const K: usize>(
            field: &'static str,
            v: &[[f32; K]],
            per: usize,
        ) -> Result<(), CloudError> {
            match v.iter().position(|a| a.iter().any(|x| !x.is_finite())) {
                Some(i) => Err(CloudError::NotFinite {
                    field,
                    index: i / per,
                }),
                None => Ok(()),
            }
        }
        finite("positions", &self.positions, 1)?;
        finite("rotations", &self.rotations, 1)?;
        finite("log_scales", &self.log_scales, 1)?;
        finite("sh", &self.sh, self.sh_coeffs())?;
        if let Some(i) = self.opacity_logits.iter().position(|x| !x.is_finite()) {
            return Err(CloudError::NotFinite {
                field: "opacity_logits",
                index: i,
            });
        }
        if let Some(i) = self
            .rotations
            .iter()
            .position(|q| q.iter().all(|&x| x == 0.0))
        {
            return Err(CloudError::ZeroRotation(i));
        }
        Ok(())
    }
}
