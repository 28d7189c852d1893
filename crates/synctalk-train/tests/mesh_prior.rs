//! The mesh prior's tracked face on the real 6-frame fixture
//! (`synctalk_testdata::dataset_mini()`): the landmarks taken back into
//! head space land on their image positions again through the frame's
//! view, at the canonical face's depth. (The fit itself: the unit tests of
//! `train/mesh_prior.rs` on known linear faces; six frames are too few to
//! predict a seventh from 52 channels, so its held-out error is measured on
//! a whole clip, docs/trainer.md.)

use synctalk_testdata::dataset_mini;
use synctalk_train::dataset::Dataset;
use synctalk_train::train::mesh_prior::head_space_landmarks;
use synctalk_train::train::TrainData;

fn distance(p: &[f64; 3], q: &[f64; 3]) -> f64 {
    (0..3).map(|k| (p[k] - q[k]).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn head_space_landmarks_project_back_onto_the_image_at_the_face_s_depth() {
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
        // On the ray and at the right depth: the tracked face lies on the
        // canonical one (expression moves it by millimetres).
        let mut d: Vec<f64> = hs
            .iter()
            .zip(&ds.canonical_face)
            .map(|(p, c)| distance(p, &c.map(f64::from)))
            .collect();
        d.sort_by(f64::total_cmp);
        let (median, p95) = (d[d.len() / 2], d[d.len() * 95 / 100]);
        eprintln!("frame {t}: from the canonical face, median {median:.3} cm, 95th percentile {p95:.3} cm");
        assert!(
            median < 0.3 && p95 < 1.0,
            "frame {t}: median {median} cm, p95 {p95} cm"
        );
    }
    assert!(
        worst < 1e-3,
        "a landmark lands {worst} px from where it was tracked"
    );
}

/// The face's normals point out of the face: at the nose tip (MediaPipe's
/// landmark 1), the chin (152) and the cheeks (50, 280) toward the camera
/// of every frame.
#[test]
fn the_tracked_face_s_normals_face_the_camera() {
    use synctalk_train::train::mesh_prior::FaceMotion;
    let ds = Dataset::open(&dataset_mini()).unwrap_or_else(|e| panic!("{e}"));
    let lms: Vec<Vec<[f64; 3]>> = (0..ds.frame_count())
        .map(|t| head_space_landmarks(&ds, t).expect("landmarks"))
        .collect();
    let z = vec![vec![0.0]; lms.len()];
    let motion = FaceMotion::fit(&lms, &z, 1.0).expect("fit");
    let normals = motion.normals();
    for t in 0..ds.frame_count() {
        let v = ds.view(t);
        for l in [1usize, 152, 50, 280] {
            // Camera space looks down +z: toward the camera is -z.
            let toward = -(v.rotation * glam::DVec3::from(normals[l])).z;
            assert!(toward > 0.3, "frame {t}, landmark {l}: {toward}");
        }
    }
}
