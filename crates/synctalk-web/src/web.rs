//! `WasmAvatar`: one portrait drawn on one canvas with WebGPU, driven by the
//! engine. JavaScript owns the clocks (the audio context's time) and calls
//! [`WasmAvatar::render`] once per animation frame.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use synctalk_engine::{blendshapes, Engine, EngineError, Frame};
use synctalk_gaussians::Image;
use synctalk_portrait::{LayerRole, Portrait};
use synctalk_render::{
    encode_texture_copy, padded_row, request_device, unpad_rows, GpuScene, PresentAlpha, Presenter,
    RenderError, Renderer, View, MAX_DOWNSCALE,
};
use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

mod controls;
mod figures;

use figures::{BenchFigures, Info, Stats};

/// A JavaScript `Error` with a `code` property.
fn js_error(code: &str, msg: impl std::fmt::Display) -> JsValue {
    let e = js_sys::Error::new(&msg.to_string());
    let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

fn render_error(e: RenderError) -> JsValue {
    match e {
        RenderError::NoAdapter(_) => js_error("NO_WEBGPU", e),
        RenderError::Readback(_) => js_error("DEVICE_LOST", e),
        _ => js_error("GPU_ERROR", e),
    }
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// Maps `buffer` for reading and returns its bytes once the GPU is done.
async fn map_read(buffer: &wgpu::Buffer) -> Result<Vec<u8>, JsValue> {
    let mut done = None;
    let promise = js_sys::Promise::new(&mut |resolve, _reject| done = Some(resolve));
    let Some(resolve) = done else {
        return Err(js_error("INTERNAL", "promise without resolver"));
    };
    let ok = Arc::new(AtomicBool::new(false));
    let ok2 = ok.clone();
    buffer.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        ok2.store(r.is_ok(), Ordering::Release);
        let _ = resolve.call0(&JsValue::NULL);
    });
    wasm_bindgen_futures::JsFuture::from(promise).await?;
    if !ok.load(Ordering::Acquire) {
        return Err(js_error(
            "DEVICE_LOST",
            "reading from the GPU failed (device lost?)",
        ));
    }
    let bytes = buffer
        .slice(..)
        .get_mapped_range()
        .map_err(|e| js_error("DEVICE_LOST", e))?
        .to_vec();
    buffer.unmap();
    Ok(bytes)
}

/// Panics become console errors with their message (the wasm then traps,
/// and the JavaScript wrapper reports the trap).
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            web_sys::console::error_1(&format!("synctalk: internal error: {info}").into());
        }));
    });
}

/// A portrait on a canvas.
#[wasm_bindgen]
pub struct WasmAvatar {
    portrait: Portrait,
    /// The point the head turns about (`Portrait::head_pivot`).
    pivot: [f32; 3],
    /// The jaw line of the neck warp (`Portrait::jaw_line`).
    jaw: Option<Vec<[f32; 3]>>,
    engine: Engine,
    /// The frame being drawn (its buffers are reused).
    frame: Frame,
    renderer: Renderer,
    scene: GpuScene,
    view: View,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    presenter: Presenter,
    torso_frame: Option<usize>,
    stats_buffer: wgpu::Buffer,
    stats_pending: Arc<AtomicBool>,
    stats_ready: Arc<AtomicBool>,
    lost: Arc<Mutex<Option<String>>>,
    gpu_error: Arc<Mutex<Option<String>>>,
    stats: Stats,
}

#[wasm_bindgen]
impl WasmAvatar {
    /// Parses `portrait` (the `.stk` bytes), opens WebGPU on `canvas` and
    /// prepares the first frame. The networks load separately
    /// ([`WasmAvatar::load_networks`]), after the first frame is shown.
    /// `transparent`: no background plate, and the canvas shows the page
    /// through (premultiplied alpha) around the head and torso.
    pub async fn create(
        canvas: HtmlCanvasElement,
        portrait: Vec<u8>,
        transparent: bool,
    ) -> Result<WasmAvatar, JsValue> {
        install_panic_hook();
        let p = Portrait::from_bytes(&portrait).map_err(|e| js_error("BAD_PORTRAIT", e))?;
        drop(portrait);
        let engine = Engine::new(&p).map_err(|e| js_error("BAD_PORTRAIT", e))?;
        let pivot = p.head_pivot().map_err(|e| js_error("BAD_PORTRAIT", e))?;
        let jaw = p.jaw_line().map_err(|e| js_error("BAD_PORTRAIT", e))?;
        let (w, h) = (p.camera.width, p.camera.height);
        canvas.set_width(w);
        canvas.set_height(h);
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::BROWSER_WEBGPU,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let surface = instance
            .create_surface(wgpu::SurfaceTarget::Canvas(canvas))
            .map_err(|e| js_error("NO_WEBGPU", format!("cannot draw on the canvas: {e}")))?;
        let ctx = request_device(&instance, Some(&surface), false)
            .await
            .map_err(render_error)?;
        let lost = Arc::new(Mutex::new(None));
        {
            let lost = lost.clone();
            ctx.device.set_device_lost_callback(move |reason, msg| {
                if let Ok(mut l) = lost.lock() {
                    *l = Some(format!("{reason:?}: {msg}"));
                }
            });
        }
        let gpu_error = Arc::new(Mutex::new(None));
        {
            let gpu_error = gpu_error.clone();
            ctx.device
                .on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                    if let Ok(mut g) = gpu_error.lock() {
                        g.get_or_insert_with(|| e.to_string());
                    }
                }));
        }
        let caps = surface.get_capabilities(&ctx.adapter_handle);
        let format = caps
            .formats
            .iter()
            .copied()
            .find(|f| {
                matches!(
                    f,
                    wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Rgba8Unorm
                )
            })
            .ok_or_else(|| {
                js_error(
                    "NO_WEBGPU",
                    format!(
                        "the canvas offers no 8-bit unorm format ({:?})",
                        caps.formats
                    ),
                )
            })?;
        let (alpha, alpha_mode) = if transparent {
            if !caps
                .alpha_modes
                .contains(&wgpu::CompositeAlphaMode::PreMultiplied)
            {
                return Err(js_error(
                    "NO_WEBGPU",
                    "this browser's canvas cannot be transparent (no premultiplied alpha)",
                ));
            }
            (
                PresentAlpha::Premultiplied,
                wgpu::CompositeAlphaMode::PreMultiplied,
            )
        } else {
            (PresentAlpha::Opaque, wgpu::CompositeAlphaMode::Opaque)
        };
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            width: w,
            height: h,
            present_mode: wgpu::PresentMode::Fifo,
            desired_maximum_frame_latency: 2,
            alpha_mode,
            view_formats: vec![],
            color_space: wgpu::SurfaceColorSpace::Auto,
        };
        surface.configure(&ctx.device, &config);
        let renderer = Renderer::new(ctx);
        let device = &renderer.context().device;
        let scene = GpuScene::new(
            device,
            &p.gaussians,
            p.deformation.as_ref().map(|d| &d.basis),
        )
        .map_err(render_error)?;
        let mut view = View::new(&renderer, &scene, w, h).map_err(render_error)?;
        let background = match p.layer(LayerRole::Background) {
            _ if transparent => Image::solid(w, h, [0, 0, 0, 0]),
            Some(l) => l.image().map_err(|e| js_error("BAD_PORTRAIT", e))?,
            None => Image::solid(w, h, [0, 0, 0, 255]),
        };
        view.set_layers(&renderer, &background, None)
            .map_err(|e| js_error("BAD_PORTRAIT", e))?;
        let presenter = Presenter::with_alpha(&renderer, format, alpha);
        let stats_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("frame stats"),
            size: 48,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut avatar = WasmAvatar {
            portrait: p,
            pivot,
            jaw,
            engine,
            frame: Frame::default(),
            renderer,
            scene,
            view,
            surface,
            config,
            presenter,
            torso_frame: None,
            stats_buffer,
            stats_pending: Arc::new(AtomicBool::new(false)),
            stats_ready: Arc::new(AtomicBool::new(false)),
            lost,
            gpu_error,
            stats: Stats::default(),
        };
        avatar.size_buffers().await?;
        Ok(avatar)
    }

    /// The camera for frame `f`'s place on the pose track (the portrait
    /// camera without a track).
    fn camera(&self, f: &Frame) -> synctalk_gaussians::Camera {
        self.portrait
            .head_camera(f.pose_position, f.head_rotation, self.pivot)
            .unwrap_or_else(|| self.portrait.camera.clone())
    }

    /// Counts the resting face's tile intersections and waits for the
    /// count, so that the intersection buffers fit from the first frame on
    /// (the frame loop itself only learns of an overflow a frame or two
    /// late). Only the count is recorded (`View::encode_count`: no sorts,
    /// no rasterizer), once: it is the frame's whole, unclamped total, so
    /// the grown buffers hold it. Rendering whole frames for it (up to three
    /// before) cost seconds a load on a software adapter.
    async fn size_buffers(&mut self) -> Result<(), JsValue> {
        let f = self
            .engine
            .frame(0.0, None)
            .map_err(|e| js_error("BAD_PORTRAIT", e))?;
        let cam = self.camera(&f);
        let d = &self.renderer.context().device;
        let mut encoder = d.create_command_encoder(&Default::default());
        self.view
            .encode_count(&self.renderer, &mut encoder, &cam, &f.coefficients)
            .map_err(render_error)?;
        self.view.encode_stats(&mut encoder, &self.stats_buffer);
        self.renderer.context().queue.submit([encoder.finish()]);
        let raw = map_read(&self.stats_buffer).await?;
        self.take_stats(&raw)
    }

    /// Records a frame's counts read from the stats buffer (`raw`) and grows
    /// the intersection buffers to hold its total.
    fn take_stats(&mut self, raw: &[u8]) -> Result<(), JsValue> {
        let (visible, total) = View::parse_stats(raw);
        self.stats.visible = visible;
        self.stats.intersections = total;
        self.view
            .ensure_capacity(&self.renderer, total)
            .map_err(render_error)?;
        Ok(())
    }

    /// Loads the portrait's networks (Face-Sync). Returns whether it has one.
    #[wasm_bindgen(js_name = loadNetworks)]
    pub fn load_networks(&mut self) -> Result<bool, JsValue> {
        self.engine
            .load_networks(&self.portrait)
            .map_err(|e| js_error("BAD_PORTRAIT", e))
    }

    /// What the portrait is (name, licence, size, GPU memory…), as an object.
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let p = &self.portrait;
        let info = Info {
            name: p.meta.name.clone(),
            licence: p.meta.licence.clone(),
            attribution: p.meta.attribution.clone(),
            width: self.config.width,
            height: self.config.height,
            gaussians: p.gaussians.len(),
            bases: p.deformation.as_ref().map_or(0, |d| d.basis.num_bases),
            pose_frames: p.pose.as_ref().map_or(0, |t| t.frames.len()),
            networks: p.networks.iter().map(|n| n.name.clone()).collect(),
            adapter: self.renderer.context().adapter.clone(),
            surface_format: format!("{:?}", self.config.format),
            gpu_bytes: self.gpu_bytes(),
        };
        serde_wasm_bindgen::to_value(&info).map_err(|e| js_error("INTERNAL", e))
    }

    /// Sets the canvas's drawing size (its CSS box times the device pixel
    /// ratio): the frame is shown box-filtered down to it. Clamped to the
    /// portrait's size and to 1/8 of it (`MAX_DOWNSCALE`), keeping its
    /// aspect ratio; returns the size used, `[width, height]`.
    pub fn resize(&mut self, width: u32, height: u32) -> Vec<u32> {
        let (pw, ph) = (self.portrait.camera.width, self.portrait.camera.height);
        let k = (f64::from(width) / f64::from(pw))
            .min(f64::from(height) / f64::from(ph))
            .clamp(1.0 / f64::from(MAX_DOWNSCALE), 1.0);
        let w = ((f64::from(pw) * k).round() as u32).clamp(1, pw);
        let h = ((f64::from(ph) * k).round() as u32).clamp(1, ph);
        if (w, h) != (self.config.width, self.config.height) {
            self.config.width = w;
            self.config.height = h;
            self.surface
                .configure(&self.renderer.context().device, &self.config);
        }
        vec![w, h]
    }

    fn gpu_bytes(&self) -> u64 {
        // The scene, the view and the swap chain (two frames).
        self.scene.gpu_bytes()
            + self.view.gpu_bytes()
            + 2 * u64::from(self.config.width) * u64::from(self.config.height) * 4
    }

    /// Draws the frame for session time `clock` while the speech is at
    /// `speech_time` (undefined: silence).
    pub fn render(&mut self, clock: f64, speech_time: Option<f64>) -> Result<(), JsValue> {
        if let Some(msg) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(js_error(
                "DEVICE_LOST",
                format!("the GPU device was lost ({msg})"),
            ));
        }
        if let Some(msg) = self.gpu_error.lock().ok().and_then(|mut g| g.take()) {
            return Err(js_error("GPU_ERROR", format!("WebGPU error: {msg}")));
        }
        let t0 = now_ms();
        // The frame's buffers are reused (taken out while it is drawn; an
        // error leaves a fresh one for the next frame).
        let mut f = std::mem::take(&mut self.frame);
        self.engine
            .frame_into(clock, speech_time, &mut f)
            .map_err(|e| js_error("BAD_AUDIO", e))?;
        let t1 = now_ms();
        if self.torso_frame != Some(f.pose_frame) {
            let torso = match self.portrait.torso(f.pose_frame) {
                Some(l) => Some(l.image().map_err(|e| js_error("BAD_PORTRAIT", e))?),
                None => None,
            };
            self.view
                .set_torso(&self.renderer, torso.as_ref())
                .map_err(|e| js_error("BAD_PORTRAIT", e))?;
            self.torso_frame = Some(f.pose_frame);
        }
        let t2 = now_ms();
        let cam = self.camera(&f);
        // The torso's neck follows the head (`synctalk_gaussians::neck`).
        let warp = self
            .jaw
            .as_deref()
            .and_then(|j| self.portrait.neck_warp(j, f.pose_frame, &cam));
        self.view.set_neck(&self.renderer, warp.as_ref());
        // A frame that overflowed the intersection buffers (seen through the
        // asynchronous stats read) makes them grow before this one.
        if self.stats_ready.swap(false, Ordering::AcqRel) {
            let raw = self
                .stats_buffer
                .slice(..)
                .get_mapped_range()
                .map(|r| r.to_vec())
                .unwrap_or_default();
            self.stats_buffer.unmap();
            self.take_stats(&raw)?;
            self.stats_pending.store(false, Ordering::Release);
        }
        let frame = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                self.frame = f;
                return Ok(());
            }
            _ => {
                self.surface
                    .configure(&self.renderer.context().device, &self.config);
                self.frame = f;
                return Ok(());
            }
        };
        let d = &self.renderer.context().device;
        let mut encoder = d.create_command_encoder(&Default::default());
        self.view
            .encode(&self.renderer, &mut encoder, &cam, &f.coefficients)
            .map_err(render_error)?;
        let read_stats = !self.stats_pending.load(Ordering::Acquire);
        if read_stats {
            self.view.encode_stats(&mut encoder, &self.stats_buffer);
        }
        self.presenter
            .encode(&self.renderer, &mut encoder, &self.view, &frame.texture);
        self.renderer.context().queue.submit([encoder.finish()]);
        self.renderer.context().queue.present(frame);
        if read_stats {
            self.stats_pending.store(true, Ordering::Release);
            let ready = self.stats_ready.clone();
            self.stats_buffer
                .slice(..)
                .map_async(wgpu::MapMode::Read, move |r| {
                    if r.is_ok() {
                        ready.store(true, Ordering::Release);
                    }
                });
        }
        let t3 = now_ms();
        self.stats.frames += 1;
        self.stats.engine_ms = t1 - t0;
        if f.speaking {
            self.stats.speaking_frames += 1;
            self.stats.speaking_ms_total += t1 - t0;
        }
        self.stats.layers_ms = t2 - t1;
        self.stats.encode_ms = t3 - t2;
        self.stats.speaking = f.speaking;
        self.stats.pose_frame = f.pose_frame;
        self.stats.jaw_open = f.blendshapes[blendshapes::JAW_OPEN];
        self.stats.head_turn_deg = f
            .head_rotation
            .iter()
            .map(|r| r * r)
            .sum::<f32>()
            .sqrt()
            .to_degrees();
        self.frame = f;
        Ok(())
    }

    /// Times the audio side per displayed frame on this thread, as
    /// `synctalk bench-audio` does natively: `samples` (mono, `rate` Hz)
    /// pushed in `chunk`-sample pieces as a microphone delivers them for a
    /// `fps` display, then log-mel, the networks and the controller, with a
    /// fresh engine for this portrait (the avatar's own is untouched).
    /// Returns `{frames, meanMs, medianMs, p95Ms, maxMs}`.
    #[wasm_bindgen(js_name = benchAudio)]
    pub fn bench_audio(
        &self,
        samples: &[f32],
        rate: u32,
        fps: f64,
        chunk: usize,
    ) -> Result<JsValue, JsValue> {
        let bad = |e: EngineError| js_error("BAD_AUDIO", e);
        let mut engine = Engine::new(&self.portrait).map_err(bad)?;
        engine.load_networks(&self.portrait).map_err(bad)?;
        let b = synctalk_engine::bench_audio(&mut engine, samples, rate, fps, chunk, now_ms)
            .map_err(bad)?;
        let out = BenchFigures {
            frames: b.frames,
            mean_ms: b.mean_ms,
            median_ms: b.median_ms,
            p95_ms: b.p95_ms,
            max_ms: b.max_ms,
        };
        serde_wasm_bindgen::to_value(&out).map_err(|e| js_error("INTERNAL", e))
    }

    /// Counters of the last frame (CPU milliseconds per stage, visible
    /// Gaussians, memory…), as an object.
    pub fn stats(&mut self) -> Result<JsValue, JsValue> {
        self.stats.intersection_capacity = self.view.intersection_capacity();
        self.stats.gpu_bytes = self.gpu_bytes();
        self.stats.wasm_heap_bytes = wasm_bindgen::memory()
            .dyn_into::<js_sys::WebAssembly::Memory>()
            .map(|m| {
                m.buffer()
                    .dyn_into::<js_sys::ArrayBuffer>()
                    .map_or(0.0, |b| f64::from(b.byte_length()))
            })
            .unwrap_or(0.0);
        let arena = synctalk_arena::stats();
        self.stats.arena_bytes = arena.capacity;
        self.stats.arena_high_water_bytes = arena.high_water;
        self.stats.arena_resets = arena.resets;
        self.stats.arena_overflows = arena.overflows;
        self.stats.engine_ms_speaking =
            self.stats.speaking_ms_total / self.stats.speaking_frames.max(1) as f64;
        self.stats.face_sync = self.engine.has_face_sync();
        self.stats.expression = self.engine.has_expression();
        self.stats.head_sync = self.engine.has_head_sync();
        serde_wasm_bindgen::to_value(&self.stats).map_err(|e| js_error("INTERNAL", e))
    }

    /// The last frame's pixels (RGBA8, straight alpha, rows top to bottom),
    /// read back from the GPU: a promise of a `Uint8Array`.
    #[wasm_bindgen(js_name = readPixels)]
    pub fn read_pixels(&self) -> js_sys::Promise {
        let device = self.renderer.context().device.clone();
        let queue = self.renderer.context().queue.clone();
        let texture = self.view.output().clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let (w, h) = (texture.width(), texture.height());
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("read pixels"),
                size: u64::from(padded_row(w)) * u64::from(h),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut encoder = device.create_command_encoder(&Default::default());
            encode_texture_copy(&mut encoder, &texture, &buffer);
            queue.submit([encoder.finish()]);
            let raw = map_read(&buffer).await?;
            Ok(js_sys::Uint8Array::from(&unpad_rows(&raw, w, h)[..]).into())
        })
    }

    /// Destroys the GPU device, as a lost device would (for tests of the
    /// recovery path).
    #[wasm_bindgen(js_name = loseDevice)]
    pub fn lose_device(&self) {
        self.renderer.context().device.destroy();
    }
}
