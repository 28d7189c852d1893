//! The composite pass's neck warp (`synctalk_gaussians::neck`) against the
//! f64 reference (`synctalk_reference::composite_warped`): a torso layer
//! with a wavy top edge and stripes, under a sparse cloud, warped for a
//! head seen from another angle than the torso. Runs on lavapipe in CI.

use synctalk_gaussians::neck::{top_edges, NeckWarp};
use synctalk_gaussians::synthetic::{orbit_camera, RandomCloud};
use synctalk_gaussians::Image;
use synctalk_reference::Layers;
use synctalk_render::{GpuContext, GpuScene, Renderer, View};

/// Minimum PSNR against the reference: the GPU samples in f32, the
/// reference in f64; both round to 8 bits.
const MIN_PSNR: f64 = 50.0;

/// Opaque stripes below a wavy top edge, transparent above it.
fn torso(w: u32, h: u32) -> Image {
    let mut img = Image::solid(w, h, [0; 4]);
    for y in 0..h {
        for x in 0..w {
            let top = 70.0 + 8.0 * (x as f32 / 9.0).sin();
            if (y as f32) >= top {
                let i = ((y * w + x) * 4) as usize;
                let stripe = if (x / 4 + y / 6) % 2 == 0 { 230 } else { 40 };
                img.data[i..i + 4].copy_from_slice(&[stripe, (y * 2) as u8, 255 - stripe, 255]);
            }
        }
    }
    img
}

#[test]
fn the_warped_torso_matches_the_reference() {
    let g = RandomCloud {
        count: 300,
        sh_degree: 1,
        half_extent: 0.6,
        center: [0.0, -0.3, 0.0],
        log_scale: (-4.5, -3.5),
    }
    .generate(5);
    check(&g, "sparse");
}

/// A cloud over the image's upper rows with more tile intersections than
/// a new view holds: its first frame grows the view's buffers, and the warp
/// (and the torso's top edges) must come along into the grown view.
#[test]
fn the_warp_survives_the_buffers_growing() {
    let mut g = RandomCloud {
        count: 16_000,
        sh_degree: 1,
        half_extent: 0.5,
        center: [0.0; 3],
        log_scale: (-3.0, -2.6),
    }
    .generate(6);
    // Squeezed into a band across the top of the picture, away from the
    // torso's edge.
    for p in &mut g.positions {
        p[1] = -0.75 + 0.15 * p[1];
    }
    let intersections = check(&g, "growing");
    assert!(intersections > 1 << 16, "the buffers did not grow");
}

/// Renders `g` warped and unwarped against the reference; returns the
/// frame's tile intersections.
fn check(g: &synctalk_gaussians::Gaussians, what: &str) -> u32 {
    let r = Renderer::new(
        GpuContext::headless(false).expect("GPU adapter (install mesa-vulkan-drivers)"),
    );
    let (w, h) = (160, 128);
    let torso_cam = orbit_camera(w, h, 160.0, 3.0, 0.0, 0.0);
    let head_cam = orbit_camera(w, h, 160.0, 3.0, 0.12, -0.15);
    let jaw = [[-0.6, 0.1, 0.2], [0.0, 0.5, -0.2], [0.6, 0.1, 0.2]];
    let warp = NeckWarp::between(&jaw, &torso_cam, &head_cam).expect("warp");
    let torso = torso(w, h);
    let bg = Image::solid(w, h, [20, 60, 200, 255]);
    let scene = GpuScene::new(&r.context().device, g, None).expect("scene");
    let mut view = View::new(&r, &scene, w, h).expect("view");
    view.set_layers(&r, &bg, Some(&torso)).expect("layers");
    view.set_neck(&r, Some(&warp));
    let stats = view.render(&r, &head_cam, &[]).expect("render");
    let gpu = view.read_image(&r).expect("read");
    let layers = Layers {
        background: &bg,
        torso: Some(&torso),
    };
    let head =
        synctalk_reference::rasterize(&synctalk_reference::project(g, None, &head_cam), w, h);
    let top = top_edges(&torso);
    let cpu = synctalk_reference::composite_warped(&head, layers, Some((&warp, &top)));
    let psnr = gpu.psnr(&cpu);
    let covered = head.iter().filter(|p| p[3] > 0.5).count();
    eprintln!(
        "{what}: warped torso {psnr:.1} dB against the reference; {} intersections, {covered} px covered",
        stats.intersections
    );
    assert!(psnr >= MIN_PSNR, "{psnr:.2} dB < {MIN_PSNR} dB");
    // The warp moves the picture (so the test can fail), and removing it
    // gives the unwarped composite back.
    let plain = synctalk_reference::composite(&head, layers);
    let moved = cpu.psnr(&plain);
    assert!(moved < 30.0, "the warp changed little ({moved:.1} dB)");
    view.set_neck(&r, None);
    view.render(&r, &head_cam, &[]).expect("render");
    let unwarped = view.read_image(&r).expect("read").psnr(&plain);
    assert!(unwarped >= MIN_PSNR, "without the warp: {unwarped:.2} dB");
    stats.intersections
}
