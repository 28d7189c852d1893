//! GPU radix sort and prefix sum against CPU results, on whatever Vulkan
//! adapter the machine has (lavapipe in CI).

use rand::{Rng, SeedableRng};
use synctalk_sort::{PrefixSum, RadixSort, RowScan};
use wgpu::util::DeviceExt;

fn device() -> (wgpu::Device, wgpu::Queue) {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .expect("a wgpu adapter (install mesa-vulkan-drivers)");
    pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .expect("device")
}

fn buffer(device: &wgpu::Device, data: &[u32], extra: wgpu::BufferUsages) -> wgpu::Buffer {
    let mut padded = data.to_vec();
    padded.resize((RadixSort::buffer_size(data.len() as u32) / 4) as usize, 0);
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&padded),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | extra,
    })
}

fn read(device: &wgpu::Device, queue: &wgpu::Queue, src: &wgpu::Buffer, len: usize) -> Vec<u32> {
    let size = (len.max(1) * 4) as u64;
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(src, 0, &staging, 0, size);
    queue.submit([enc.finish()]);
    staging
        .slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("poll");
    let v = bytemuck::cast_slice::<u8, u32>(&staging.slice(..).get_mapped_range().expect("mapped"))
        .to_vec();
    v[..len].to_vec()
}

fn check_sort(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    sorter: &RadixSort,
    keys: &[u32],
    bits: u32,
    capacity: u32,
) {
    let mask = if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    };
    let keys: Vec<u32> = keys.iter().map(|k| k & mask).collect();
    let keys = &keys[..];
    let n = keys.len();
    let values: Vec<u32> = (0..n as u32).collect();
    let kb = buffer(device, keys, wgpu::BufferUsages::empty());
    let vb = buffer(device, &values, wgpu::BufferUsages::empty());
    let cb = buffer(device, &[n as u32], wgpu::BufferUsages::empty());
    let target = sorter
        .target(device, &kb, &vb, &cb, capacity)
        .expect("target");
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        sorter.encode(&mut pass, &target, bits);
    }
    queue.submit([enc.finish()]);
    let (sk, sv) = target.sorted(bits);
    let got_k = read(device, queue, sk, n);
    let got_v = read(device, queue, sv, n);
    let mut want: Vec<(u32, u32)> = keys.iter().copied().zip(values).collect();
    want.sort_by_key(|&(k, _)| k); // std sort is stable
    for i in 0..n {
        assert_eq!((got_k[i], got_v[i]), want[i], "n={n} bits={bits} at {i}");
    }
}

/// Both row scans: GPUs use the parallel one, CPU adapters the serial one.
const ROW_SCANS: [RowScan; 2] = [RowScan::Parallel, RowScan::Serial];

#[test]
fn radix_sort_matches_stable_cpu_sort() {
    let (device, queue) = device();
    for scan in ROW_SCANS {
        let sorter = RadixSort::new(&device).with_row_scan(scan);
        assert_eq!(sorter.row_scan(), scan);
        sorts_like_the_cpu(&device, &queue, &sorter);
    }
}

fn sorts_like_the_cpu(device: &wgpu::Device, queue: &wgpu::Queue, sorter: &RadixSort) {
    let mut rng = rand_pcg::Pcg32::seed_from_u64(7);
    for &(n, bits) in &[
        (0usize, 32u32),
        (1, 32),
        (1000, 32),
        (1024, 8),
        (1025, 12),
        (2047, 10),
        (2049, 24),
        (4097, 16),
        (100_000, 32),
        (300_001, 13),
    ] {
        let keys: Vec<u32> = (0..n).map(|_| rng.random::<u32>()).collect();
        check_sort(device, queue, sorter, &keys, bits, n as u32);
        // Many equal keys: stability matters.
        let few: Vec<u32> = (0..n).map(|_| rng.random_range(0..7u32)).collect();
        check_sort(device, queue, sorter, &few, bits, n as u32);
    }
    // Keys that share their high bytes (depth keys of one scene): one digit
    // takes a whole block in the high passes.
    let near: Vec<u32> = (0..70_000)
        .map(|_| 0x4080_0000 | rng.random_range(0..0x3ffu32))
        .collect();
    check_sort(device, queue, sorter, &near, 32, 70_000);
    // Positive floats sort like their bit patterns (used for depth keys).
    let depths: Vec<u32> = (0..50_000)
        .map(|_| rng.random_range(0.2f32..100.0).to_bits())
        .collect();
    check_sort(device, queue, sorter, &depths, 32, 50_000);
}

#[test]
fn every_block_size_sorts_alike() {
    let (device, queue) = device();
    let mut rng = rand_pcg::Pcg32::seed_from_u64(11);
    // 32: what a browser's CPU adapter uses (`RadixSort::for_adapter`).
    for (rounds, scan) in [1, 2, 4, 8, 16, 32]
        .into_iter()
        .flat_map(|r| ROW_SCANS.map(|s| (r, s)))
    {
        let sorter = RadixSort::with_rounds(&device, rounds).with_row_scan(scan);
        let block = 256 * rounds as usize;
        for &(n, bits) in &[
            (block - 1, 10u32),
            (block, 12),
            (block + 1, 24),
            (3 * block + 255, 32),
            (20_000, 20),
        ] {
            let keys: Vec<u32> = (0..n).map(|_| rng.random::<u32>()).collect();
            check_sort(&device, &queue, &sorter, &keys, bits, n as u32);
            let few: Vec<u32> = (0..n).map(|_| rng.random_range(0..3u32) << 9).collect();
            check_sort(&device, &queue, &sorter, &few, bits, n as u32);
        }
    }
}

#[test]
fn sort_count_is_clamped_to_capacity_and_capacity_is_checked() {
    let (device, queue) = device();
    let sorter = RadixSort::new(&device);
    let keys: Vec<u32> = (0..2000u32).rev().collect();
    let values: Vec<u32> = (0..2000u32).collect();
    let kb = buffer(&device, &keys, wgpu::BufferUsages::empty());
    let vb = buffer(&device, &values, wgpu::BufferUsages::empty());
    // The count says 5000 but the capacity is 1500: only the first 1500 are sorted.
    let cb = buffer(&device, &[5000], wgpu::BufferUsages::empty());
    let target = sorter.target(&device, &kb, &vb, &cb, 1500).expect("target");
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        sorter.encode(&mut pass, &target, 16);
    }
    queue.submit([enc.finish()]);
    let got = read(&device, &queue, target.sorted(16).0, 2000);
    let mut want: Vec<u32> = keys[..1500].to_vec();
    want.sort();
    assert_eq!(&got[..1500], &want[..]);
    assert_eq!(&got[1500..], &keys[1500..]);
    assert!(
        sorter.target(&device, &kb, &vb, &cb, 5000).is_err(),
        "buffers too small must be refused"
    );
}

#[test]
fn prefix_sum_matches_cpu() {
    let (device, queue) = device();
    let scan = PrefixSum::new(&device);
    let mut rng = rand_pcg::Pcg32::seed_from_u64(3);
    for &n in &[
        1usize, 5, 1024, 1025, 4095, 4096, 4097, 8193, 32_769, 70_000, 1_500_000,
    ] {
        let data: Vec<u32> = (0..n).map(|_| rng.random_range(0..40u32)).collect();
        let db = buffer(&device, &data, wgpu::BufferUsages::empty());
        let groups = (n as u32).div_ceil(1024);
        let info = buffer(
            &device,
            &[n as u32, groups, 1, 1],
            wgpu::BufferUsages::INDIRECT,
        );
        let partials = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: PrefixSum::partials_size(n as u32),
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        // Both the single-dispatch and the three-dispatch variant.
        let target = scan.target(&device, &db, &partials, &info, n as u32);
        let mut enc = device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            scan.encode(&mut pass, &target, &info);
        }
        queue.submit([enc.finish()]);
        let got = read(&device, &queue, &db, n);
        let mut acc = 0u32;
        for i in 0..n {
            assert_eq!(got[i], acc, "n={n} at {i}");
            acc += data[i];
        }
    }
}
