//! Stable LSD radix sort of key/value pairs with a GPU-side element count.

use crate::layout::{entries, pipeline_with, storage, uniform};
use crate::scan::SCAN_BLOCK;
use std::sync::OnceLock;
use wgpu::util::DeviceExt;

/// Threads per workgroup of the count and scatter kernels.
const WG: u32 = 256;
/// Keys each thread handles per pass, by the most keys a sort target holds:
/// a workgroup sorts blocks of `256 * rounds` keys. Few keys want many small
/// blocks (parallelism), many keys fewer larger ones (a shorter histogram,
/// fewer workgroups). Measured on an H100 (`benches/sort.rs`, 32-bit keys,
/// µs for rounds 2 / 4 / 8): 10k keys 87 / 92 / 119, 100k 97 / 103 / 130,
/// 344k 166 / 136 / 152, 1M 291 / 245 / 225, 3.4M 823 / 684 / 666.
const ROUNDS_BY_CAPACITY: [(u32, u32); 3] = [(256 * 1024, 2), (768 * 1024, 4), (u32::MAX, 8)];
/// Keys per thread per block on a browser's software adapter (Chromium's
/// SwiftShader), whatever the capacity. There, every workgroup that
/// synchronises costs about a millisecond whatever its size (each 4-wide
/// slice of it runs as a coroutine that yields at every barrier), so fewer,
/// larger blocks win: measured in Chromium on SwiftShader (2 cores, the demo
/// portrait's 512x512 frame: 212k tile keys, 18k depth keys), 32 rounds
/// took a frame from 10.4 to 8.2 CPU-seconds (5.5 to 4.1 with the test
/// browser's Dawn toggles). Natively on lavapipe it was no faster (3.8 to
/// 4.9 s a frame against 2.4 to 4.8, noisy), so native adapters keep the
/// capacity rule. Same kernels and the same result as any block size
/// (`every_block_size_sorts_alike`).
const BROWSER_CPU_ROUNDS: u32 = 32;
/// Largest number of keys one sort handles; a target also refuses more
/// blocks than one dispatch dimension holds (65,535).
pub const MAX_SORT_KEYS: u32 = 65_535 * SCAN_BLOCK;

const BITS_PER_PASS: u32 = 8;
const BINS: u32 = 256;
const MAX_PASSES: u32 = 32 / BITS_PER_PASS;
/// Offset alignment between the per-pass uniforms (WebGPU's minimum uniform
/// buffer offset alignment).
const UNIFORM_STRIDE: u64 = 256;

/// Errors raised when preparing a sort.
#[derive(Debug, thiserror::Error)]
pub enum SortError {
    /// The requested capacity exceeds what the dispatch limits allow.
    #[error("sort capacity {0} exceeds the maximum of {MAX_SORT_KEYS} keys")]
    TooManyKeys(u64),
    /// The key or value buffer is smaller than the capacity.
    #[error("sort buffer `{name}` holds {have} bytes, {need} needed")]
    BufferTooSmall {
        /// Which buffer.
        name: &'static str,
        /// Its size.
        have: u64,
        /// Bytes needed for the capacity.
        need: u64,
    },
}

/// How each pass scans the histogram between counting and scattering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowScan {
    /// `scan_rows`: 256 workgroups, one per digit, each scanning its row
    /// over the blocks with a workgroup-wide scan; `scatter` then scans the
    /// 256 digit totals in each of its workgroups. For GPUs.
    Parallel,
    /// `scan_rows_serial`: one workgroup whose thread per digit walks its
    /// row and writes global offsets, so `scatter` skips its own scan. For
    /// CPU adapters, where each barrier of each workgroup costs a context
    /// switch per SIMD slice: measured on lavapipe (2 cores), a pass of the
    /// 18k-key depth sort took about 45 ms in `scan_rows`.
    Serial,
}

impl RowScan {
    /// The scan for an adapter: [`RowScan::Serial`] on a CPU adapter
    /// (lavapipe, SwiftShader), [`RowScan::Parallel`] elsewhere.
    pub fn for_adapter(info: &wgpu::AdapterInfo) -> Self {
        if info.device_type == wgpu::DeviceType::Cpu {
            Self::Serial
        } else {
            Self::Parallel
        }
    }
}

/// Radix sort pipelines (`radix.wgsl`), compiled for a block size when the
/// first target of that size is made (a view uses one or two of them).
pub struct RadixSort {
    module: wgpu::ShaderModule,
    setup_layout: wgpu::BindGroupLayout,
    pass_layout: wgpu::BindGroupLayout,
    /// Per block size: its rounds, and its pipelines once compiled.
    variants: Vec<(u32, OnceLock<Variant>)>,
    /// Every target uses variant 0 (benchmarks), not the size rule.
    forced: bool,
    row_scan: RowScan,
}

/// The pipelines for one block size (`ROUNDS` pipeline constant).
#[derive(Clone)]
struct Variant {
    setup: wgpu::ComputePipeline,
    count: wgpu::ComputePipeline,
    scan_rows: wgpu::ComputePipeline,
    scatter: wgpu::ComputePipeline,
}

/// Scratch buffers and bind groups for sorting one pair of key/value buffers.
pub struct SortTarget {
    capacity: u32,
    keys: wgpu::Buffer,
    values: wgpu::Buffer,
    keys_tmp: wgpu::Buffer,
    values_tmp: wgpu::Buffer,
    sort_info: wgpu::Buffer,
    pipelines: Variant,
    /// Workgroups of the row scan: one per digit, or one in all.
    row_groups: u32,
    setup_group: wgpu::BindGroup,
    pass_groups: Vec<wgpu::BindGroup>,
    // Kept alive for the bind groups.
    _buffers: Vec<wgpu::Buffer>,
}

impl SortTarget {
    /// Maximum number of keys this target sorts.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// A 16-byte buffer holding `[num_keys, blocks, 1, 1]` after the sort's
    /// setup ran (`blocks`: workgroups of the count and scatter kernels).
    pub fn info(&self) -> &wgpu::Buffer {
        &self.sort_info
    }

    /// The buffers holding the sorted `(keys, values)` after a sort by
    /// `bits` bits: the caller's after an even number of passes (more than
    /// 8 and at most 16 bits, or more than 24), the target's scratch pair
    /// after an odd number.
    pub fn sorted(&self, bits: u32) -> (&wgpu::Buffer, &wgpu::Buffer) {
        if RadixSort::passes_for_bits(bits).is_multiple_of(2) {
            (&self.keys, &self.values)
        } else {
            (&self.keys_tmp, &self.values_tmp)
        }
    }
}

impl RadixSort {
    /// Compiles the sort pipelines; each target picks its block size from
    /// its capacity.
    pub fn new(device: &wgpu::Device) -> Self {
        let rounds: Vec<u32> = ROUNDS_BY_CAPACITY.iter().map(|&(_, r)| r).collect();
        Self::build(device, &rounds, false)
    }

    /// The sort pipelines for a device of the adapter `info` describes: on
    /// a browser's software adapter one large block size
    /// ([`BROWSER_CPU_ROUNDS`]), elsewhere the capacity rule of
    /// [`Self::new`]; on every CPU adapter the serial row scan
    /// ([`RowScan::Serial`]).
    pub fn for_adapter(device: &wgpu::Device, info: &wgpu::AdapterInfo) -> Self {
        let browser_cpu = info.device_type == wgpu::DeviceType::Cpu
            && info.backend == wgpu::Backend::BrowserWebGpu;
        let sort = if browser_cpu {
            Self::with_rounds(device, BROWSER_CPU_ROUNDS)
        } else {
            Self::new(device)
        };
        sort.with_row_scan(RowScan::for_adapter(info))
    }

    /// These pipelines with the row scan `scan` (the default is
    /// [`RowScan::Parallel`]); the sorted result is the same.
    pub fn with_row_scan(mut self, scan: RowScan) -> Self {
        self.row_scan = scan;
        // Pipelines compiled for the other scan would not match.
        for (_, cell) in &mut self.variants {
            *cell = OnceLock::new();
        }
        self
    }

    /// The row scan these pipelines use.
    pub fn row_scan(&self) -> RowScan {
        self.row_scan
    }

    /// Compiles the sort pipelines for blocks of `256 * rounds` keys per
    /// workgroup (clamped to 1..=64) whatever the capacity, for benchmarks;
    /// the result is the same.
    pub fn with_rounds(device: &wgpu::Device, rounds: u32) -> Self {
        Self::build(device, &[rounds.clamp(1, 64)], true)
    }

    fn build(device: &wgpu::Device, rounds: &[u32], forced: bool) -> Self {
        let module = device.create_shader_module(wgpu::include_wgsl!("shaders/radix.wgsl"));
        let setup_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("radix setup"),
            entries: &[storage(0, true), storage(1, false), uniform(2)],
        });
        let pass_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("radix pass"),
            entries: &[
                storage(0, true),
                storage(1, true),
                storage(2, false),
                storage(3, false),
                storage(4, false),
                storage(5, true),
                uniform(6),
            ],
        });
        Self {
            variants: rounds.iter().map(|&r| (r, OnceLock::new())).collect(),
            module,
            setup_layout,
            pass_layout,
            forced,
            row_scan: RowScan::Parallel,
        }
    }

    /// The pipelines of variant `i`, compiled on first use.
    fn pipelines(&self, device: &wgpu::Device, i: usize) -> &Variant {
        let (rounds, cell) = &self.variants[i];
        cell.get_or_init(|| {
            let c = [("ROUNDS", f64::from(*rounds))];
            let (m, sl, pl) = (&self.module, &self.setup_layout, &self.pass_layout);
            let (scan_rows, scatter) = match self.row_scan {
                RowScan::Parallel => (
                    pipeline_with(device, m, pl, "scan_rows", &c),
                    pipeline_with(device, m, pl, "scatter", &c),
                ),
                RowScan::Serial => (
                    pipeline_with(device, m, pl, "scan_rows_serial", &c),
                    pipeline_with(device, m, pl, "scatter", &[c[0], ("ROW_STARTS", 1.0)]),
                ),
            };
            Variant {
                setup: pipeline_with(device, m, sl, "setup", &c),
                count: pipeline_with(device, m, pl, "count", &c),
                scan_rows,
                scatter,
            }
        })
    }

    /// The variant a target of `capacity` keys uses.
    fn variant_for(&self, capacity: u32) -> usize {
        if self.forced {
            return 0;
        }
        let rounds = ROUNDS_BY_CAPACITY
            .iter()
            .find(|&&(max, _)| capacity <= max)
            .map_or(8, |&(_, r)| r);
        self.variants
            .iter()
            .position(|&(r, _)| r == rounds)
            .unwrap_or(0)
    }

    /// Bytes each key or value buffer needs for `capacity` pairs (the
    /// kernels read nothing past the count).
    pub fn buffer_size(capacity: u32) -> u64 {
        u64::from(capacity.max(1)) * 4
    }

    /// Prepares a sort of `keys`/`values` (each at least
    /// [`Self::buffer_size`] bytes, with `STORAGE` usage). The number of pairs to sort is read at
    /// run time from the first `u32` of `count` (clamped to `capacity`).
    pub fn target(
        &self,
        device: &wgpu::Device,
        keys: &wgpu::Buffer,
        values: &wgpu::Buffer,
        count: &wgpu::Buffer,
        capacity: u32,
    ) -> Result<SortTarget, SortError> {
        if capacity > MAX_SORT_KEYS {
            return Err(SortError::TooManyKeys(capacity.into()));
        }
        let need = Self::buffer_size(capacity);
        for (name, b) in [("keys", keys), ("values", values)] {
            if b.size() < need {
                return Err(SortError::BufferTooSmall {
                    name,
                    have: b.size(),
                    need,
                });
            }
        }
        let storage_buf = |label: &str, size: u64, extra: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE | extra,
                mapped_at_creation: false,
            })
        };
        // COPY_SRC: after an odd number of passes these hold the result.
        let keys_tmp = storage_buf("sort keys tmp", need, wgpu::BufferUsages::COPY_SRC);
        let values_tmp = storage_buf("sort values tmp", need, wgpu::BufferUsages::COPY_SRC);
        let variant = self.variant_for(capacity);
        let blocks = capacity.div_ceil(WG * self.variants[variant].0).max(1);
        // Count and scatter run one workgroup per block (dispatch limit).
        if blocks > 65_535 {
            return Err(SortError::TooManyKeys(capacity.into()));
        }
        // Per block and digit, then the 256 digit totals.
        let hist = storage_buf(
            "sort histogram",
            u64::from((blocks + 1) * BINS) * 4,
            wgpu::BufferUsages::empty(),
        );
        let sort_info = storage_buf("sort info", 16, wgpu::BufferUsages::INDIRECT);

        // Slot 0: setup capacity; slots 1..=4: the shift of each pass.
        let mut bytes = vec![0u8; (UNIFORM_STRIDE * u64::from(MAX_PASSES + 1)) as usize];
        bytes[0..4].copy_from_slice(&capacity.to_le_bytes());
        for p in 0..MAX_PASSES {
            let at = (UNIFORM_STRIDE * u64::from(p + 1)) as usize;
            bytes[at..at + 4].copy_from_slice(&(p * BITS_PER_PASS).to_le_bytes());
        }
        let uniforms = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("sort uniforms"),
            contents: &bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let uniform_slot = |slot: u32| {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &uniforms,
                offset: UNIFORM_STRIDE * u64::from(slot),
                size: wgpu::BufferSize::new(4),
            })
        };

        let mut setup_entries = entries(&[count, &sort_info]);
        setup_entries.push(wgpu::BindGroupEntry {
            binding: 2,
            resource: uniform_slot(0),
        });
        let setup_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("radix setup"),
            layout: &self.setup_layout,
            entries: &setup_entries,
        });
        let pass_groups = (0..MAX_PASSES)
            .map(|p| {
                let (ki, vi, ko, vo) = if p % 2 == 0 {
                    (keys, values, &keys_tmp, &values_tmp)
                } else {
                    (&keys_tmp, &values_tmp, keys, values)
                };
                let mut e = entries(&[ki, vi, ko, vo, &hist, &sort_info]);
                e.push(wgpu::BindGroupEntry {
                    binding: 6,
                    resource: uniform_slot(p + 1),
                });
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("radix pass"),
                    layout: &self.pass_layout,
                    entries: &e,
                })
            })
            .collect();
        Ok(SortTarget {
            capacity,
            keys: keys.clone(),
            values: values.clone(),
            keys_tmp: keys_tmp.clone(),
            values_tmp: values_tmp.clone(),
            sort_info,
            pipelines: self.pipelines(device, variant).clone(),
            row_groups: match self.row_scan {
                RowScan::Parallel => BINS,
                RowScan::Serial => 1,
            },
            setup_group,
            pass_groups,
            _buffers: vec![keys_tmp, values_tmp, hist, uniforms],
        })
    }

    /// Number of 8-bit digit passes for keys below `2^bits`.
    pub fn passes_for_bits(bits: u32) -> u32 {
        bits.clamp(1, 32).div_ceil(BITS_PER_PASS)
    }

    /// Records a sort of the pairs in `target` by their keys, which must be
    /// below `2^bits` (digits above `bits`, rounded up to a multiple of 8, are
    /// not looked at). Equal keys keep their input order (stable). The
    /// result is in [`SortTarget::sorted`]`(bits)`.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, target: &SortTarget, bits: u32) {
        let v = &target.pipelines;
        pass.set_pipeline(&v.setup);
        pass.set_bind_group(0, &target.setup_group, &[]);
        pass.dispatch_workgroups(1, 1, 1);
        for p in 0..Self::passes_for_bits(bits) {
            let group = &target.pass_groups[p as usize];
            pass.set_pipeline(&v.count);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups_indirect(&target.sort_info, 4);
            pass.set_pipeline(&v.scan_rows);
            pass.dispatch_workgroups(target.row_groups, 1, 1);
            pass.set_pipeline(&v.scatter);
            pass.dispatch_workgroups_indirect(&target.sort_info, 4);
        }
    }
}
