//! The scatter of emit offsets from depth rank to splat against the
//! CPU-built layout.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_train::gpu::{splat_offsets, unpack_rect, Intersections, SplatOffsets};

use crate::scene::device;

#[test]
fn offsets_by_splat_match_the_emit_layout() {
    let (device, queue) = device();
    let kernel = SplatOffsets::new(&device);
    let mut rng = Pcg64::seed_from_u64(41);
    let n = 700usize;
    let (tiles_x, tiles_y) = (9, 7);
    let rects: Vec<[u32; 4]> = (0..n)
        .map(|_| {
            let x0 = rng.random_range(0..tiles_x);
            let y0 = rng.random_range(0..tiles_y);
            [
                x0,
                y0,
                rng.random_range(x0 + 1..=tiles_x),
                rng.random_range(y0 + 1..=tiles_y),
            ]
        })
        .collect();
    // A random depth order, as the renderer's sort leaves it.
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let isect = Intersections::build(&rects, &order, tiles_x, tiles_y).expect("build");
    // What count_tiles + the prefix sum give: per rank, the areas before it.
    let mut by_rank = Vec::with_capacity(n);
    let mut total = 0u32;
    for &g in &order {
        by_rank.push(total);
        let [x0, y0, x1, y1] = unpack_rect(isect.rects[g as usize]);
        total += (x1 - x0) * (y1 - y0);
    }
    assert_eq!(total as usize, isect.len());
    // Ranks past the visible count hold stale values and must be ignored.
    let capacity = n + 300;
    let mut depth_vals = order.clone();
    depth_vals.resize(capacity, 0);
    by_rank.resize(capacity, u32::MAX);
    let got = splat_offsets(&device, &queue, &kernel, n as u32, &depth_vals, &by_rank, n)
        .expect("splat_offsets");
    assert_eq!(got, isect.offsets);
}
