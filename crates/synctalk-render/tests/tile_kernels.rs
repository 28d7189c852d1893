//! The two tile kernels (`TileKernel::PerPixel` for GPUs,
//! `TileKernel::Columns` for CPU adapters) blend the same pixels: their
//! frames must be identical, byte for byte. The other GPU tests check the
//! adapter's kernel against the CPU reference (on lavapipe: `Columns`), so
//! this one carries that check over to the other kernel.
//!
//! Splats of equal depth leave the depth sort in the order the preprocess's
//! atomic counter gave them, which varies between runs on a multi-threaded
//! driver; so every Gaussian here has its own depth (distinct z, camera on
//! the z axis), and both kernels get the same order.

use synctalk_gaussians::synthetic::{orbit_camera, RandomCloud};
use synctalk_gaussians::{Camera, Gaussians, Image};
use synctalk_render::{GpuContext, GpuScene, Renderer, TileKernel, View};

/// The frame of `g` seen by `cam` over a gradient, by `r`.
fn frame(r: &Renderer, g: &Gaussians, cam: &Camera) -> (Image, u32) {
    let (w, h) = (cam.width, cam.height);
    let mut bg = Image::solid(w, h, [0, 0, 0, 255]);
    for (i, p) in bg.data.chunks_exact_mut(4).enumerate() {
        let (x, y) = (i as u32 % w, i as u32 / w);
        p[0] = (x * 255 / w) as u8;
        p[1] = (y * 255 / h) as u8;
    }
    let scene = GpuScene::new(&r.context().device, g, None).expect("scene");
    let mut view = View::new(r, &scene, w, h).expect("view");
    view.set_layers(r, &bg, None).expect("layers");
    let stats = view.render(r, cam, &[]).expect("render");
    (view.read_image(r).expect("read"), stats.intersections)
}

#[test]
fn both_tile_kernels_draw_the_same_frames() {
    let ctx = GpuContext::headless(false).expect("GPU adapter (install mesa-vulkan-drivers)");
    let per_pixel = Renderer::with_tile_kernel(ctx.clone(), TileKernel::PerPixel);
    let columns = Renderer::with_tile_kernel(ctx, TileKernel::Columns);
    assert_eq!(per_pixel.tile_kernel(), TileKernel::PerPixel);
    assert_eq!(columns.tile_kernel(), TileKernel::Columns);
    // Small and large splats, sparse and dense (pixels that turn opaque stop
    // early; tiles with more than one batch of 256 splats); image sides that
    // are not multiples of the 16-pixel tile.
    let cases = [
        (
            1u64,
            2_000usize,
            (-5.0f32, -2.2f32),
            1.5f32,
            (128u32, 128u32, 4.0f32),
        ),
        (2, 20_000, (-4.0, -1.8), 1.2, (200, 136, 3.0)),
        (3, 3_000, (-1.0, -0.3), 1.0, (176, 120, 3.0)),
        (4, 8_000, (-3.5, -2.0), 0.8, (63, 47, 2.5)),
    ];
    for (seed, count, log_scale, half_extent, (w, h, dist)) in cases {
        let mut g = RandomCloud {
            count,
            sh_degree: 1,
            half_extent,
            center: [0.0; 3],
            log_scale,
        }
        .generate(seed);
        // Distinct depths: z a permutation of evenly spaced values (far
        // more than a float's spacing apart), seen straight along z.
        let n = g.len();
        for (i, p) in g.positions.iter_mut().enumerate() {
            let k = (i * 7919) % n;
            p[2] = half_extent * (2.0 * k as f32 / n as f32 - 1.0);
        }
        let cam = orbit_camera(w, h, 1.1 * w as f32, dist, 0.0, 0.0);
        let (a, isects) = frame(&per_pixel, &g, &cam);
        let (b, _) = frame(&columns, &g, &cam);
        assert!(isects > 0, "seed {seed}: nothing drawn");
        let differ = a
            .data
            .chunks_exact(4)
            .zip(b.data.chunks_exact(4))
            .filter(|(p, q)| p != q)
            .count();
        assert_eq!(
            differ,
            0,
            "seed {seed} ({w}x{h}, {isects} intersections): {differ} pixels differ, {:.1} dB",
            a.psnr(&b)
        );
    }
}
