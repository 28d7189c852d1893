//! GPU time of one radix sort, from timestamp queries around its compute
//! pass: `cargo bench -p synctalk-sort --bench sort [-- ROUNDS...]`.
//!
//! Keys are re-copied from a pristine buffer before every sort (outside the
//! timed pass), so each sort sees the same unsorted input: 32-bit keys are
//! the bit patterns of depths in 2.4..5.6 (the renderer's depth sort of the
//! benchmark scenes), 12-bit keys random tile ids of a 1024² image. Prints one
//! JSON object per case to stdout: rounds, keys, bits, median and minimum µs.
//! wgpu's indirect-dispatch validation is off, as in the renderer, unless
//! `WGPU_VALIDATION_INDIRECT_CALL=1`.

use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use synctalk_sort::RadixSort;
use wgpu::util::DeviceExt;

const TIMED: usize = 50;

fn device() -> (wgpu::Device, wgpu::Queue, String) {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if std::env::var_os("WGPU_VALIDATION_INDIRECT_CALL").is_none() {
        desc.flags
            .remove(wgpu::InstanceFlags::VALIDATION_INDIRECT_CALL);
    }
    let instance = wgpu::Instance::new(desc);
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .expect("a wgpu adapter");
    let name = adapter.get_info().name;
    assert!(
        adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY),
        "{name} has no timestamp queries"
    );
    let (d, q) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_features: wgpu::Features::TIMESTAMP_QUERY,
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .expect("device");
    (d, q, name)
}

fn storage(d: &wgpu::Device, data: &[u32], usage: wgpu::BufferUsages) -> wgpu::Buffer {
    d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(data),
        usage: wgpu::BufferUsages::STORAGE | usage,
    })
}

fn read_u64(d: &wgpu::Device, b: &wgpu::Buffer) -> Vec<u64> {
    b.slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    d.poll(wgpu::PollType::wait_indefinitely()).expect("poll");
    let v =
        bytemuck::cast_slice::<u8, u64>(&b.slice(..).get_mapped_range().expect("mapped")).to_vec();
    b.unmap();
    v
}

/// Median and minimum GPU microseconds of `TIMED` sorts after a second of
/// untimed ones (so that the GPU clock has risen).
fn time_sort(
    d: &wgpu::Device,
    q: &wgpu::Queue,
    sorter: &RadixSort,
    keys: &[u32],
    bits: u32,
) -> (f64, f64) {
    use wgpu::BufferUsages as U;
    let n = keys.len();
    let vals: Vec<u32> = (0..n as u32).collect();
    let pristine_k = storage(d, keys, U::COPY_SRC);
    let pristine_v = storage(d, &vals, U::COPY_SRC);
    let kb = storage(d, keys, U::COPY_DST);
    let vb = storage(d, &vals, U::COPY_DST);
    let cb = storage(d, &[n as u32], U::empty());
    let target = sorter.target(d, &kb, &vb, &cb, n as u32).expect("target");
    let queries = d.create_query_set(&wgpu::QuerySetDescriptor {
        label: None,
        ty: wgpu::QueryType::Timestamp,
        count: 2 * TIMED as u32,
    });
    let bytes = 16 * TIMED as u64;
    let resolve = d.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: bytes,
        usage: U::QUERY_RESOLVE | U::COPY_SRC,
        mapped_at_creation: false,
    });
    let staging = d.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: bytes,
        usage: U::MAP_READ | U::COPY_DST,
        mapped_at_creation: false,
    });
    let size = (n.max(1) * 4) as u64;
    let run = |timed: Option<u32>| {
        let mut enc = d.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&pristine_k, 0, &kb, 0, size);
        enc.copy_buffer_to_buffer(&pristine_v, 0, &vb, 0, size);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("sort"),
                timestamp_writes: timed.map(|i| wgpu::ComputePassTimestampWrites {
                    query_set: &queries,
                    beginning_of_pass_write_index: Some(2 * i),
                    end_of_pass_write_index: Some(2 * i + 1),
                }),
            });
            sorter.encode(&mut pass, &target, bits);
        }
        q.submit([enc.finish()]);
    };
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(1) {
        run(None);
        d.poll(wgpu::PollType::wait_indefinitely()).expect("poll");
    }
    for i in 0..TIMED {
        run(Some(i as u32));
    }
    let mut enc = d.create_command_encoder(&Default::default());
    enc.resolve_query_set(&queries, 0..2 * TIMED as u32, &resolve, 0);
    enc.copy_buffer_to_buffer(&resolve, 0, &staging, 0, bytes);
    q.submit([enc.finish()]);
    let ticks = read_u64(d, &staging);
    let period = f64::from(q.get_timestamp_period());
    let mut us: Vec<f64> = ticks
        .chunks(2)
        .map(|t| t[1].wrapping_sub(t[0]) as f64 * period / 1e3)
        .collect();
    us.sort_by(f64::total_cmp);
    (us[us.len() / 2], us[0])
}

fn main() {
    let rounds: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = if rounds.is_empty() {
        vec![2, 4, 8]
    } else {
        rounds
    };
    let (d, q, name) = device();
    eprintln!("adapter: {name}");
    let mut rng = rand_pcg::Pcg32::seed_from_u64(5);
    for &r in &rounds {
        let sorter = RadixSort::with_rounds(&d, r);
        for &n in &[10_000usize, 34_000, 100_000, 344_000, 1_000_000, 3_430_000] {
            let depth: Vec<u32> = (0..n)
                .map(|_| rng.random_range(2.4f32..5.6).to_bits())
                .collect();
            let tiles: Vec<u32> = (0..n).map(|_| rng.random_range(0..4096u32)).collect();
            for (keys, bits) in [(&depth, 32u32), (&tiles, 12)] {
                let (med, min) = time_sort(&d, &q, &sorter, keys, bits);
                println!(
                    "{{\"adapter\":\"{name}\",\"rounds\":{r},\"keys\":{n},\"bits\":{bits},\"passes\":{},\"median_us\":{med:.1},\"min_us\":{min:.1}}}",
                    RadixSort::passes_for_bits(bits)
                );
            }
        }
    }
}
