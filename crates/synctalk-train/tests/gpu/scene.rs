//! Random screen-space splat scenes for the raster kernels, the device, and
//! the f64 side of each comparison (the same f32-representable splats).

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_reference::{tile_rect, Splat};
use synctalk_train::gpu::{GpuSplat, Intersections, PixelLayout, RasterKernels, TILE};

/// Opens whatever Vulkan adapter the machine has (lavapipe in CI).
pub fn device() -> (wgpu::Device, wgpu::Queue) {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .expect("a wgpu adapter (install mesa-vulkan-drivers)");
    let info = adapter.get_info();
    eprintln!(
        "adapter: {} ({:?}, {})",
        info.name, info.backend, info.driver
    );
    pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        // The kernels must run within WebGPU's defaults.
        required_limits: wgpu::Limits::default(),
        ..Default::default()
    }))
    .expect("device")
}

/// A device, queue and the compiled kernels.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub kernels: RasterKernels,
}

impl Gpu {
    /// The device's layout ([`PixelLayout::for_device`]).
    pub fn new() -> Self {
        let (device, queue) = device();
        let kernels = RasterKernels::new(&device);
        Self {
            device,
            queue,
            kernels,
        }
    }

    /// One `Gpu` per layout, whatever the adapter.
    pub fn layouts() -> [Self; 2] {
        [PixelLayout::PerPixel, PixelLayout::Runs].map(|layout| {
            let (device, queue) = device();
            let kernels = RasterKernels::with_layout(&device, layout);
            Self {
                device,
                queue,
                kernels,
            }
        })
    }

    pub fn layout(&self) -> PixelLayout {
        self.kernels.layout()
    }
}

/// Splats on an image, both as the GPU sees them and in f64 for the oracle.
pub struct Scene {
    pub width: u32,
    pub height: u32,
    pub gpu: Vec<GpuSplat>,
    pub cpu: Vec<Splat>,
    pub isect: Intersections,
}

/// Options of [`Scene::random`].
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub width: u32,
    pub height: u32,
    pub splats: usize,
    /// Standard deviations (pixels) are drawn from this range.
    pub sigma: (f64, f64),
    /// Opacity range of the other splats.
    pub opacity: (f64, f64),
    /// Fraction of splats with opacity in 0.9..0.98 (opaque stacks stop
    /// pixels), and fraction above 0.99 (alpha clamped near the centre).
    pub opaque: f64,
    pub clamped: f64,
}

fn f32r(x: f64) -> f64 {
    f64::from(x as f32)
}

impl Scene {
    pub fn random(seed: u64, o: Options) -> Self {
        let mut rng = Pcg64::seed_from_u64(seed);
        let (w, h) = (f64::from(o.width), f64::from(o.height));
        let mut cpu = Vec::with_capacity(o.splats);
        for index in 0..o.splats {
            let mean = [
                f32r(rng.random_range(-6.0..w + 6.0)),
                f32r(rng.random_range(-6.0..h + 6.0)),
            ];
            let s1: f64 = rng.random_range(o.sigma.0..o.sigma.1);
            let s2: f64 = rng.random_range(o.sigma.0..o.sigma.1);
            let th: f64 = rng.random_range(0.0..std::f64::consts::PI);
            let (sn, cs) = th.sin_cos();
            let cov = [
                cs * cs * s1 * s1 + sn * sn * s2 * s2,
                cs * sn * (s1 * s1 - s2 * s2),
                sn * sn * s1 * s1 + cs * cs * s2 * s2,
            ];
            let det = cov[0] * cov[2] - cov[1] * cov[1];
            let conic = [f32r(cov[2] / det), f32r(-cov[1] / det), f32r(cov[0] / det)];
            let u: f64 = rng.random();
            let opacity = f32r(if u < o.clamped {
                rng.random_range(0.992..1.0)
            } else if u < o.clamped + o.opaque {
                rng.random_range(0.9..0.98)
            } else {
                rng.random_range(o.opacity.0..o.opacity.1)
            });
            let color = [0; 3].map(|_| f32r(rng.random_range(0.0..1.0)));
            let tiles_x = i64::from(o.width.div_ceil(TILE));
            let tiles_y = i64::from(o.height.div_ceil(TILE));
            cpu.push(Splat {
                index,
                depth: rng.random_range(1.0..10.0),
                mean,
                conic,
                opacity,
                color,
                rect: tile_rect(mean, cov, tiles_x, tiles_y),
            });
        }
        Self::from_cpu(o.width, o.height, cpu)
    }

    /// The scene of `cpu` (f32-representable values).
    pub fn from_cpu(width: u32, height: u32, cpu: Vec<Splat>) -> Self {
        let gpu: Vec<GpuSplat> = cpu
            .iter()
            .map(|s| GpuSplat {
                xy: s.mean.map(|v| v as f32),
                conic: s.conic.map(|v| v as f32),
                opacity: s.opacity as f32,
                color: s.color.map(|v| v as f32),
                pad: 0.0,
            })
            .collect();
        // The oracle's order: by depth, ties in index order.
        let mut order: Vec<u32> = (0..cpu.len() as u32).collect();
        order.sort_by(|&a, &b| cpu[a as usize].depth.total_cmp(&cpu[b as usize].depth));
        let rects: Vec<[u32; 4]> = cpu.iter().map(|s| s.rect.map(|v| v as u32)).collect();
        let isect =
            Intersections::build(&rects, &order, width.div_ceil(TILE), height.div_ceil(TILE))
                .expect("intersections");
        Self {
            width,
            height,
            gpu,
            cpu,
            isect,
        }
    }

    pub fn pixels(&self) -> usize {
        (self.width * self.height) as usize
    }
}

/// Whether blending at `(px, py)` comes within `margin` (relative) of one
/// of its thresholds in f64 — alpha at 1/255, the 0.99 clamp, `T` at 1e-4 —
/// where f32 and f64 may take different branches.
pub fn near_threshold(splats: &[Splat], list: &[usize], px: u32, py: u32, margin: f64) -> bool {
    let near = |x: f64, edge: f64| ((x - edge) / edge).abs() < margin;
    let mut t = 1.0f64;
    for &k in list {
        let s = &splats[k];
        let dx = s.mean[0] - f64::from(px);
        let dy = s.mean[1] - f64::from(py);
        let power = -0.5 * (s.conic[0] * dx * dx + s.conic[2] * dy * dy) - s.conic[1] * dx * dy;
        if power > 0.0 {
            continue;
        }
        let g = s.opacity * power.exp();
        if near(g, 1.0 / 255.0) || near(g, 0.99) {
            return true;
        }
        let alpha = g.min(0.99);
        if alpha < 1.0 / 255.0 {
            continue;
        }
        let test_t = t * (1.0 - alpha);
        if near(test_t, 1e-4) {
            return true;
        }
        if test_t < 1e-4 {
            break;
        }
        t = test_t;
    }
    false
}
