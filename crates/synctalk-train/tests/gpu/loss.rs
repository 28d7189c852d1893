//! The loss kernels (both layouts) against `cpu::pixel_loss` and the
//! composite's backward on random images and masks, and against each other.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_gaussians::Image;
use synctalk_reference::Layers;
use synctalk_train::cpu::{self, LossWeights, Target};
use synctalk_train::gpu::{
    image_loss, pack_target, under_layer, GpuLoss, LossInputs, LossKernels, PixelLayout,
};

use crate::scene::device;

struct Case {
    width: u32,
    height: u32,
    head: Vec<[f32; 4]>,
    bg: Image,
    torso: Option<Image>,
    rgb: Vec<[u8; 3]>,
    masks: Vec<u8>,
}

fn layer(rng: &mut Pcg64, w: u32, h: u32, translucent: bool) -> Image {
    let mut img = Image::solid(w, h, [0; 4]);
    for px in img.data.chunks_mut(4) {
        for c in px.iter_mut() {
            *c = rng.random_range(0..=255);
        }
        if !translucent {
            px[3] = 255;
        } else if rng.random_bool(0.3) {
            px[3] = [0, 255][rng.random_range(0..2)];
        }
    }
    img
}

/// A random case; `smooth` makes the head and the target low-frequency and
/// close to each other (small SSIM variances), otherwise noise.
fn case(seed: u64, smooth: bool) -> Case {
    let mut rng = Pcg64::seed_from_u64(seed);
    let width = rng.random_range(32..=96);
    let height = rng.random_range(32..=96);
    let f: [f64; 6] = std::array::from_fn(|_| rng.random_range(0.02..0.2));
    let wave = |x: u32, y: u32, k: usize| {
        0.5 + 0.4 * ((f[k] * f64::from(x) + f[k + 3] * f64::from(y)) + k as f64).sin()
    };
    let mut head = Vec::new();
    let mut rgb = Vec::new();
    let mut masks = Vec::new();
    for y in 0..height {
        for x in 0..width {
            let a: f32 = match rng.random_range(0..10) {
                0 => 0.0,
                1 => 1.0,
                _ => rng.random_range(0.0..1.0),
            };
            let c: [f32; 3] = std::array::from_fn(|k| {
                if smooth {
                    (wave(x, y, k) + rng.random_range(-0.02..0.02)) as f32
                } else {
                    rng.random_range(0.0..1.0)
                }
            });
            head.push([a * c[0], a * c[1], a * c[2], a]);
            rgb.push(std::array::from_fn(|k| {
                if smooth {
                    (wave(x, y, k) * 255.0).round() as u8
                } else {
                    rng.random_range(0..=255)
                }
            }));
            let mut m = 0u8;
            for bit in [1u8, 2, 4, 8] {
                if rng.random_bool(0.3) {
                    m |= bit;
                }
            }
            masks.push(m);
        }
    }
    let bg = layer(&mut rng, width, height, seed.is_multiple_of(3));
    let torso = (seed % 4 != 1).then(|| layer(&mut rng, width, height, true));
    Case {
        width,
        height,
        head,
        bg,
        torso,
        rgb,
        masks,
    }
}

fn run(k: &LossKernels, dq: &(wgpu::Device, wgpu::Queue), c: &Case, w: &LossWeights) -> GpuLoss {
    let layers = Layers {
        background: &c.bg,
        torso: c.torso.as_ref(),
    };
    let target: Vec<u32> = c
        .rgb
        .iter()
        .zip(&c.masks)
        .map(|(&p, &m)| pack_target(p, m))
        .collect();
    image_loss(
        &dq.0,
        &dq.1,
        k,
        &LossInputs {
            width: c.width,
            height: c.height,
            head: &c.head,
            under: &under_layer(layers),
            target: &target,
            weights: *w,
        },
    )
    .expect("gpu loss")
}

/// The oracle: loss terms and `dL/d` the head layer.
fn oracle(c: &Case, w: &LossWeights) -> (cpu::Loss, Vec<[f64; 4]>) {
    let layers = Layers {
        background: &c.bg,
        torso: c.torso.as_ref(),
    };
    let head: Vec<[f64; 4]> = c.head.iter().map(|p| p.map(f64::from)).collect();
    let image = cpu::composite(&head, layers);
    let gt: Vec<[f64; 3]> = c
        .rgb
        .iter()
        .map(|p| p.map(|v| f64::from(v) / 255.0))
        .collect();
    let target = Target {
        rgb: &gt,
        masks: &c.masks,
        width: c.width as usize,
        height: c.height as usize,
    };
    let (loss, grad) = cpu::pixel_loss(&image, &head, &target, w).expect("cpu loss");
    let mut d = cpu::composite_backward(&head, layers, &grad.image);
    for (g, e) in d.iter_mut().zip(&grad.head) {
        for k in 0..4 {
            g[k] += e[k];
        }
    }
    (loss, d)
}

/// Both layouts, whatever the adapter.
const LAYOUTS: [PixelLayout; 2] = [PixelLayout::PerPixel, PixelLayout::Runs];

/// Loss terms within 1e-4 relative; `dL/d` the head layer within
/// 1e-3 |oracle| + 1e-4 max |oracle| per word (f32 composite and window
/// sums against f64; lavapipe's worst is printed), for each layout.
#[test]
fn loss_matches_oracle() {
    let dq = device();
    for layout in LAYOUTS {
        let kernels = LossKernels::with_layout(&dq.0, layout);
        check_oracle(&kernels, &dq, layout);
    }
}

fn check_oracle(kernels: &LossKernels, dq: &(wgpu::Device, wgpu::Queue), layout: PixelLayout) {
    let (mut worst_loss, mut worst_grad) = (0f64, 0f64);
    for seed in 0..8u64 {
        let weights = if seed % 2 == 0 {
            LossWeights::default()
        } else {
            LossWeights {
                mouth: 2.0,
                ssim: 0.7,
                alpha: 0.3,
            }
        };
        let c = case(seed, seed >= 4);
        let gpu = run(kernels, dq, &c, &weights);
        let (loss, grad) = oracle(&c, &weights);
        let want = [loss.total, loss.l1, loss.ssim, loss.alpha];
        for (k, (&g, &o)) in gpu.terms.iter().zip(&want).enumerate() {
            let rel = (f64::from(g) - o).abs() / o.abs().max(1e-3);
            worst_loss = worst_loss.max(rel);
            assert!(
                rel < 1e-4,
                "{layout:?} seed {seed} term {k}: gpu {g} cpu {o}"
            );
        }
        let scale = grad
            .iter()
            .flat_map(|p| p.iter())
            .fold(0f64, |m, v| m.max(v.abs()));
        for (p, (g, o)) in gpu.grad_head.iter().zip(&grad).enumerate() {
            for k in 0..4 {
                let err = (f64::from(g[k]) - o[k]).abs();
                let tol = 1e-3 * o[k].abs() + 1e-4 * scale;
                worst_grad = worst_grad.max(err / tol);
                assert!(
                    err <= tol,
                    "{layout:?} seed {seed} ({}x{}) pixel {p} word {k}: gpu {} cpu {}",
                    c.width,
                    c.height,
                    g[k],
                    o[k]
                );
            }
        }
    }
    eprintln!("loss ({layout:?}): worst term error {worst_loss:.2e} rel; worst gradient error {worst_grad:.3} of tolerance");
}

/// Two runs give the same bits, in each layout.
#[test]
fn loss_is_deterministic() {
    let dq = device();
    let c = case(11, false);
    let w = LossWeights::default();
    for layout in LAYOUTS {
        let kernels = LossKernels::with_layout(&dq.0, layout);
        assert_eq!(
            run(&kernels, &dq, &c, &w),
            run(&kernels, &dq, &c, &w),
            "{layout:?}"
        );
    }
}

/// The layouts compute the same expressions in the same order: the same
/// bits on one device (sizes off and on the 16-pixel runs and the
/// 256-pixel sums).
#[test]
fn layouts_give_the_same_bits() {
    let dq = device();
    let [per_pixel, runs] = LAYOUTS.map(|l| LossKernels::with_layout(&dq.0, l));
    assert_eq!(
        LossKernels::new(&dq.0).layout(),
        PixelLayout::for_device(&dq.0)
    );
    for seed in 0..8u64 {
        let c = case(seed, seed >= 4);
        let w = LossWeights::default();
        let (a, b) = (run(&per_pixel, &dq, &c, &w), run(&runs, &dq, &c, &w));
        let bits = |l: &GpuLoss| {
            l.terms
                .iter()
                .chain(l.grad_head.iter().flatten())
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        assert!(
            bits(&a) == bits(&b),
            "seed {seed} ({}x{}): {:?} vs {:?}",
            c.width,
            c.height,
            a.terms,
            b.terms
        );
    }
}
