//! The 52 blendshapes of the condition vector: MediaPipe's order, which is
//! ARKit's 52 names plus `_neutral` first in place of `tongueOut`.

/// Blendshape names in condition-vector order.
pub const NAMES: [&str; 52] = [
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
];

/// Index of `eyeBlinkLeft`.
pub const EYE_BLINK_LEFT: usize = 9;
/// Index of `eyeBlinkRight`.
pub const EYE_BLINK_RIGHT: usize = 10;
/// Index of `jawOpen`.
pub const JAW_OPEN: usize = 25;

/// The index of a blendshape name (ARKit spelling; `tongueOut` has none).
pub fn index(name: &str) -> Option<usize> {
    NAMES.iter().position(|n| *n == name)
}

/// Whether blendshape `i` moves the jaw or mouth (`cheekPuff`, `jawForward`
/// … `mouthUpperUpRight`): the ones speech drives.
pub fn is_mouth(i: usize) -> bool {
    i == 6 || (23..=49).contains(&i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_indices_match() {
        for (i, n) in NAMES.iter().enumerate() {
            assert_eq!(index(n), Some(i), "{n}");
        }
        assert_eq!(NAMES[EYE_BLINK_LEFT], "eyeBlinkLeft");
        assert_eq!(NAMES[EYE_BLINK_RIGHT], "eyeBlinkRight");
        assert_eq!(NAMES[JAW_OPEN], "jawOpen");
        assert!(is_mouth(index("mouthClose").unwrap()));
        assert!(!is_mouth(index("eyeBlinkLeft").unwrap()));
        assert_eq!(index("tongueOut"), None);
    }

    /// The toolchain's Face-Sync drives exactly these shapes (its `MOUTH`,
    /// written into the network's report): the engine's articulation
    /// amplifies the same ones.
    #[test]
    fn the_mouth_is_the_one_face_sync_was_fitted_for() {
        let path = synctalk_testdata::networks().join("face_sync_report.json");
        let text = std::fs::read_to_string(&path).expect("face_sync_report.json");
        let report: serde_json::Value = serde_json::from_str(&text).expect("json");
        let theirs: Vec<&str> = report["mouth"]
            .as_array()
            .expect("mouth")
            .iter()
            .map(|v| v.as_str().expect("a name"))
            .collect();
        let ours: Vec<&str> = (0..NAMES.len())
            .filter(|&i| is_mouth(i))
            .map(|i| NAMES[i])
            .collect();
        assert_eq!(ours, theirs);
    }
}
