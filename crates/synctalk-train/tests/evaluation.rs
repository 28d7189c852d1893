//! The held-out evaluation's parts against the toolchain's, on the 6-frame
//! fixture (`expected/evaluation.json`, written by its
//! `make_evaluation.py`): the pose-extrapolation split
//! (`dataset::holdout` against `holdout.py`) and the neck band
//! (`eval::neck` against `metrics.neck_strip`), and PSNR/SSIM on it.

use serde_json::Value;
use synctalk_testdata::dataset_mini;
use synctalk_train::dataset::{Dataset, Holdout};
use synctalk_train::eval::{self, neck};

/// Both sides compute in f64 with the same operations: the agreement is to
/// rounding (measured: equal to the last bits on most values).
const TOL: f64 = 1e-9;

fn expected() -> Value {
    let path = dataset_mini().join("expected/evaluation.json");
    serde_json::from_slice(&std::fs::read(path).expect("evaluation.json")).expect("json")
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= TOL * (1.0 + b.abs()),
        "{what}: {a} against the toolchain's {b}"
    );
}

#[test]
fn pose_extrapolation_split_is_the_toolchains() {
    let ex = expected();
    let mut ds = Dataset::open(&dataset_mini()).expect("fixture");
    for (t, (a, b)) in ds
        .pose_distances()
        .iter()
        .zip(f64s(&ex["pose_distances"]))
        .enumerate()
    {
        close(*a, b, &format!("pose distance of frame {t}"));
    }
    let (train, val) = (ds.train.clone(), ds.val.clone());
    ds.hold_out(Holdout::Dataset);
    assert_eq!(
        (&ds.train, &ds.val),
        (&train, &val),
        "dataset.json's split kept"
    );
    ds.hold_out(Holdout::FarthestPoses);
    let frames = |v: &Value| -> Vec<usize> { f64s(v).into_iter().map(|x| x as usize).collect() };
    assert_eq!(ds.val, frames(&ex["poses_split"]["val"]));
    assert_eq!(ds.train, frames(&ex["poses_split"]["train"]));
    // The farthest frame is held out, and every frame is in one set.
    let d = ds.pose_distances();
    let far = (0..d.len()).max_by(|&a, &b| d[a].total_cmp(&d[b])).unwrap();
    assert!(ds.val.contains(&far));
    assert_eq!(ds.train.len() + ds.val.len(), ds.frame_count());
}

#[test]
fn neck_band_is_the_toolchains() {
    let ex = expected();
    let ds = Dataset::open(&dataset_mini()).expect("fixture");
    let (w, h) = (ds.width as usize, ds.height as usize);
    // make_evaluation.py's pattern: (7 x + 13 y + 50 c) mod 256.
    let pattern = |i: usize| {
        let (x, y) = (i % w, i / w);
        [0, 1, 2].map(|c| ((7 * x + 13 * y + 50 * c) % 256) as u8)
    };
    let shift = f64s(&ex["shift"]);
    for row in ex["neck"].as_array().expect("neck") {
        let t = row["frame"].as_u64().expect("frame") as usize;
        let jaw = neck::jaw_of(ds.landmarks_of(t));
        for (p, q) in jaw.iter().zip(row["jaw"].as_array().expect("jaw")) {
            let q = f64s(q);
            close(p[0], q[0], "jaw x");
            close(p[1], q[1], "jaw y");
        }
        let size = neck::band_size(&jaw, ds.face_boxes[t]);
        let want = f64s(&row["size"]);
        assert_eq!(
            [size.0 as f64, size.1 as f64],
            [want[0], want[1]],
            "frame {t}'s band size"
        );
        let moved_jaw: Vec<[f64; 2]> = jaw
            .iter()
            .map(|p| [p[0] + shift[0], p[1] + shift[1]])
            .collect();
        let own = neck::neck_strip(pattern, w, h, &jaw, size);
        let moved = neck::neck_strip(pattern, w, h, &moved_jaw, size);
        for (strip, key) in [(&own, "strip"), (&moved, "moved")] {
            let st = &row[key];
            for c in 0..3 {
                let sum: f64 = strip.data.iter().map(|p| p[c]).sum();
                let sq: f64 = strip.data.iter().map(|p| p[c] * p[c]).sum();
                close(
                    sum,
                    f64s(&st["sum"])[c],
                    &format!("frame {t} {key} sum[{c}]"),
                );
                close(
                    sq,
                    f64s(&st["sum_sq"])[c],
                    &format!("frame {t} {key} sum_sq[{c}]"),
                );
            }
            for (k, v) in f64s(&st["picks"]).iter().zip(f64s(&st["values"])) {
                let k = *k as usize;
                close(
                    strip.data[k / 3][k % 3],
                    v,
                    &format!("frame {t} {key} value {k}"),
                );
            }
        }
        let s = &row["moved_vs_own"];
        close(
            eval::psnr(&moved, &own),
            s["psnr"].as_f64().unwrap(),
            "PSNR",
        );
        close(
            eval::ssim(&moved, &own),
            s["ssim"].as_f64().unwrap(),
            "SSIM",
        );
    }
}

#[test]
fn jaw_line_is_the_lowest_point_of_the_polyline() {
    // A V whose arms overlap in x between 4 and 6: the lower arm counts.
    let jaw = [[0.0, 0.0], [6.0, 6.0], [4.0, 2.0], [10.0, 2.0]];
    assert_eq!(neck::jaw_line_at(&jaw, 5.0), 5.0);
    assert_eq!(neck::jaw_line_at(&jaw, 8.0), 2.0);
    // Outside every segment: the nearest point's height.
    assert_eq!(neck::jaw_line_at(&jaw, 12.0), 2.0);
    // A band reaching past the image is clamped to its edge.
    let strip = neck::neck_strip(|_| [9, 9, 9], 4, 4, &jaw, (3, 20));
    assert!(strip.data.iter().all(|p| *p == [9.0; 3]));
}
