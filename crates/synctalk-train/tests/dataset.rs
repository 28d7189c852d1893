//! The dataset module against torch_trainer.py's `load_dataset` on the 6-frame
//! fixture (`synctalk_testdata::dataset_mini()`, its `expected/` written by
//! its `make_expected.py`), `initial_points`' properties, and the errors of
//! broken datasets.

use std::path::{Path, PathBuf};

use synctalk_testdata::{dataset_mini, TempDir};
use synctalk_train::dataset::{init, initial_points, masks, Dataset, DatasetError};

/// The least agreement (fraction of pixels) of each mask bit plane with
/// torch_trainer.py's: all of them. OpenCV's morphology, polygon fill and labelled
/// distance transform are reproduced exactly (measured: every plane of
/// every frame equal), so any difference is a regression.
const MASK_AGREEMENT: f64 = 1.0;
/// Likewise for the extended torso layer (RGBA equal) and `under`
/// (measured: equal).
const LAYER_AGREEMENT: f64 = 1.0;
/// zune-jpeg against OpenCV's libjpeg-turbo (chroma upsampling and colour
/// conversion round differently), on 128 × 128 around the mouth: the least
/// fraction of pixels decoded identically (measured 0.726 to 0.853), the
/// largest channel difference (measured 3 to 4) and the largest mean one
/// (measured 0.11 to 0.21 of 255).
const JPEG_EXACT: f64 = 0.70;
const JPEG_WORST: u8 = 4;
const JPEG_MEAN: f64 = 0.25;
/// `initial_points` against torch_trainer.py's over 16 seeds: the largest
/// difference of the mean (cm), of the standard deviation (cm) per axis and
/// of the mean colour (measured 0.046 cm, 0.027 cm and 0.0007).
const MEAN_CM: f64 = 0.15;
const STD_CM: f64 = 0.1;
const COLOUR: f64 = 0.003;

fn expected() -> serde_json::Value {
    let path = dataset_mini().join("expected/expected.json");
    serde_json::from_slice(&std::fs::read(&path).expect("expected.json")).expect("expected.json")
}

/// An 8-bit PNG's samples.
fn read_png(path: &Path) -> Vec<u8> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("png");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png");
    buf.truncate(info.buffer_size());
    buf
}

/// `make_expected.py`'s checksum: the sum of the bytes and the sum of
/// (index + 1) × byte.
fn checksum(bytes: impl Iterator<Item = u8>) -> [u64; 2] {
    bytes.enumerate().fold([0u64; 2], |[s, w], (i, b)| {
        [
            s + u64::from(b),
            w.wrapping_add((i as u64 + 1) * u64::from(b)),
        ]
    })
}

fn json_u64s(v: &serde_json::Value) -> Vec<u64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("integer"))
        .collect()
}

fn open_fixture() -> Dataset {
    Dataset::open(&dataset_mini()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn loads_as_train_py() {
    let ds = open_fixture();
    let ex = expected();
    let (w, h) = (ds.width as usize, ds.height as usize);
    assert_eq!(
        (w as u64, h as u64),
        (
            ex["width"].as_u64().unwrap(),
            ex["height"].as_u64().unwrap()
        )
    );
    assert_eq!(ds.frame_count(), 6);
    assert_eq!(ds.fps, ex["fps"].as_f64().unwrap());
    let k = ds.intrinsics();
    for (i, row) in ex["K"].as_array().unwrap().iter().enumerate() {
        for (j, v) in row.as_array().unwrap().iter().enumerate() {
            assert_eq!(k[i][j], v.as_f64().unwrap(), "K[{i}][{j}]");
        }
    }
    assert_eq!(
        json_u64s(&ex["train"]),
        [ds.train[0] as u64, *ds.train.last().unwrap() as u64 + 1]
    );
    assert_eq!(
        json_u64s(&ex["val"]),
        [ds.val[0] as u64, *ds.val.last().unwrap() as u64 + 1]
    );
    let names: Vec<String> = serde_json::from_value(ex["blendshape_names"].clone()).unwrap();
    assert_eq!(ds.blendshape_names, names);
    assert_eq!(ds.blendshapes.len(), 6 * 52);
    assert_eq!(ds.landmarks_per_frame, 478);
    assert_eq!(ds.canonical_face.len(), 478);
    assert_eq!(ds.head_to_camera.len(), 6);
    assert!(ds.source.contains("WDA_KatieHill_000"));
    assert!(ds.fingerprint.is_some());

    // Face boxes: exactly.
    for (t, b) in ex["face_boxes"].as_array().unwrap().iter().enumerate() {
        let want: Vec<u32> = json_u64s(b).iter().map(|&v| v as u32).collect();
        assert_eq!(ds.face_boxes[t].to_vec(), want, "frame {t}'s face box");
    }

    let mut report = Vec::new();
    for (t, frame) in ds.frames.iter().enumerate() {
        // The frame: zune-jpeg against OpenCV (libjpeg-turbo), whose chroma
        // upsampling and colour conversion round differently: compared on
        // the 128 × 128 around the mouth that make_expected.py keeps.
        let crop = ex["frame_crop_size"].as_u64().unwrap() as usize;
        let [x0, y0] = json_u64s(&ex["frame_crops"][t])[..] else {
            panic!("frame_crops")
        };
        let py_rgb = read_png(&dataset_mini().join(format!("expected/frames/{t:06}.png")));
        assert_eq!(py_rgb.len(), 3 * crop * crop);
        let (mut exact, mut worst, mut sum) = (0usize, 0u8, 0u64);
        for y in 0..crop {
            for x in 0..crop {
                let ours = frame.rgb((y0 as usize + y) * w + x0 as usize + x);
                let theirs = &py_rgb[3 * (y * crop + x)..3 * (y * crop + x) + 3];
                let d: Vec<u8> = (0..3).map(|c| ours[c].abs_diff(theirs[c])).collect();
                exact += usize::from(d.iter().all(|&v| v == 0));
                worst = worst.max(*d.iter().max().unwrap());
                sum += d.iter().map(|&v| u64::from(v)).sum::<u64>();
            }
        }
        let exact = exact as f64 / (crop * crop) as f64;
        let mean = sum as f64 / (3 * crop * crop) as f64;
        let same_frame = checksum((0..w * h).flat_map(|i| frame.rgb(i))).to_vec()
            == json_u64s(&ex["frame_checksums"][t]);
        report.push(format!("frame {t} JPEG (mouth crop): {exact:.4} of pixels exact, worst {worst}, mean |d| {mean:.4}; whole frame identical: {same_frame}"));
        assert!(
            exact >= JPEG_EXACT && worst <= JPEG_WORST && mean <= JPEG_MEAN,
            "frame {t}: the JPEG decodes unlike OpenCV's: {exact:.4} of pixels exact, worst {worst}, mean |d| {mean:.4}"
        );

        // Mask bits, plane by plane.
        let py_mask = read_png(&dataset_mini().join(format!("expected/masks/{t:06}.png")));
        assert_eq!(py_mask.len(), w * h);
        for (bit, name) in [
            (masks::HEAD, "head"),
            (masks::HEAD_INTERIOR, "interior"),
            (masks::FAR_OUTSIDE, "far outside"),
            (masks::MOUTH, "mouth"),
        ] {
            let same = (0..w * h)
                .filter(|&i| (frame.mask(i) & bit) == (py_mask[i] & bit))
                .count();
            let agree = same as f64 / (w * h) as f64;
            report.push(format!("frame {t} {name}: {agree:.6}"));
            assert!(
                agree >= MASK_AGREEMENT,
                "frame {t}, mask bit {name}: {agree:.6} of pixels agree with torch_trainer.py ({} differ)",
                w * h - same
            );
        }

        // The extended torso.
        let py_torso = read_png(&dataset_mini().join(format!("expected/torso/{t:06}.png")));
        assert_eq!(py_torso.len(), 4 * w * h);
        let same = (0..w * h)
            .filter(|&i| frame.torso[i] == py_torso[4 * i..4 * i + 4])
            .count();
        let agree = same as f64 / (w * h) as f64;
        report.push(format!("frame {t} torso: {agree:.6}"));
        assert!(
            agree >= LAYER_AGREEMENT,
            "frame {t}: extended torso, {agree:.6} of pixels agree with torch_trainer.py ({} differ)",
            w * h - same
        );

        // `under`, rebuilt from torch_trainer.py's torso and the plate (checked
        // against torch_trainer.py's own by checksum first).
        let py_under: Vec<[u8; 3]> = (0..w * h)
            .map(|i| {
                let p = &py_torso[4 * i..4 * i + 4];
                if p[3] > 0 {
                    [p[0], p[1], p[2]]
                } else {
                    ds.background[i]
                }
            })
            .collect();
        let rebuilt = checksum(py_under.iter().flatten().copied());
        assert_eq!(
            rebuilt.to_vec(),
            json_u64s(&ex["under_checksums"][t]),
            "frame {t}: rebuilt under"
        );
        let same = (0..w * h)
            .filter(|&i| frame.under_rgb(i) == py_under[i])
            .count();
        let agree = same as f64 / (w * h) as f64;
        report.push(format!("frame {t} under: {agree:.6}"));
        assert!(
            agree >= LAYER_AGREEMENT,
            "frame {t}: under, {agree:.6} of pixels agree with torch_trainer.py ({} differ)",
            w * h - same
        );
        assert!(frame.under.iter().all(|p| p >> 24 == 255));
    }
    eprintln!("agreement with torch_trainer.py:\n{}", report.join("\n"));
}

/// Distance (cm) from `p` to the nearest canonical-face point.
fn nearest(ds: &Dataset, p: [f32; 3]) -> f32 {
    ds.canonical_face
        .iter()
        .map(|c| ((c[0] - p[0]).powi(2) + (c[1] - p[1]).powi(2) + (c[2] - p[2]).powi(2)).sqrt())
        .fold(f32::INFINITY, f32::min)
}

#[test]
fn initial_points_lie_on_the_head() {
    let ds = open_fixture();
    let n = 4000;
    let (pts, cols) = initial_points(&ds, n, 7);
    let canon = ds.canonical_face.len();
    // 8 picks of the 5 training frames, n / 8 head pixels each.
    assert_eq!(pts.len(), 8 * (n / 8) + canon);
    assert_eq!(cols.len(), pts.len());
    assert!(pts.iter().flatten().all(|v| v.is_finite()));
    assert!(cols.iter().flatten().all(|&c| (0.0..=1.0).contains(&c)));
    assert_eq!(&pts[pts.len() - canon..], &ds.canonical_face[..]);
    assert!(cols[cols.len() - canon..].iter().all(|&c| c == [0.5; 3]));

    // Deterministic for a seed, different for another.
    assert_eq!(initial_points(&ds, n, 7), (pts.clone(), cols.clone()));
    assert_ne!(initial_points(&ds, n, 8).0, pts);

    // The first pick is training frame 0. Projected back into it, its
    // points land on head pixels; those inside the projected canonical
    // face lie on the face (within the mesh's spacing of a vertex), the
    // others on the shell 2 cm before to 8 cm behind the face's centre.
    let m = &ds.head_to_camera[0];
    let (w, h) = (ds.width as usize, ds.height as usize);
    let to_camera = |p: [f32; 3]| -> [f64; 3] {
        let p = p.map(f64::from);
        std::array::from_fn(|i| m[i][0] * p[0] + m[i][1] * p[1] + m[i][2] * p[2] + m[i][3])
    };
    let project = |c: [f64; 3]| [ds.fx * c[0] / c[2] + ds.cx, ds.fy * c[1] / c[2] + ds.cy];
    let face_proj: Vec<[f64; 2]> = ds
        .canonical_face
        .iter()
        .map(|&p| project(to_camera(p)))
        .collect();
    let hull = init::Linear::new(&face_proj);
    let zeros = vec![0.0; face_proj.len()];
    let per = n / 8;
    let (mut on_head, mut face, mut shell) = (0, Vec::new(), Vec::new());
    for &p in &pts[..per] {
        let c = to_camera(p);
        let [x, y] = project(c);
        let inside = x >= 0.0 && y >= 0.0 && (x as usize) < w && (y as usize) < h;
        on_head += usize::from(
            inside && ds.frames[0].mask(y as usize * w + x as usize) & masks::HEAD != 0,
        );
        if hull.at([x, y], &zeros).is_some() {
            face.push(nearest(&ds, p));
        } else {
            shell.push(c[2] - m[2][3]);
        }
    }
    let on_head = on_head as f64 / per as f64;
    face.sort_by(f32::total_cmp);
    let (face_median, face_worst) = (face[face.len() / 2], face[face.len() - 1]);
    eprintln!(
        "initial points of frame 0: {on_head:.4} reproject onto its head mask; {} on the face, \
         {face_median:.3} cm median and {face_worst:.3} cm worst from a canonical vertex; {} on the shell",
        face.len(),
        shell.len()
    );
    assert!(
        on_head > 0.999,
        "{on_head:.4} of frame 0's points reproject onto its head"
    );
    assert!(
        face.len() > per / 5 && shell.len() > per / 5,
        "{} face, {} shell",
        face.len(),
        shell.len()
    );
    assert!(
        face_median < 0.75 && face_worst < 2.0,
        "face points {face_median} cm (median), {face_worst} cm (worst) from the canonical face"
    );
    assert!(
        shell
            .iter()
            .all(|&dz| (-2.0 - 1e-3..8.0 + 1e-3).contains(&dz)),
        "shell depths"
    );
}

/// The fixture copied to a temporary folder, to be broken.
fn copy_fixture(label: &str) -> TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let name = e.file_name();
            if name == "expected" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &to.join(&name));
            } else {
                std::fs::copy(e.path(), to.join(&name)).unwrap();
            }
        }
    }
    let dir = TempDir::new(label);
    copy(&dataset_mini(), dir.path());
    dir
}

/// Opens `dir`, expecting an error about `file` (relative to it) whose
/// message contains `needle`.
fn expect_error(dir: &TempDir, file: &str, needle: &str) -> DatasetError {
    let err = Dataset::open(dir.path()).expect_err("a broken dataset opened");
    let msg = err.to_string();
    let want: PathBuf = if file.is_empty() {
        dir.path().to_path_buf()
    } else {
        dir.join(file)
    };
    assert_eq!(err.path(), want, "{msg}");
    assert!(msg.contains(&want.display().to_string()), "{msg}");
    assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    err
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn missing_or_foreign_dataset_json() {
    let dir = copy_fixture("ds-meta");
    std::fs::remove_file(dir.join("dataset.json")).unwrap();
    let err = expect_error(&dir, "", "no dataset.json");
    assert!(matches!(err, DatasetError::NotADataset { .. }));

    let dir = copy_fixture("ds-version");
    edit_json(&dir.join("dataset.json"), |v| v["version"] = 2.into());
    expect_error(&dir, "dataset.json", "not a synctalk-dataset v1");
    edit_json(&dir.join("dataset.json"), |v| {
        v["version"] = 1.into();
        v["format"] = "nerf".into();
    });
    expect_error(&dir, "dataset.json", "not a synctalk-dataset v1");

    let dir = copy_fixture("ds-split");
    edit_json(&dir.join("dataset.json"), |v| {
        v["split"]["val"] = serde_json::json!([5, 7])
    });
    expect_error(&dir, "dataset.json", "split val");
    let dir = copy_fixture("ds-transforms");
    edit_json(&dir.join("transforms.json"), |v| {
        v["frames"].as_array_mut().unwrap().pop();
    });
    expect_error(&dir, "transforms.json", "5 frames, dataset.json says 6");
    std::fs::write(dir.join("dataset.json"), "{\"format\": ").unwrap();
    expect_error(&dir, "dataset.json", "EOF");
}

/// A 16 × 8 JPEG (cv2.imencode, quality 50), hex.
const SMALL_JPEG: &str = concat!(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a1816",
    "16183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c6567",
    "63ffdb0043011112121815182f1a1a2f63423842636363636363636363636363636363636363636363636363",
    "6363636363636363636363636363636363636363636363636363ffc000110800080010030122000211010311",
    "01ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303",
    "020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f024",
    "33627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566",
    "6768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7",
    "b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc400",
    "1f0100030101010101010101010000000000000102030405060708090a0bffc400b511000201020404030407",
    "05040400010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a",
    "162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a63646566676869",
    "6a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9",
    "bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c030100",
    "02110311003f00c5ae668a2b970dd4f7b3afb1f3fd0fffd9",
);

#[test]
fn broken_images() {
    let dir = copy_fixture("ds-jpeg");
    let jpg = dir.join("frames/000003.jpg");
    let bytes = std::fs::read(&jpg).unwrap();
    std::fs::write(&jpg, &bytes[..bytes.len() / 2]).unwrap();
    let err = expect_error(&dir, "frames/000003.jpg", "JPEG");
    assert!(matches!(err, DatasetError::Image { .. }), "{err}");

    // A frame of the wrong size.
    let small: Vec<u8> = (0..SMALL_JPEG.len() / 2)
        .map(|i| u8::from_str_radix(&SMALL_JPEG[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    std::fs::write(&jpg, small).unwrap();
    expect_error(&dir, "frames/000003.jpg", "16x8, expected 512x512");

    let dir = copy_fixture("ds-missing");
    std::fs::remove_file(dir.join("torso/000002.png")).unwrap();
    expect_error(&dir, "torso/000002.png", "No such file");

    // A frame of the wrong size (a 1×1 PNG where a torso layer should be).
    let dir = copy_fixture("ds-size");
    let mut small = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut small, 1, 1);
        enc.set_color(png::ColorType::Rgba);
        enc.write_header()
            .unwrap()
            .write_image_data(&[0; 4])
            .unwrap();
    }
    std::fs::write(dir.join("torso/000004.png"), &small).unwrap();
    expect_error(&dir, "torso/000004.png", "1x1, expected 512x512");
    // The background plate too.
    std::fs::write(dir.join("background.png"), &small).unwrap();
    expect_error(&dir, "background.png", "1x1, expected 512x512");

    // Labels that are not 8-bit grey.
    let dir = copy_fixture("ds-labels");
    std::fs::copy(dir.join("torso/000001.png"), dir.join("parsing/000001.png")).unwrap();
    expect_error(&dir, "parsing/000001.png", "expected 8-bit grey labels");
}

/// A `.npy` file holding `values` as `descr` with the given shape.
fn write_npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(data);
    std::fs::write(path, b).unwrap();
}

#[test]
fn broken_arrays() {
    let dir = copy_fixture("ds-npy");
    // Wrong shape: 5 frames of landmarks for 6 frames.
    write_npy(
        &dir.join("landmarks.npy"),
        "<f4",
        "(5, 478, 3)",
        &vec![0; 5 * 478 * 3 * 4],
    );
    expect_error(&dir, "landmarks.npy", "expected [6, _, _]");
    // Wrong dtype.
    write_npy(
        &dir.join("landmarks.npy"),
        ">f4",
        "(6, 478, 3)",
        &vec![0; 6 * 478 * 3 * 4],
    );
    expect_error(&dir, "landmarks.npy", "unsupported dtype");
    // Too few landmarks for the lips.
    write_npy(
        &dir.join("landmarks.npy"),
        "<f4",
        "(6, 68, 3)",
        &vec![0; 6 * 68 * 3 * 4],
    );
    expect_error(&dir, "landmarks.npy", "expected [6, 478, 3]");
    // Truncated.
    let src = std::fs::read(dataset_mini().join("landmarks.npy")).unwrap();
    std::fs::write(dir.join("landmarks.npy"), &src[..src.len() - 7]).unwrap();
    expect_error(&dir, "landmarks.npy", "truncated");
    std::fs::write(dir.join("landmarks.npy"), &src).unwrap();

    write_npy(
        &dir.join("canonical_face.npy"),
        "<f8",
        "(478, 2)",
        &vec![0; 478 * 2 * 8],
    );
    expect_error(&dir, "canonical_face.npy", "expected [_, 3]");
    std::fs::copy(
        dataset_mini().join("canonical_face.npy"),
        dir.join("canonical_face.npy"),
    )
    .unwrap();

    write_npy(
        &dir.join("blendshapes.npy"),
        "<f4",
        "(6, 51)",
        &vec![0; 6 * 51 * 4],
    );
    expect_error(&dir, "blendshapes.json", "52 names for the 51 blendshapes");
    let nan: Vec<u8> = std::iter::repeat_n(f32::NAN.to_le_bytes(), 6 * 52)
        .flatten()
        .collect();
    write_npy(&dir.join("blendshapes.npy"), "<f4", "(6, 52)", &nan);
    expect_error(&dir, "blendshapes.npy", "not finite");
}

#[test]
fn fill_poly_matches_opencv() {
    let ex = expected();
    let polys = ex["fill_polys"].as_array().unwrap();
    let want = read_png(&dataset_mini().join("expected/fill_poly.png"));
    assert_eq!(want.len(), polys.len() * 64 * 64);
    let mut differing = 0;
    for (k, poly) in polys.iter().enumerate() {
        let pts: Vec<[i32; 2]> = poly
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = json_u64s(p);
                [p[0] as i32, p[1] as i32]
            })
            .collect();
        let mut m = vec![0u8; 64 * 64];
        masks::fill_poly(&mut m, 64, 64, &pts);
        let d = m
            .iter()
            .zip(&want[k * 4096..(k + 1) * 4096])
            .filter(|(a, b)| a != b)
            .count();
        if d > 0 {
            eprintln!("polygon {k} {pts:?}: {d} pixels differ");
        }
        differing += d;
    }
    assert_eq!(differing, 0, "pixels unlike cv2.fillPoly's");
}

/// Mean and standard deviation per axis.
fn moments(v: &[[f32; 3]]) -> ([f64; 3], [f64; 3]) {
    let n = v.len() as f64;
    let mean: [f64; 3] =
        std::array::from_fn(|a| v.iter().map(|p| f64::from(p[a])).sum::<f64>() / n);
    let std = std::array::from_fn(|a| {
        (v.iter()
            .map(|p| (f64::from(p[a]) - mean[a]).powi(2))
            .sum::<f64>()
            / n)
            .sqrt()
    });
    (mean, std)
}

/// The points' distribution against torch_trainer.py's `initial_points` (numpy's
/// generator differs, so only statistics over 16 seeds compare).
#[test]
fn initial_points_distribute_as_train_py() {
    let ds = open_fixture();
    let ex = &expected()["initial_points"];
    let n = ex["n"].as_u64().unwrap() as usize;
    let floats = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (mut mean, mut std, mut colour) = ([0.0; 3], [0.0; 3], [0.0; 3]);
    let seeds = 16;
    for seed in 0..seeds {
        let (pts, cols) = initial_points(&ds, n, seed);
        assert_eq!(pts.len() as u64, ex["count"].as_u64().unwrap());
        let (m, s) = moments(&pts);
        let (c, _) = moments(&cols);
        for a in 0..3 {
            mean[a] += m[a] / seeds as f64;
            std[a] += s[a] / seeds as f64;
            colour[a] += c[a] / seeds as f64;
        }
    }
    let (py_mean, py_std, py_colour) = (
        floats(&ex["mean"]),
        floats(&ex["std"]),
        floats(&ex["colour_mean"]),
    );
    eprintln!("initial points: mean {mean:.3?} cm (torch_trainer.py {py_mean:.3?}), std {std:.3?} (torch_trainer.py {py_std:.3?}), colour {colour:.4?} (torch_trainer.py {py_colour:.4?})");
    for a in 0..3 {
        assert!(
            (mean[a] - py_mean[a]).abs() < MEAN_CM,
            "axis {a}: mean {} cm, torch_trainer.py {}",
            mean[a],
            py_mean[a]
        );
        assert!(
            (std[a] - py_std[a]).abs() < STD_CM,
            "axis {a}: std {} cm, torch_trainer.py {}",
            std[a],
            py_std[a]
        );
        assert!(
            (colour[a] - py_colour[a]).abs() < COLOUR,
            "channel {a}: mean colour {}, torch_trainer.py {}",
            colour[a],
            py_colour[a]
        );
    }
}

/// Every file of the fixture, by its name below the folder.
fn fixture_in_memory() -> synctalk_train::dataset::InMemory {
    let root = dataset_mini();
    let mut files = std::collections::HashMap::new();
    let mut add = |name: String| {
        let bytes = std::fs::read(root.join(&name)).expect("fixture file");
        files.insert(name, bytes);
    };
    for name in [
        "dataset.json",
        "transforms.json",
        "landmarks.npy",
        "blendshapes.npy",
        "blendshapes.json",
        "canonical_face.npy",
        "background.png",
    ] {
        add(name.to_string());
    }
    for t in 0..6 {
        for (dir, ext) in [("frames", "jpg"), ("parsing", "png"), ("torso", "png")] {
            add(format!("{dir}/{t:06}.{ext}"));
        }
    }
    synctalk_train::dataset::InMemory(files)
}

/// The files handed over in memory (as a web page does) load into the same
/// dataset as the folder; a missing one is named below the given root.
#[test]
fn files_in_memory_load_as_the_folder() {
    let disk = open_fixture();
    let mem = fixture_in_memory();
    let ds = Dataset::from_files(Path::new("upload"), &mem).expect("in memory");
    assert_eq!(ds.frame_count(), disk.frame_count());
    for (a, b) in ds.frames.iter().zip(&disk.frames) {
        assert!(a.target == b.target && a.under == b.under && a.torso == b.torso);
    }
    assert_eq!(ds.blendshapes, disk.blendshapes);
    assert_eq!(ds.head_to_camera, disk.head_to_camera);
    assert_eq!(ds.canonical_face, disk.canonical_face);

    let mut gone = mem.clone();
    gone.0.remove("torso/000003.png");
    let e = Dataset::from_files(Path::new("upload"), &gone).expect_err("a missing frame");
    assert_eq!(e.path(), Path::new("upload/torso/000003.png"), "{e}");
    let mut empty = mem;
    empty.0.remove("dataset.json");
    assert!(matches!(
        Dataset::from_files(Path::new("upload"), &empty),
        Err(DatasetError::NotADataset { .. })
    ));
}
