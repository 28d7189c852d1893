//! The presenter (what the browser uses to show a frame on a canvas) draws
//! the view's output pixel for pixel, into RGBA and BGRA targets, composited
//! over black; onto smaller targets it averages the texels each pixel
//! covers, and onto transparent ones it keeps the alpha (premultiplied).

use synctalk_gaussians::synthetic::{orbit_camera, RandomCloud};
use synctalk_gaussians::Image;
use synctalk_render::{
    encode_texture_copy, padded_row, unpad_rows, GpuContext, GpuScene, PresentAlpha, Presenter,
    Renderer, View,
};

fn read_target(r: &Renderer, tex: &wgpu::Texture) -> Vec<u8> {
    let d = &r.context().device;
    let (w, h) = (tex.width(), tex.height());
    let buf = d.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: u64::from(padded_row(w) * h),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut e = d.create_command_encoder(&Default::default());
    encode_texture_copy(&mut e, tex, &buf);
    r.context().queue.submit([e.finish()]);
    buf.slice(..).map_async(wgpu::MapMode::Read, |_| {});
    d.poll(wgpu::PollType::wait_indefinitely()).expect("poll");
    let raw = buf.slice(..).get_mapped_range().expect("mapped").to_vec();
    unpad_rows(&raw, w, h)
}

/// A view of `w` x `h` that has rendered a random scene (`seed`) over a
/// plain `background`, and its output.
fn rendered(r: &Renderer, seed: u64, w: u32, h: u32, background: [u8; 4]) -> (View, Image) {
    let g = RandomCloud {
        count: 4_000,
        sh_degree: 1,
        half_extent: 1.0,
        center: [0.0; 3],
        log_scale: (-4.0, -2.5),
    }
    .generate(seed);
    let cam = orbit_camera(w, h, 90.0, 3.0, 0.1, 0.2);
    let scene = GpuScene::new(&r.context().device, &g, None).expect("scene");
    let mut view = View::new(r, &scene, w, h).expect("view");
    view.set_layers(r, &Image::solid(w, h, background), None)
        .expect("layers");
    view.render(r, &cam, &[]).expect("render");
    let out = view.read_image(r).expect("read");
    (view, out)
}

#[test]
fn presenter_copies_the_output_exactly() {
    let r = Renderer::new(GpuContext::headless(false).expect("GPU adapter"));
    let (w, h) = (96, 80);
    // A translucent background: the presenter composites over black.
    let (view, out) = rendered(&r, 3, w, h, [200, 100, 50, 128]);
    for format in [
        wgpu::TextureFormat::Rgba8Unorm,
        wgpu::TextureFormat::Bgra8Unorm,
    ] {
        let p = Presenter::new(&r, format);
        let target = target(&r, w, h, format);
        let mut e = r
            .context()
            .device
            .create_command_encoder(&Default::default());
        p.encode(&r, &mut e, &view, &target);
        r.context().queue.submit([e.finish()]);
        let shown = read_target(&r, &target);
        let mut worst = 0i32;
        let mut moved = 0;
        for (px, q) in out.data.chunks_exact(4).zip(shown.chunks_exact(4)) {
            let a = i32::from(px[3]);
            let want = [0, 1, 2].map(|c| (i32::from(px[c]) * a + 127) / 255);
            let got = match format {
                wgpu::TextureFormat::Bgra8Unorm => [q[2], q[1], q[0]],
                _ => [q[0], q[1], q[2]],
            };
            for c in 0..3 {
                worst = worst.max((want[c] - i32::from(got[c])).abs());
            }
            assert_eq!(q[3], 255, "presented alpha must be opaque");
            moved += usize::from(px[..3] != [200, 100, 50]);
        }
        assert!(moved > 100, "the scene must cover some pixels ({moved})");
        assert!(worst <= 1, "{format:?}: a channel differs by {worst}");
    }
}

/// A target texture of `w` x `h` in `format`.
fn target(r: &Renderer, w: u32, h: u32, format: wgpu::TextureFormat) -> wgpu::Texture {
    r.context().device.create_texture(&wgpu::TextureDescriptor {
        label: None,
        size: wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    })
}

#[test]
fn smaller_targets_get_the_box_filtered_image_and_transparent_ones_its_alpha() {
    let r = Renderer::new(GpuContext::headless(false).expect("GPU adapter"));
    let (w, h) = (96u32, 80u32);
    // A transparent background: the scene's own alpha shows.
    let (view, out) = rendered(&r, 5, w, h, [0, 0, 0, 0]);
    let texel = |x: u32, y: u32| {
        let i = 4 * (y * w + x) as usize;
        let a = f64::from(out.data[i + 3]) / 255.0;
        [0, 1, 2]
            .map(|c| f64::from(out.data[i + c]) / 255.0 * a)
            .into_iter()
            .chain([a])
            .collect::<Vec<f64>>()
    };
    // Same size (the exact copy), half size, and a scale that is not whole.
    for (tw, th) in [(w, h), (48, 40), (33, 29)] {
        for alpha in [PresentAlpha::Opaque, PresentAlpha::Premultiplied] {
            let p = Presenter::with_alpha(&r, wgpu::TextureFormat::Rgba8Unorm, alpha);
            let t = target(&r, tw, th, wgpu::TextureFormat::Rgba8Unorm);
            let mut e = r
                .context()
                .device
                .create_command_encoder(&Default::default());
            p.encode(&r, &mut e, &view, &t);
            r.context().queue.submit([e.finish()]);
            let shown = read_target(&r, &t);
            let (sx, sy) = (f64::from(w) / f64::from(tw), f64::from(h) / f64::from(th));
            let (mut worst, mut seen_alpha) = (0f64, 0usize);
            for y in 0..th {
                for x in 0..tw {
                    let lo = (
                        (f64::from(x) * sx).floor() as u32,
                        (f64::from(y) * sy).floor() as u32,
                    );
                    let hi = (
                        ((f64::from(x + 1) * sx).ceil() as u32).clamp(lo.0 + 1, w),
                        ((f64::from(y + 1) * sy).ceil() as u32).clamp(lo.1 + 1, h),
                    );
                    let mut sum = [0f64; 4];
                    for v in lo.1..hi.1 {
                        for u in lo.0..hi.0 {
                            for (s, t) in sum.iter_mut().zip(texel(u, v)) {
                                *s += t;
                            }
                        }
                    }
                    let n = f64::from((hi.0 - lo.0) * (hi.1 - lo.1));
                    let mut want = sum.map(|s| s / n * 255.0);
                    if alpha == PresentAlpha::Opaque {
                        want[3] = 255.0;
                    }
                    let i = 4 * (y * tw + x) as usize;
                    for c in 0..4 {
                        worst = worst.max((want[c] - f64::from(shown[i + c])).abs());
                    }
                    seen_alpha += usize::from(shown[i + 3] < 250 && shown[i + 3] > 5);
                }
            }
            assert!(
                worst <= 1.01,
                "{tw}x{th} {alpha:?}: a channel differs by {worst}"
            );
            if alpha == PresentAlpha::Premultiplied {
                assert!(
                    seen_alpha > 20,
                    "{tw}x{th}: only {seen_alpha} partly transparent pixels"
                );
            }
        }
    }
}
