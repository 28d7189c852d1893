//! Spontaneous blinks, placed by the session clock.

/// Spontaneous blinks: one in every 4-second slot, at a pseudo-random
/// offset (so 1.5 to 6.5 s apart), closing in 80 ms and opening in 120 ms.
#[derive(Clone, Copy, Debug)]
pub struct Blinks {
    /// How far the lids close (0: no blinks).
    pub amplitude: f32,
    /// Varies the schedule.
    pub seed: u64,
}

impl Default for Blinks {
    fn default() -> Self {
        Self {
            amplitude: 0.85,
            seed: 0x5eed,
        }
    }
}

impl Blinks {
    const SLOT: f64 = 4.0;
    const CLOSE: f64 = 0.08;
    const OPEN: f64 = 0.12;

    /// Lid closure at session time `t` seconds.
    pub fn at(&self, t: f64) -> f32 {
        if !t.is_finite() || t < 0.0 {
            return 0.0;
        }
        let slot = (t / Self::SLOT).floor();
        let start = slot * Self::SLOT + 0.5 + 2.5 * unit_hash(slot as u64 ^ self.seed);
        let d = t - start;
        let v = if (0.0..Self::CLOSE).contains(&d) {
            d / Self::CLOSE
        } else if (Self::CLOSE..Self::CLOSE + Self::OPEN).contains(&d) {
            1.0 - (d - Self::CLOSE) / Self::OPEN
        } else {
            0.0
        };
        self.amplitude * v as f32
    }
}

/// A hash of `k` in [0, 1) (SplitMix64's finaliser).
fn unit_hash(k: u64) -> f64 {
    let mut z = k.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blinks_come_every_few_seconds_and_are_short() {
        let b = Blinks::default();
        let dt = 0.01;
        let closed: Vec<f64> = (0..6000)
            .map(|k| k as f64 * dt)
            .filter(|&t| b.at(t) > 0.8 * b.amplitude)
            .collect();
        // Count separate blinks: gaps of more than a second.
        let mut starts = vec![closed[0]];
        for w in closed.windows(2) {
            if w[1] - w[0] > 1.0 {
                starts.push(w[1]);
            }
        }
        assert_eq!(starts.len(), 15, "one blink per 4 s slot in 60 s");
        for w in starts.windows(2) {
            let gap = w[1] - w[0];
            assert!((1.4..=6.6).contains(&gap), "gap {gap}");
        }
        // Each blink is closed (> 80%) for well under 100 ms.
        assert!(closed.len() <= 15 * 8, "{} samples closed", closed.len());
        assert_eq!(b.at(f64::NAN), 0.0);
        assert_eq!(b.at(-1.0), 0.0);
    }
}
