//! GPU timestamps around each render stage.

/// Names of the render stages, in order.
pub const STAGES: [&str; 6] = [
    "preprocess",
    "depth sort",
    "binning",
    "tile sort",
    "rasterize",
    "composite",
];

/// GPU time of each stage of one frame, in milliseconds (from timestamp queries).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StageTimes {
    /// Milliseconds per entry of [`STAGES`].
    pub ms: [f64; 6],
}

impl StageTimes {
    /// Sum of all stages.
    pub fn total(&self) -> f64 {
        self.ms.iter().sum()
    }
}

pub(crate) struct Timer {
    pub queries: wgpu::QuerySet,
    pub resolve: wgpu::Buffer,
    pub staging: wgpu::Buffer,
    pub period_ns: f64,
}

impl Timer {
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Self {
        let count = 2 * STAGES.len() as u32;
        let size = u64::from(count) * 8;
        Self {
            queries: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("stage timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count,
            }),
            resolve: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamp resolve"),
                size,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            staging: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamp staging"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            period_ns: f64::from(queue.get_timestamp_period()),
        }
    }

    pub fn writes(&self, stage: usize) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.queries,
            beginning_of_pass_write_index: Some(2 * stage as u32),
            end_of_pass_write_index: Some(2 * stage as u32 + 1),
        }
    }

    pub fn render_writes(&self, stage: usize) -> wgpu::RenderPassTimestampWrites<'_> {
        wgpu::RenderPassTimestampWrites {
            query_set: &self.queries,
            beginning_of_pass_write_index: Some(2 * stage as u32),
            end_of_pass_write_index: Some(2 * stage as u32 + 1),
        }
    }

    pub fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.resolve_query_set(&self.queries, 0..2 * STAGES.len() as u32, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.staging, 0, self.resolve.size());
    }

    pub fn times(&self, raw: &[u8]) -> StageTimes {
        let ticks: &[u64] = bytemuck::cast_slice(raw);
        let mut t = StageTimes::default();
        for s in 0..STAGES.len() {
            t.ms[s] = ticks[2 * s + 1].wrapping_sub(ticks[2 * s]) as f64 * self.period_ns / 1e6;
        }
        t
    }
}
