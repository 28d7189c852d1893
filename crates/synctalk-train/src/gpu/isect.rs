//! The renderer's tile intersection layout, built on the CPU: what
//! synctalk-render's emit.wgsl and its stable radix sort by tile produce, plus
//! the per-splat emit offsets the backward's record slots come from.
//!
//! Emit visits splats front to back and writes splat `g`'s intersections at
//! `offsets[g] .. offsets[g] + area(rect[g])`, one per tile of its rectangle
//! in row-major order (`offsets` is the exclusive prefix sum of the areas in
//! depth order). The stable sort by tile then gives each tile a run
//! (`ranges`) of splat indices (`isect_vals`) in depth order.

use super::GpuError;

/// The largest tile grid side the packed rectangles can hold.
pub const MAX_TILES: u32 = 0xffff;

/// Tile intersections of a set of splats, in the renderer's buffer layouts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intersections {
    /// Tiles across.
    pub tiles_x: u32,
    /// Tiles down.
    pub tiles_y: u32,
    /// Per tile (row-major), the start and end of its run in `isect_vals`;
    /// `[0, 0]` for a tile no splat touches.
    pub ranges: Vec<[u32; 2]>,
    /// Splat indices, sorted by tile, each tile's run in depth order.
    pub isect_vals: Vec<u32>,
    /// Per splat, its tile rectangle packed as the renderer's `tile_rects`:
    /// `(x0 | y0 << 16, x1 | y1 << 16)` for `[x0, x1) × [y0, y1)`.
    pub rects: Vec<[u32; 2]>,
    /// Per splat, the position of its first intersection in emit order
    /// (before the sort): the first of its records.
    pub offsets: Vec<u32>,
}

/// Packs the tile rectangle `[x0, y0, x1, y1)` as the renderer does.
pub fn pack_rect(rect: [u32; 4]) -> [u32; 2] {
    [rect[0] | rect[1] << 16, rect[2] | rect[3] << 16]
}

/// Unpacks [`pack_rect`].
pub fn unpack_rect(packed: [u32; 2]) -> [u32; 4] {
    [
        packed[0] & 0xffff,
        packed[0] >> 16,
        packed[1] & 0xffff,
        packed[1] >> 16,
    ]
}

impl Intersections {
    /// The intersections of splats with tile rectangles `rects`
    /// (`[x0, y0, x1, y1)`, indexed like the splats), blended in the order
    /// `depth_order` (splat indices, front to back; every splat exactly
    /// once), on a `tiles_x` × `tiles_y` grid.
    pub fn build(
        rects: &[[u32; 4]],
        depth_order: &[u32],
        tiles_x: u32,
        tiles_y: u32,
    ) -> Result<Self, GpuError> {
        let n = rects.len();
        if depth_order.len() != n {
            return Err(GpuError::Length {
                what: "depth order",
                got: depth_order.len(),
                expected: n,
            });
        }
        if tiles_x > MAX_TILES || tiles_y > MAX_TILES {
            return Err(GpuError::TooLarge {
                what: "tile grid side",
                got: u64::from(tiles_x.max(tiles_y)),
                max: u64::from(MAX_TILES),
            });
        }
        let mut seen = vec![false; n];
        for &g in depth_order {
            match seen.get_mut(g as usize) {
                Some(s) if !*s => *s = true,
                _ => return Err(GpuError::DepthOrder(g)),
            }
        }
        for (g, r) in rects.iter().enumerate() {
            if r[0] > r[2] || r[1] > r[3] || r[2] > tiles_x || r[3] > tiles_y {
                return Err(GpuError::Rect { splat: g, rect: *r });
            }
        }
        // Emit: per splat in depth order, its tiles row-major.
        let mut offsets = vec![0u32; n];
        let mut keys: Vec<u32> = Vec::new();
        let mut vals: Vec<u32> = Vec::new();
        for &g in depth_order {
            let r = rects[g as usize];
            offsets[g as usize] = u32::try_from(keys.len()).map_err(|_| GpuError::TooLarge {
                what: "intersections",
                got: keys.len() as u64,
                max: u64::from(u32::MAX),
            })?;
            for ty in r[1]..r[3] {
                for tx in r[0]..r[2] {
                    keys.push(ty * tiles_x + tx);
                    vals.push(g);
                }
            }
        }
        // Stable counting sort by tile.
        let tiles = (tiles_x * tiles_y) as usize;
        let mut counts = vec![0u32; tiles];
        for &k in &keys {
            counts[k as usize] += 1;
        }
        let mut ranges = vec![[0u32; 2]; tiles];
        let mut at = 0u32;
        for (range, &c) in ranges.iter_mut().zip(&counts) {
            if c > 0 {
                *range = [at, at + c];
            }
            at += c;
        }
        let mut fill: Vec<u32> = ranges.iter().map(|r| r[0]).collect();
        let mut isect_vals = vec![0u32; keys.len()];
        for (&k, &g) in keys.iter().zip(&vals) {
            isect_vals[fill[k as usize] as usize] = g;
            fill[k as usize] += 1;
        }
        Ok(Self {
            tiles_x,
            tiles_y,
            ranges,
            isect_vals,
            rects: rects.iter().map(|&r| pack_rect(r)).collect(),
            offsets,
        })
    }

    /// The tile-sorted list of tile `(tx, ty)`: splat indices in depth order.
    pub fn tile(&self, tx: u32, ty: u32) -> &[u32] {
        let [a, b] = self.ranges[(ty * self.tiles_x + tx) as usize];
        &self.isect_vals[a as usize..b as usize]
    }

    /// Number of intersections (and of gradient records).
    pub fn len(&self) -> usize {
        self.isect_vals.len()
    }

    /// Whether no splat touches any tile.
    pub fn is_empty(&self) -> bool {
        self.isect_vals.is_empty()
    }
}
