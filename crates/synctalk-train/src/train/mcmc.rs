//! MCMC densification (Kheradmand et al., "3D Gaussian Splatting as Markov
//! Chain Monte Carlo", 2024), as gsplat 1.5.3's `MCMCStrategy` runs it for
//! torch_trainer.py: a hard cap on the number of Gaussians, which is what the
//! portrait's size budget needs.
//!
//! Every [`REFINE_EVERY`] steps from [`REFINE_START`] to 75 % of the run,
//! on the host (the state read back, changed, and a step re-created from
//! it):
//! - [`relocate`]: Gaussians whose opacity fell to [`MIN_OPACITY`] are
//!   dead; each takes the place of a live one drawn with probability
//!   proportional to opacity, and the drawn one and its copies share its
//!   opacity and scale by the paper's rule ([`split_rule`]); the drawn ones'
//!   Adam moments are zeroed.
//! - [`add`]: the set grows by 5 % (up to the cap), new Gaussians drawn
//!   the same way and appended with zero moments.
//!
//! Every step, on the GPU (`crate::gpu::PositionNoise`): noise added to
//! the means, shaped by each Gaussian's covariance and large only for
//! nearly transparent ones.

use rand::Rng;
use rand_pcg::Pcg64;
use synctalk_gaussians::DEFORM_CHANNELS;

use crate::gpu::{StepState, SH_FLOATS};

/// First step that refines (exclusive, as gsplat's `step > start`).
pub const REFINE_START: u32 = 500;
/// Steps between refinements.
pub const REFINE_EVERY: u32 = 100;
/// Opacity at or below which a Gaussian is dead.
pub const MIN_OPACITY: f32 = 0.005;
/// gsplat's `noise_lr`: the position noise is `means_lr · NOISE_LR`.
pub const NOISE_LR: f64 = 5e5;
/// The most copies one Gaussian is split into (gsplat's binomial table).
pub const MAX_SPLIT: usize = 51;

/// Whether `step` refines in a run of `iters` steps.
pub fn refines_at(step: u32, iters: u32) -> bool {
    let stop = (f64::from(iters) * 0.75) as u32;
    step > REFINE_START && step < stop && step.is_multiple_of(REFINE_EVERY)
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn logit(p: f32) -> f32 {
    (p / (1.0 - p)).ln()
}

/// The paper's rule for one Gaussian of opacity `opacity` and scale
/// `scale` shared by `n` copies: each gets `1 − (1 − o)^(1/n)` and the scale
/// times `o / Σ_{i=1..n} Σ_{k<i} C(i−1, k) (−1)^k o'^(k+1) / √(k+1)`, so
/// that the copies together look like the original (gsplat's
/// `compute_relocation`). `n` is clamped to [`MAX_SPLIT`].
pub fn split_rule(opacity: f32, scale: [f32; 3], n: usize) -> (f32, [f32; 3]) {
    let n = n.clamp(1, MAX_SPLIT);
    let o = f64::from(opacity);
    let new_o = 1.0 - (1.0 - o).powf(1.0 / n as f64);
    let mut denom = 0.0;
    for i in 1..=n {
        let mut binom = 1.0; // C(i - 1, k)
        for k in 0..i {
            let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
            denom += binom * sign / ((k + 1) as f64).sqrt() * new_o.powi(k as i32 + 1);
            binom = binom * (i - 1 - k) as f64 / (k + 1) as f64;
        }
    }
    let coeff = o / denom;
    (new_o as f32, scale.map(|s| (coeff * f64::from(s)) as f32))
}

/// Draws `count` indices in `0..weights.len()` with replacement, with
/// probability proportional to `weights` (all zero: uniformly).
fn draw(weights: &[f32], count: usize, rng: &mut Pcg64) -> Vec<usize> {
    let mut cdf = Vec::with_capacity(weights.len());
    let mut total = 0f64;
    for &w in weights {
        total += f64::from(w.max(0.0));
        cdf.push(total);
    }
    (0..count)
        .map(|_| {
            if total <= 0.0 {
                return rng.random_range(0..weights.len());
            }
            let u = rng.random::<f64>() * total;
            cdf.partition_point(|&c| c <= u).min(weights.len() - 1)
        })
        .collect()
}

/// Per-Gaussian views of a state's arrays.
struct Layout {
    n: usize,
    bases: usize,
}

impl Layout {
    fn of(state: &StepState) -> Self {
        Self {
            n: state.params.len(),
            bases: state.params.num_bases,
        }
    }
}

/// Copies Gaussian `src`'s parameters (not its moments) onto `dst`.
fn copy_params(state: &mut StepState, l: &Layout, src: usize, dst: usize) {
    let p = &mut state.params;
    for j in 0..3 {
        p.gauss[3 * dst + j] = p.gauss[3 * src + j];
    }
    p.sh.copy_within(SH_FLOATS * src..SH_FLOATS * (src + 1), SH_FLOATS * dst);
    for c in 0..DEFORM_CHANNELS * l.bases {
        p.bases[c * l.n + dst] = p.bases[c * l.n + src];
    }
}

fn zero_moments(state: &mut StepState, l: &Layout, i: usize) {
    let [g, s, b] = &mut state.moments;
    for m in g.iter_mut() {
        m[12 * i..12 * (i + 1)].fill(0.0);
    }
    for m in s.iter_mut() {
        m[SH_FLOATS * i..SH_FLOATS * (i + 1)].fill(0.0);
    }
    for m in b.iter_mut() {
        for c in 0..DEFORM_CHANNELS * l.bases {
            m[c * l.n + i] = 0.0;
        }
    }
}

/// The opacity and scale of drawn Gaussian `i` split `count + 1` ways.
fn split(state: &mut StepState, i: usize, ways: usize) {
    let g = &mut state.params.gauss;
    let o = sigmoid(g[3 * i][3]);
    let s = [0, 1, 2].map(|k| g[3 * i + 2][k].exp());
    let (new_o, new_s) = split_rule(o, s, ways);
    let new_o = new_o.clamp(MIN_OPACITY, 1.0 - f32::EPSILON);
    g[3 * i][3] = logit(new_o);
    for k in 0..3 {
        g[3 * i + 2][k] = new_s[k].ln();
    }
}

fn counts(drawn: &[usize], n: usize) -> Vec<usize> {
    let mut c = vec![0usize; n];
    for &i in drawn {
        c[i] += 1;
    }
    c
}

/// Moves every dead Gaussian onto a live one (see the module docs);
/// returns how many moved.
pub fn relocate(state: &mut StepState, rng: &mut Pcg64) -> usize {
    let l = Layout::of(state);
    let opacity: Vec<f32> = (0..l.n)
        .map(|i| sigmoid(state.params.gauss[3 * i][3]))
        .collect();
    let dead: Vec<usize> = (0..l.n).filter(|&i| opacity[i] <= MIN_OPACITY).collect();
    let alive: Vec<usize> = (0..l.n).filter(|&i| opacity[i] > MIN_OPACITY).collect();
    if dead.is_empty() || alive.is_empty() {
        return 0;
    }
    let weights: Vec<f32> = alive.iter().map(|&i| opacity[i]).collect();
    let drawn: Vec<usize> = draw(&weights, dead.len(), rng)
        .into_iter()
        .map(|k| alive[k])
        .collect();
    let c = counts(&drawn, l.n);
    let mut done = vec![false; l.n];
    for &i in &drawn {
        if !done[i] {
            split(state, i, c[i] + 1);
            zero_moments(state, &l, i);
            done[i] = true;
        }
    }
    for (&d, &s) in dead.iter().zip(&drawn) {
        copy_params(state, &l, s, d);
    }
    dead.len()
}

/// Grows the set by 5 % up to `cap` (see the module docs); returns how
/// many were added.
pub fn add(state: &mut StepState, cap: usize, rng: &mut Pcg64) -> usize {
    let l = Layout::of(state);
    let target = cap.min((1.05 * l.n as f64) as usize);
    let extra = target.saturating_sub(l.n);
    if extra == 0 || l.n == 0 {
        return 0;
    }
    let opacity: Vec<f32> = (0..l.n)
        .map(|i| sigmoid(state.params.gauss[3 * i][3]))
        .collect();
    let drawn = draw(&opacity, extra, rng);
    let c = counts(&drawn, l.n);
    let mut done = vec![false; l.n];
    for &i in &drawn {
        if !done[i] {
            split(state, i, c[i] + 1);
            done[i] = true;
        }
    }
    grow(state, &l, &drawn);
    extra
}

/// Appends copies of Gaussians `drawn` with zero moments (the bases are
/// stored `[(k · 11 + c) · n + i]`, so their layout is rebuilt for the new
/// count).
fn grow(state: &mut StepState, l: &Layout, drawn: &[usize]) {
    let m = l.n + drawn.len();
    let p = &mut state.params;
    for &i in drawn {
        for j in 0..3 {
            p.gauss.push(p.gauss[3 * i + j]);
        }
        p.sh.extend_from_within(SH_FLOATS * i..SH_FLOATS * (i + 1));
    }
    let rows = DEFORM_CHANNELS * l.bases;
    let mut bases = vec![0f32; rows * m];
    for r in 0..rows {
        let old = &p.bases[r * l.n..(r + 1) * l.n];
        bases[r * m..r * m + l.n].copy_from_slice(old);
        for (k, &i) in drawn.iter().enumerate() {
            bases[r * m + l.n + k] = old[i];
        }
    }
    p.bases = bases;
    let [g, s, b] = &mut state.moments;
    for v in g.iter_mut() {
        v.resize(12 * m, 0.0);
    }
    for v in s.iter_mut() {
        v.resize(SH_FLOATS * m, 0.0);
    }
    for v in b.iter_mut() {
        let mut out = vec![0f32; rows * m];
        for r in 0..rows {
            out[r * m..r * m + l.n].copy_from_slice(&v[r * l.n..(r + 1) * l.n]);
        }
        *v = out;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::gpu::GpuParams;

    /// `n` Gaussians with distinct values everywhere, `dead` of them at
    /// opacity 0.001, moments all 1.
    fn state(n: usize, bases: usize, dead: &[usize]) -> StepState {
        let mut gauss = Vec::new();
        for i in 0..n {
            let o = if dead.contains(&i) {
                logit(0.001)
            } else {
                logit(0.2 + 0.5 * (i as f32 / n as f32))
            };
            gauss.push([i as f32, 0.5 * i as f32, 1.0, o]);
            gauss.push([1.0, 0.1 * i as f32, 0.0, 0.0]);
            gauss.push([-2.0 - 0.01 * i as f32, -2.5, -3.0, 0.0]);
        }
        let params = GpuParams {
            sh_degree: 1,
            num_bases: bases,
            gauss,
            sh: (0..SH_FLOATS * n).map(|v| v as f32).collect(),
            bases: (0..DEFORM_CHANNELS * bases * n)
                .map(|v| v as f32 * 0.5)
                .collect(),
        };
        let mut s = StepState::fresh(params);
        for m in s.moments.iter_mut().flatten() {
            m.fill(1.0);
        }
        s
    }

    #[test]
    fn one_copy_changes_nothing_and_n_copies_compose_to_the_original() {
        let (o, s) = split_rule(0.6, [0.1, 0.2, 0.3], 1);
        assert!(
            (o - 0.6).abs() < 1e-6 && (s[0] - 0.1).abs() < 1e-7,
            "{o} {s:?}"
        );
        for n in [2usize, 3, 7, 51] {
            let (o, s) = split_rule(0.6, [1.0; 3], n);
            let composed = 1.0 - (1.0 - f64::from(o)).powi(n as i32);
            assert!((composed - 0.6).abs() < 1e-5, "n {n}: {composed}");
            assert!(s[0] > 0.0 && s[0] <= 1.0, "n {n}: scale {s:?}");
        }
    }

    #[test]
    fn relocation_moves_the_dead_onto_live_ones() {
        let dead = [1, 4, 5, 9];
        let mut s = state(12, 2, &dead);
        let before = s.clone();
        let mut rng = Pcg64::seed_from_u64(3);
        assert_eq!(relocate(&mut s, &mut rng), 4);
        assert_eq!(s.params.len(), 12);
        for &d in &dead {
            let o = sigmoid(s.params.gauss[3 * d][3]);
            assert!(o > MIN_OPACITY, "dead {d} still dead: {o}");
            // It is a copy of a live Gaussian: position and SH of one.
            let src = (0..12)
                .find(|&i| {
                    !dead.contains(&i) && before.params.gauss[3 * i][0] == s.params.gauss[3 * d][0]
                })
                .expect("copied from a live one");
            assert_eq!(
                s.params.sh[SH_FLOATS * d..SH_FLOATS * (d + 1)],
                s.params.sh[SH_FLOATS * src..SH_FLOATS * (src + 1)]
            );
            assert_eq!(s.params.gauss[3 * d + 2], s.params.gauss[3 * src + 2]);
            assert_eq!(
                s.moments[0][0][12 * src],
                0.0,
                "the drawn one's moments are reset"
            );
            for c in 0..DEFORM_CHANNELS * 2 {
                assert_eq!(s.params.bases[c * 12 + d], s.params.bases[c * 12 + src]);
            }
        }
        // Untouched Gaussians keep everything.
        let drawn: Vec<usize> = (0..12)
            .filter(|&i| s.moments[0][0][12 * i] == 0.0)
            .collect();
        for i in (0..12).filter(|i| !dead.contains(i) && !drawn.contains(i)) {
            assert_eq!(
                s.params.gauss[3 * i..3 * i + 3],
                before.params.gauss[3 * i..3 * i + 3]
            );
        }
    }

    #[test]
    fn growth_appends_five_percent_with_zero_moments_up_to_the_cap() {
        let mut s = state(40, 3, &[]);
        let before = s.clone();
        let mut rng = Pcg64::seed_from_u64(5);
        assert_eq!(add(&mut s, 1000, &mut rng), 2);
        let m = s.params.len();
        assert_eq!(m, 42);
        s.params.validate().expect("consistent arrays");
        for (g, w) in s.moments.iter().zip([12, SH_FLOATS, DEFORM_CHANNELS * 3]) {
            assert_eq!(g[0].len(), w * m);
        }
        assert!(s.moments[0][0][12 * 40..].iter().all(|&v| v == 0.0));
        // Old Gaussians' bases and their moments keep their values.
        for r in 0..DEFORM_CHANNELS * 3 {
            for i in 0..40 {
                assert_eq!(s.params.bases[r * m + i], before.params.bases[r * 40 + i]);
                assert_eq!(s.moments[2][1][r * m + i], 1.0);
            }
            assert!(s.moments[2][0][r * m + 40..(r + 1) * m]
                .iter()
                .all(|&v| v == 0.0));
        }
        let mut capped = state(40, 1, &[]);
        assert_eq!(add(&mut capped, 41, &mut rng), 1);
        assert_eq!(add(&mut capped, 41, &mut rng), 0);
    }

    #[test]
    fn refinement_runs_every_hundred_steps_inside_the_window() {
        assert!(!refines_at(500, 12000) && refines_at(600, 12000));
        assert!(!refines_at(650, 12000) && refines_at(8900, 12000));
        assert!(!refines_at(9000, 12000), "stops at 75 %");
    }
}
