//! [`train_steps`]: the wasm-bindgen entry point.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use synctalk_reference::View;
use synctalk_train::dataset::{Dataset, InMemory};
use synctalk_train::train::{start, Settings, TrainData, Trainer};
use wasm_bindgen::prelude::*;

/// A dataset whose steps all draw the same frame, so that the losses of
/// successive steps compare.
struct OneFrame {
    ds: Dataset,
    t: usize,
}

impl TrainData for OneFrame {
    fn size(&self) -> (u32, u32) {
        self.ds.size()
    }
    fn frames(&self) -> usize {
        self.ds.frames()
    }
    fn train_frames(&self) -> Vec<usize> {
        vec![self.t]
    }
    fn view(&self, t: usize) -> View {
        self.ds.view(t)
    }
    fn condition(&self, t: usize) -> &[f32] {
        self.ds.condition(t)
    }
    fn target(&self, t: usize) -> &[u32] {
        self.ds.target(t)
    }
    fn under(&self, t: usize) -> &[u32] {
        self.ds.under(t)
    }
}

/// What [`train_steps`] resolves to.
#[derive(Serialize)]
struct Report {
    /// The adapter's backend (`BrowserWebGpu`) and name (browsers may
    /// withhold it: empty).
    backend: String,
    adapter: String,
    /// Frames in the dataset, and the one trained on.
    frames: usize,
    frame: usize,
    /// Width and height of the frames.
    size: (u32, u32),
    /// Gaussians trained.
    gaussians: usize,
    /// Per step: total loss, L1, SSIM, alpha term (read back after it).
    losses: Vec<[f32; 4]>,
    /// Per step, milliseconds from its start to its loss being read back.
    ms: Vec<f64>,
}

fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsValue::from(js_sys::Error::new(&e.to_string()))
}

/// Trains `steps` steps on the dataset in `files` (an object mapping each
/// file's path below the dataset folder, e.g. `frames/000000.jpg`, to its
/// bytes as a `Uint8Array`), all on its first training frame, starting from
/// `init_points` Gaussians; resolves to `{backend, adapter, frames, frame, size,
/// gaussians, losses, ms}` or rejects with an error naming the cause (no
/// WebGPU, a missing or broken file, a device lost).
#[wasm_bindgen]
pub async fn train_steps(
    files: js_sys::Object,
    steps: u32,
    init_points: u32,
) -> Result<JsValue, JsValue> {
    let mut map = HashMap::new();
    for entry in js_sys::Object::entries(&files).iter() {
        let pair = js_sys::Array::from(&entry);
        let name = pair
            .get(0)
            .as_string()
            .ok_or_else(|| js_error("a file name is not a string"))?;
        let bytes = js_sys::Uint8Array::new(&pair.get(1)).to_vec();
        map.insert(name, bytes);
    }
    let ds = Dataset::from_files(Path::new("dataset"), &InMemory(map)).map_err(js_error)?;
    let settings = Settings {
        iters: steps.max(1),
        init_points: init_points as usize,
        max_gaussians: 2 * init_points as usize,
        cond_noise: 0.0,
        ..Settings::default()
    };
    let (params, theta) = start(&ds, &settings);
    let gaussians = params.len();
    let frame = *ds
        .train
        .first()
        .ok_or_else(|| JsError::new("the dataset has no training frames"))?;
    let data = OneFrame { ds, t: frame };

    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::BROWSER_WEBGPU,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions::default())
        .await
        .map_err(|e| js_error(format!("no WebGPU adapter: {e}")))?;
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("synctalk-train"),
            required_limits: wgpu::Limits::default(),
            ..Default::default()
        })
        .await
        .map_err(|e| js_error(format!("no WebGPU device: {e}")))?;
    let mut trainer =
        Trainer::new(&device, &queue, &data, settings, params, theta).map_err(js_error)?;
    let mut losses = Vec::with_capacity(steps as usize);
    let mut ms = Vec::with_capacity(steps as usize);
    for _ in 0..steps {
        let t0 = js_sys::Date::now();
        trainer.step(&data).await.map_err(js_error)?;
        losses.push(trainer.last_loss().await.map_err(js_error)?);
        ms.push(js_sys::Date::now() - t0);
    }
    let info = adapter.get_info();
    let report = Report {
        backend: format!("{:?}", info.backend),
        adapter: info.name,
        frames: data.ds.frames(),
        frame,
        size: data.ds.size(),
        gaussians,
        losses,
        ms,
    };
    serde_wasm_bindgen::to_value(&report).map_err(js_error)
}
