//! The mesh prior's tracked face on the real 6-frame fixture
//! (`synctalk_testdata::dataset_mini()`): the landmarks taken back into
//! head space land on their image positions again through the frame's
//! view, and the face fitted on the conditions moves them.

use synctalk_testdata::dataset_mini;
use synctalk_train::cpu::Normalizer;
use synctalk_train::dataset::Dataset;
use synctalk_train::train::mesh_prior::{head_space_landmarks, FaceMotion};
use synctalk_train::train::TrainData;

#[test]
fn head_space_landmarks_project_back_onto_the_image() {
    let ds = Dataset::open(&dataset_mini()).unwrap_or_else(|e| panic!("{e}"));
    let mut worst = 0f64;
    for t in 0..ds.frame_count() {
        let hs = head_space_landmarks(&ds, t).expect("landmarks");
        let v = ds.view(t);
        for (p, l) in hs.iter().zip(ds.landmarks_of(t)) {
            let c = v.rotation * glam::DVec3::from(*p) + v.translation;
            let u = v.fx * c.x / c.z + v.cx;
            let w = v.fy * c.y / c.z + v.cy;
            worst = worst
                .max((u - f64::from(l[0])).abs())
                .max((w - f64::from(l[1])).abs());
        }
    }
    assert!(
        worst < 1e-3,
        "a landmark lands {worst} px from where it was tracked"
    );
}

#[test]
fn the_fitted_face_follows_the_conditions_of_its_frames() {
    let ds = Dataset::open(&dataset_mini()).unwrap_or_else(|e| panic!("{e}"));
    let frames: Vec<usize> = (0..ds.frame_count()).collect();
    let conds: Vec<Vec<f64>> = frames
        .iter()
        .map(|&t| ds.condition(t).iter().map(|&v| f64::from(v)).collect())
        .collect();
    let norm = Normalizer::fit(&conds).expect("normaliser");
    let z: Vec<Vec<f64>> = conds.iter().map(|c| norm.apply(c)).collect();
    let lms: Vec<Vec<[f64; 3]>> = frames
        .iter()
        .map(|&t| head_space_landmarks(&ds, t).expect("lm"))
        .collect();
    let fit = FaceMotion::fit(&lms, &z, 0.1).expect("fit");
    // Fewer frames than channels: the ridge picks the smallest D that fits,
    // which still follows each frame far better than the rest shape does.
    let err = |a: &[[f64; 3]], b: &[[f64; 3]]| {
        a.iter()
            .zip(b)
            .map(|(p, q)| (0..3).map(|k| (p[k] - q[k]).powi(2)).sum::<f64>().sqrt())
            .sum::<f64>()
            / a.len() as f64
    };
    let (mut fitted, mut rest) = (0.0, 0.0);
    for (zf, lm) in z.iter().zip(&lms) {
        fitted += err(&fit.landmarks(zf), lm);
        rest += err(&fit.rest, lm);
    }
    assert!(
        fitted < 0.5 * rest,
        "fitted {fitted} cm against the rest shape's {rest}"
    );
}
