//! End to end on a tiny scene: GPU projection, raster forward, loss,
//! raster and projection backward, Adam; the loss must fall. Sorting and
//! the intersection lists are built on the CPU between the kernels.

use synctalk_reference::Layers;
use synctalk_train::cpu::{forward, LossWeights};
use synctalk_train::gpu::{
    forward_backward, image_loss, pack_target, project_backward, project_forward, under_layer,
    unpack_rect, AdamBuffers, AdamGroup, AdamKernel, AdamParams, Intersections, LossInputs,
    LossKernels, RasterInputs, TILE,
};
use wgpu::util::DeviceExt;

use crate::oracle3d::{options, Inputs, Trainer};
use crate::scene3d::Scene3;

/// One parameter buffer's optimiser state on the GPU.
struct Slot {
    group: AdamGroup,
    count: usize,
    uniform: wgpu::Buffer,
    grad: wgpu::Buffer,
    param: wgpu::Buffer,
    bind: wgpu::BindGroup,
}

impl Slot {
    fn new(device: &wgpu::Device, kernel: &AdamKernel, group: AdamGroup, p: &[f32]) -> Self {
        use wgpu::BufferUsages as U;
        let init = |data: &[f32], usage| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(data),
                usage,
            })
        };
        let zeros = vec![0f32; p.len()];
        let param = init(p, U::STORAGE | U::COPY_SRC);
        let (m1, m2) = (init(&zeros, U::STORAGE), init(&zeros, U::STORAGE));
        let grad = init(&zeros, U::STORAGE | U::COPY_DST);
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: std::mem::size_of::<AdamParams>() as u64,
            usage: U::UNIFORM | U::COPY_DST,
            mapped_at_creation: false,
        });
        let bind = kernel.bind(
            device,
            &AdamBuffers {
                params: &uniform,
                grad: &grad,
                param: &param,
                m1: &m1,
                m2: &m2,
            },
        );
        Self {
            group,
            count: p.len(),
            uniform,
            grad,
            param,
            bind,
        }
    }

    /// One step with gradient `g`; returns the new parameters.
    fn step(&self, t: &Trainer, kernel: &AdamKernel, step: u32, g: &[f32]) -> Vec<f32> {
        let params = self.group.params(step, self.count as u32).expect("group");
        t.queue
            .write_buffer(&self.uniform, 0, bytemuck::bytes_of(&params));
        t.queue.write_buffer(&self.grad, 0, bytemuck::cast_slice(g));
        let read = t.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: self.param.size(),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = t.device.create_command_encoder(&Default::default());
        kernel.encode(&mut enc, &self.bind, self.count as u32);
        enc.copy_buffer_to_buffer(&self.param, 0, &read, 0, self.param.size());
        t.queue.submit([enc.finish()]);
        read.slice(..)
            .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
        t.device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
        let v = bytemuck::cast_slice(&read.slice(..).get_mapped_range().expect("range")).to_vec();
        v
    }
}

#[test]
fn twenty_steps_lower_the_loss() {
    let start = std::time::Instant::now();
    let t = Trainer::new();
    let loss_kernels = LossKernels::new(&t.device);
    let adam = AdamKernel::new(&t.device);
    let truth = Scene3::random(7, options(48, 48, 60, 2));
    // The target: the oracle's render of the true scene over its plate.
    let fwd = forward(&truth.params, &truth.frame()).expect("oracle forward");
    let target: Vec<u32> = fwd
        .image
        .iter()
        .zip(&fwd.head)
        .map(|(p, h)| {
            let q = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            let mask = if h[3] > 0.5 { 2 } else { 4 };
            pack_target([q(p[0]), q(p[1]), q(p[2])], mask)
        })
        .collect();
    let under = under_layer(Layers {
        background: &truth.background,
        torso: None,
    });
    // The start: colours and opacities off.
    let mut scene = truth;
    for (o, sh) in scene
        .params
        .opacity_logits
        .iter_mut()
        .zip(&mut scene.params.sh)
    {
        *o -= 1.0;
        for v in &mut sh[0] {
            *v = f64::from((*v * 0.3 + 0.4) as f32);
        }
    }
    let mut inputs = Inputs::new(&scene);
    let n = inputs.params.len();
    let gauss: Vec<f32> = inputs.params.gauss.concat();
    let slots = [
        Slot::new(&t.device, &adam, AdamGroup::gauss(n, 1.6e-4 * 12.0), &gauss),
        Slot::new(&t.device, &adam, AdamGroup::sh(), &inputs.params.sh),
        Slot::new(
            &t.device,
            &adam,
            AdamGroup::bases(inputs.params.bases.len(), 1e-3),
            &inputs.params.bases,
        ),
    ];
    let [width, height] = inputs.frame.image_size;
    let mut losses = Vec::new();
    for step in 1..=20u32 {
        let pf = project_forward(&t.device, &t.queue, &t.project, &inputs.project()).expect("fwd");
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by_key(|&i| (pf.depth_keys[i as usize], i));
        let rects: Vec<[u32; 4]> = pf.rects.iter().map(|&r| unpack_rect(r)).collect();
        let isect =
            Intersections::build(&rects, &order, width.div_ceil(TILE), height.div_ceil(TILE))
                .expect("intersections");
        let raster = |grad_image: &[[f32; 4]]| {
            forward_backward(
                &t.device,
                &t.queue,
                &t.raster,
                &RasterInputs {
                    width,
                    height,
                    splats: &pf.splats,
                    isect: &isect,
                    grad_image,
                },
            )
            .expect("raster")
        };
        let head = raster(&vec![[0.0; 4]; (width * height) as usize]).image;
        let loss = image_loss(
            &t.device,
            &t.queue,
            &loss_kernels,
            &LossInputs {
                width,
                height,
                head: &head,
                under: &under,
                target: &target,
                weights: LossWeights::default(),
            },
        )
        .expect("loss");
        losses.push(loss.terms[0]);
        let splat_grads = raster(&loss.grad_head).grads;
        let g = project_backward(
            &t.device,
            &t.queue,
            &t.project,
            &inputs.project(),
            &pf.splat_of,
            &splat_grads,
        )
        .expect("backward");
        let gauss = slots[0].step(&t, &adam, step, &g.params.gauss.concat());
        inputs.params.gauss = gauss.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect();
        inputs.params.sh = slots[1].step(&t, &adam, step, &g.params.sh);
        inputs.params.bases = slots[2].step(&t, &adam, step, &g.params.bases);
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!("train: loss {:?} in {secs:.2} s", losses);
    assert!(
        losses[19] < 0.8 * losses[0],
        "the loss did not fall: {losses:?}"
    );
    assert!(losses.windows(2).filter(|w| w[1] > w[0]).count() <= 3);
}
