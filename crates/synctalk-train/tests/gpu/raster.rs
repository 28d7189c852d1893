//! The raster kernels (both layouts) against the f64 oracle
//! (`synctalk_reference::rasterize` and `synctalk_train::cpu::raster::backward`)
//! on random scenes, their determinism, finite differences through the GPU
//! forward, the layouts against each other, and the precision of the
//! per-splat sum of records.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_reference::{blend_pixel, tile_lists, tile_of, Step};
use synctalk_train::cpu::raster::{backward, branches};
use synctalk_train::cpu::SplatGrad;
use synctalk_train::gpu::{
    accumulate_records, forward_backward, pack_rect, RasterGrad, RasterInputs, RasterOutput,
    GRAD_WORDS,
};

use crate::scene::{near_threshold, Gpu, Options, Scene};

/// Relative distance to a threshold below which a pixel is left out.
const MARGIN: f64 = 1e-4;

/// Image agreement (absolute, premultiplied values in 0..1).
const IMAGE_TOL: f64 = 2e-5;

/// Gradient agreement: `|gpu − oracle| ≤ GRAD_RTOL |oracle| + GRAD_ATOL
/// scale`, `scale` the largest `|oracle|` of that group (mean, conic,
/// opacity, colour) over the scene's splats. gsplat's own tests allow
/// 1e-3..8e-3; lavapipe stays within about 2e-5 |oracle| + 2e-7 scale.
const GRAD_RTOL: f64 = 1e-3;
const GRAD_ATOL: f64 = 1e-4;

fn run(gpu: &Gpu, scene: &Scene, grad_image: &[[f32; 4]]) -> RasterOutput {
    forward_backward(
        &gpu.device,
        &gpu.queue,
        &gpu.kernels,
        &RasterInputs {
            width: scene.width,
            height: scene.height,
            splats: &scene.gpu,
            isect: &scene.isect,
            grad_image,
        },
    )
    .expect("forward_backward")
}

/// Random `dL/d` image in [-1, 1], zero at pixels near a threshold;
/// returns it and the mask of excluded pixels.
fn grad_image(scene: &Scene, seed: u64) -> (Vec<[f32; 4]>, Vec<bool>) {
    let mut rng = Pcg64::seed_from_u64(seed);
    let lists = tile_lists(&scene.cpu, scene.width, scene.height);
    let mut grads = Vec::with_capacity(scene.pixels());
    let mut excluded = Vec::with_capacity(scene.pixels());
    for py in 0..scene.height {
        for px in 0..scene.width {
            let list = &lists[tile_of(px, py, scene.width)];
            let ex = near_threshold(&scene.cpu, list, px, py, MARGIN);
            let g = [0; 4].map(|_| rng.random_range(-1.0f32..1.0));
            grads.push(if ex { [0.0; 4] } else { g });
            excluded.push(ex);
        }
    }
    (grads, excluded)
}

fn groups(g: &SplatGrad) -> [Vec<f64>; 4] {
    [
        g.mean.to_vec(),
        g.conic.to_vec(),
        vec![g.opacity],
        g.color.to_vec(),
    ]
}

fn groups32(g: &RasterGrad) -> [Vec<f64>; 4] {
    let f = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    [
        f(&g.xy),
        f(&g.conic),
        vec![f64::from(g.opacity)],
        f(&g.color),
    ]
}

const GROUP_NAMES: [&str; 4] = ["mean", "conic", "opacity", "colour"];

/// What the oracle's blending did over the scene: pixels stopped early,
/// blends at the 0.99 clamp.
fn events(scene: &Scene) -> (usize, usize) {
    let lists = tile_lists(&scene.cpu, scene.width, scene.height);
    let (mut stops, mut clamps) = (0, 0);
    for py in 0..scene.height {
        for px in 0..scene.width {
            let list = &lists[tile_of(px, py, scene.width)];
            blend_pixel(
                list.iter().map(|&k| &scene.cpu[k]),
                px,
                py,
                |_, s| match s {
                    Step::Stop => stops += 1,
                    Step::Blended { clamped: true } => clamps += 1,
                    _ => {}
                },
            );
        }
    }
    (stops, clamps)
}

/// Compares GPU forward and backward with the oracle on `scene`; returns
/// the GPU's output.
fn check_scene(gpu: &Gpu, name: &str, scene: &Scene, seed: u64) -> RasterOutput {
    let (w, h) = (scene.width, scene.height);
    // The CPU-built lists are the oracle's.
    let lists = tile_lists(&scene.cpu, w, h);
    for ty in 0..scene.isect.tiles_y {
        for tx in 0..scene.isect.tiles_x {
            let ours: Vec<usize> = scene
                .isect
                .tile(tx, ty)
                .iter()
                .map(|&g| g as usize)
                .collect();
            assert_eq!(ours, lists[(ty * scene.isect.tiles_x + tx) as usize]);
        }
    }
    let (grad_img, excluded) = grad_image(scene, seed);
    let out = run(gpu, scene, &grad_img);

    // (a) the image.
    let reference = synctalk_reference::rasterize(&scene.cpu, w, h);
    let mut worst_image = 0.0f64;
    for (p, (ours, theirs)) in out.image.iter().zip(&reference).enumerate() {
        if excluded[p] {
            continue;
        }
        for c in 0..4 {
            let e = (f64::from(ours[c]) - theirs[c]).abs();
            assert!(
                e <= IMAGE_TOL,
                "{name}: pixel {p} channel {c}: gpu {} oracle {}",
                ours[c],
                theirs[c]
            );
            worst_image = worst_image.max(e);
        }
    }

    // (b) the gradients.
    let grad64: Vec<[f64; 4]> = grad_img.iter().map(|g| g.map(f64::from)).collect();
    let oracle = backward(&scene.cpu, w, h, &grad64);
    let mut scale = [0.0f64; 4];
    for g in &oracle {
        for (s, v) in scale.iter_mut().zip(groups(g)) {
            *s = v.iter().fold(*s, |m, x| m.max(x.abs()));
        }
    }
    let mut worst = [0.0f64; 4];
    for (k, (ours, theirs)) in out.grads.iter().zip(&oracle).enumerate() {
        for (gi, (a, b)) in groups32(ours).iter().zip(groups(theirs)).enumerate() {
            for (x, y) in a.iter().zip(&b) {
                // The fraction of the tolerance used.
                let e = (x - y).abs()
                    / (GRAD_RTOL * y.abs() + GRAD_ATOL * scale[gi]).max(f64::MIN_POSITIVE);
                assert!(
                    e <= 1.0,
                    "{name}: splat {k} {}: gpu {x} oracle {y} (scale {})",
                    GROUP_NAMES[gi],
                    scale[gi]
                );
                worst[gi] = worst[gi].max(e);
            }
        }
    }
    let (stops, clamps) = events(scene);
    let ex = excluded.iter().filter(|&&e| e).count();
    eprintln!(
        "{name}: {}x{}, {} splats, {} intersections, {stops} pixels stopped, {clamps} clamped \
         blends, {ex} pixels excluded; worst image error {worst_image:.2e}; worst gradient \
         error as a fraction of the tolerance: mean {:.2e} conic {:.2e} opacity {:.2e} colour {:.2e}",
        w,
        h,
        scene.cpu.len(),
        scene.isect.len(),
        worst[0],
        worst[1],
        worst[2],
        worst[3]
    );
    out
}

fn options(width: u32, height: u32, splats: usize) -> Options {
    Options {
        width,
        height,
        splats,
        sigma: (1.0, 8.0),
        opacity: (0.05, 0.9),
        opaque: 0.15,
        clamped: 0.05,
    }
}

#[test]
fn forward_and_backward_match_the_oracle() {
    let gpus = Gpu::layouts();
    let cases = [
        ("small", 1, options(32, 32, 20)),
        ("partial tiles", 2, options(40, 56, 80)),
        (
            "opaque stacks",
            3,
            Options {
                opaque: 0.4,
                clamped: 0.3,
                sigma: (2.0, 10.0),
                ..options(64, 48, 120)
            },
        ),
        ("dense", 4, options(96, 96, 300)),
        (
            "faint",
            5,
            Options {
                opaque: 0.0,
                clamped: 0.0,
                ..options(72, 80, 150)
            },
        ),
        (
            "deep lists",
            6,
            Options {
                opacity: (0.01, 0.04),
                opaque: 0.0,
                clamped: 0.0,
                sigma: (4.0, 12.0),
                ..options(40, 32, 700)
            },
        ),
    ];
    for (name, seed, o) in cases {
        let scene = Scene::random(seed, o);
        for gpu in &gpus {
            let out = check_scene(gpu, name, &scene, seed + 100);
            checks(name, &scene, &out);
        }
    }
}

/// What the named cases of [`forward_and_backward_match_the_oracle`] are
/// for: deep walks, stops and clamps.
fn checks(name: &str, scene: &Scene, out: &RasterOutput) {
    if name == "deep lists" {
        // Several batches of the forward (256) and of the backward (64;
        // 16 in the runs layout).
        let deepest = out.state.iter().map(|s| s.count).max().unwrap_or(0);
        assert!(deepest > 300, "{name}: deepest walk {deepest}");
    }
    if name == "opaque stacks" {
        let (stops, clamps) = events(scene);
        assert!(
            stops > 50 && clamps > 20,
            "{name}: {stops} stops, {clamps} clamps"
        );
    }
}

/// Large splats on a 256x256 image: each gradient sums records over up to
/// 256 tiles.
#[test]
fn large_splats_over_hundreds_of_tiles() {
    let scene = Scene::random(
        7,
        Options {
            sigma: (20.0, 70.0),
            opaque: 0.1,
            clamped: 0.05,
            ..options(256, 256, 40)
        },
    );
    let most = scene
        .cpu
        .iter()
        .map(|s| (s.rect[2] - s.rect[0]) * (s.rect[3] - s.rect[1]))
        .max()
        .unwrap_or(0);
    assert!(most >= 200, "largest splat covers {most} tiles");
    for gpu in Gpu::layouts() {
        check_scene(&gpu, "large splats", &scene, 107);
    }
}

fn bits(o: &RasterOutput) -> Vec<u32> {
    o.grads
        .iter()
        .flat_map(|g| g.words().map(f32::to_bits))
        .chain(o.image.iter().flat_map(|p| p.map(f32::to_bits)))
        .collect()
}

#[test]
fn gradients_are_deterministic() {
    let scene = Scene::random(11, options(96, 80, 250));
    let (grads, _) = grad_image(&scene, 12);
    for gpu in Gpu::layouts() {
        let a = run(&gpu, &scene, &grads);
        let b = run(&gpu, &scene, &grads);
        assert_eq!(bits(&a), bits(&b), "{:?}", gpu.layout());
        assert_eq!(a.state, b.state, "{:?}", gpu.layout());
    }
}

/// The layouts compute the same expressions in the same order: the same
/// image, state and gradients bit for bit on one device, on scenes with
/// stops, clamps, partial tiles and walks of several batches.
#[test]
fn layouts_give_the_same_bits() {
    let [per_pixel, runs] = Gpu::layouts();
    assert_eq!(
        Gpu::new().layout(),
        synctalk_train::gpu::PixelLayout::for_device(&per_pixel.device)
    );
    let deep = Options {
        opacity: (0.01, 0.04),
        opaque: 0.0,
        clamped: 0.0,
        sigma: (4.0, 12.0),
        ..options(40, 32, 700)
    };
    let stacks = Options {
        opaque: 0.4,
        clamped: 0.3,
        sigma: (2.0, 10.0),
        ..options(64, 48, 120)
    };
    for (seed, o) in [
        (31, options(96, 80, 250)),
        (32, deep),
        (33, stacks),
        (34, options(37, 53, 90)),
    ] {
        let scene = Scene::random(seed, o);
        let (grads, _) = grad_image(&scene, seed + 1);
        let (a, b) = (run(&per_pixel, &scene, &grads), run(&runs, &scene, &grads));
        assert!(
            bits(&a) == bits(&b),
            "seed {seed}: gradients or image differ"
        );
        assert_eq!(a.state, b.state, "seed {seed}");
    }
}

/// `L = Σ dL/dimage · image` through the GPU forward, in f64 on the host.
fn loss(gpu: &Gpu, scene: &Scene, grads: &[[f32; 4]]) -> f64 {
    let out = run(gpu, scene, grads);
    out.image
        .iter()
        .zip(grads)
        .map(|(p, g)| {
            (0..4)
                .map(|c| f64::from(p[c]) * f64::from(g[c]))
                .sum::<f64>()
        })
        .sum()
}

/// Central differences in f32 through the GPU forward for every parameter
/// of a few splats, skipping perturbations that change a branch of the
/// blending (the oracle's `branches`).
#[test]
fn finite_differences_through_the_gpu_forward() {
    for gpu in Gpu::layouts() {
        finite_differences(&gpu);
    }
}

fn finite_differences(gpu: &Gpu) {
    let base = Scene::random(
        21,
        Options {
            sigma: (2.0, 6.0),
            opaque: 0.2,
            clamped: 0.0,
            ..options(32, 32, 16)
        },
    );
    let (grads, _) = grad_image(&base, 22);
    let out = run(gpu, &base, &grads);
    let mut ref_branches = Vec::new();
    branches(&base.cpu, base.width, base.height, &mut ref_branches);
    let (mut checked, mut skipped, mut worst) = (0, 0, 0.0f64);
    for k in 0..base.cpu.len() {
        let analytic = out.grads[k].words();
        let scale = analytic
            .iter()
            .fold(0.0f64, |m, &x| m.max(f64::from(x).abs()));
        for (v, &an) in analytic.iter().enumerate() {
            let s = &base.cpu[k];
            let eps = match v {
                0 | 1 => 2e-2,
                2..=4 => 2e-2 * s.conic[0].abs().max(s.conic[2].abs()),
                5 => 1e-2,
                _ => 1e-2,
            };
            let perturbed = |sign: f64| {
                let mut cpu = base.cpu.clone();
                let s = &mut cpu[k];
                let field = match v {
                    0 | 1 => &mut s.mean[v],
                    2..=4 => &mut s.conic[v - 2],
                    5 => &mut s.opacity,
                    _ => &mut s.color[v - 6],
                };
                *field = f64::from((*field + sign * eps) as f32);
                let h = *field;
                (Scene::from_cpu(base.width, base.height, cpu), h)
            };
            let (plus, hp) = perturbed(1.0);
            let (minus, hm) = perturbed(-1.0);
            let same = |sc: &Scene| {
                let mut b = Vec::new();
                branches(&sc.cpu, sc.width, sc.height, &mut b);
                b == ref_branches
            };
            if !same(&plus) || !same(&minus) {
                skipped += 1;
                continue;
            }
            let fd = (loss(gpu, &plus, &grads) - loss(gpu, &minus, &grads)) / (hp - hm);
            let e = (fd - f64::from(an)).abs() / (f64::from(an).abs() + scale);
            assert!(
                e < 5e-3,
                "{:?} splat {k} word {v}: fd {fd} gpu {an}",
                gpu.layout()
            );
            worst = worst.max(e);
            checked += 1;
        }
    }
    eprintln!(
        "finite differences ({:?}): {checked} parameters checked, {skipped} skipped (a branch \
         changed), worst |fd − gpu| / (|gpu| + scale) {worst:.2e}",
        gpu.layout()
    );
    assert!(checked >= 60, "only {checked} parameters checked");
}

/// The per-splat sum of records against an f64 sum, over splats of 1 to
/// 400 tiles with values spread over six decades and both signs.
#[test]
fn record_sums_are_accurate() {
    let gpu = Gpu::new();
    let mut rng = Pcg64::seed_from_u64(31);
    let rects: Vec<[u32; 4]> = vec![
        [3, 4, 4, 5],
        [0, 0, 6, 7],
        [1, 1, 21, 21],
        [0, 8, 25, 24],
        [2, 0, 12, 30],
        [0, 0, 32, 1],
    ];
    let mut offsets = Vec::new();
    let mut total = 0u32;
    for r in &rects {
        offsets.push(total);
        total += (r[2] - r[0]) * (r[3] - r[1]);
    }
    let records: Vec<f32> = (0..total as usize * GRAD_WORDS)
        .map(|_| {
            let mag = 10f64.powf(rng.random_range(-4.0..2.0));
            let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
            (sign * mag) as f32
        })
        .collect();
    let packed: Vec<[u32; 2]> = rects.iter().map(|&r| pack_rect(r)).collect();
    let sums = accumulate_records(
        &gpu.device,
        &gpu.queue,
        &gpu.kernels,
        &packed,
        &offsets,
        &records,
    )
    .expect("accumulate");
    let again = accumulate_records(
        &gpu.device,
        &gpu.queue,
        &gpu.kernels,
        &packed,
        &offsets,
        &records,
    )
    .expect("accumulate");
    assert_eq!(sums, again);
    let mut worst = 0.0f64;
    for (g, r) in rects.iter().enumerate() {
        let n = ((r[2] - r[0]) * (r[3] - r[1])) as usize;
        let words = sums[g].words();
        for v in 0..GRAD_WORDS {
            let vals =
                (0..n).map(|i| f64::from(records[(offsets[g] as usize + i) * GRAD_WORDS + v]));
            let exact: f64 = vals.clone().sum();
            let abs: f64 = vals.map(f64::abs).sum();
            // Recursive summation: |error| ≤ (n − 1) u Σ|x|, u = 2^-24.
            let bound = (n.max(2) - 1) as f64 * f64::from(f32::EPSILON) / 2.0 * abs;
            let e = (f64::from(words[v]) - exact).abs();
            assert!(
                e <= bound,
                "splat {g} word {v}: {} vs {exact}, bound {bound}",
                words[v]
            );
            worst = worst.max(e / abs);
        }
    }
    eprintln!("record sums: worst |error| / Σ|record| {worst:.2e} (up to 400 records)");
}

/// The trainer's `Splat` and blending rules are the renderer's.
#[test]
fn splat_layout_and_rules_match_the_renderer() {
    let ours_common = include_str!("../../src/gpu/common.wgsl");
    let theirs_common = include_str!("../../../synctalk-render/src/shaders/common.wgsl");
    let ours_fwd = include_str!("../../src/gpu/rasterize_fwd.wgsl");
    let theirs_fwd = include_str!("../../../synctalk-render/src/shaders/rasterize.wgsl");
    /// The code lines from the one starting with `from` to the one starting
    /// with `to`, whitespace-trimmed, comments dropped.
    fn block(src: &str, from: &str, to: &str) -> Vec<String> {
        let lines: Vec<String> = src
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .collect();
        let a = lines.iter().position(|l| l.starts_with(from)).expect(from);
        let b = a + lines[a..].iter().position(|l| l.starts_with(to)).expect(to);
        lines[a..=b].to_vec()
    }
    assert_eq!(
        block(ours_common, "struct Splat {", "}"),
        block(theirs_common, "struct Splat {", "}")
    );
    assert_eq!(
        block(ours_fwd, "let s = batch[j];", "t = test_t;"),
        block(theirs_fwd, "let s = batch[j];", "t = test_t;")
    );
    assert_eq!(std::mem::size_of::<synctalk_train::gpu::GpuSplat>(), 40);
}
