//! The portrait's calibration from its metadata: the articulation strength
//! (and centre) and the range of each blendshape it was trained on.

use crate::{blendshapes, EngineError, BLENDSHAPES};
use synctalk_portrait::Portrait;

/// The portrait's own articulation (`extra.articulation`, measured by
/// `synctalk-eval calibrate`: how much the speech's mouth shapes must be
/// amplified for the rendered lips to open and close as far as the
/// person's did), else strength 1. Either a number in [0, 10] (the strength,
/// around the face at rest) or `{"strength": k, "centre": [52 numbers in
/// [0, 1]]}`: the calibration's slope is a fit around the mean shape of its
/// frames, so the amplification turns around that mean.
pub(crate) fn articulation(p: &Portrait) -> Result<(f32, Option<[f32; BLENDSHAPES]>), EngineError> {
    let bad = |why: String| EngineError::Portrait(format!("META extra.articulation: {why}"));
    let strength = |v: &serde_json::Value| {
        v.as_f64()
            .map(|a| a as f32)
            .filter(|&a| valid_articulation(a))
            .ok_or_else(|| bad(format!("strength {v} is not a number in [0, 10]")))
    };
    let Some(v) = p.meta.extra.get("articulation") else {
        return Ok((1.0, None));
    };
    if v.is_number() {
        return Ok((strength(v)?, None));
    }
    let k = strength(
        v.get("strength")
            .ok_or_else(|| bad("neither a number nor an object with `strength`".into()))?,
    )?;
    let Some(c) = v.get("centre") else {
        return Ok((k, None));
    };
    let list = c
        .as_array()
        .filter(|a| a.len() == BLENDSHAPES)
        .ok_or_else(|| bad(format!("`centre` must be a list of {BLENDSHAPES} numbers")))?;
    let mut centre = [0.0; BLENDSHAPES];
    for (i, (x, out)) in list.iter().zip(&mut centre).enumerate() {
        *out = x
            .as_f64()
            .map(|x| x as f32)
            .filter(|x| (0.0..=1.0).contains(x))
            .ok_or_else(|| bad(format!("centre[{i}] = {x} is not a number in [0, 1]")))?;
    }
    Ok((k, Some(centre)))
}

/// Articulation strengths the engine takes: finite, 0 to 10.
pub(crate) fn valid_articulation(a: f32) -> bool {
    a.is_finite() && (0.0..=10.0).contains(&a)
}

/// The pose-track frames the portrait's trainer held out for evaluation
/// (`extra.evaluation.held_out_frames`, written by `synctalk train` and the
/// reference trainer); none when the metadata has no evaluation.
pub(crate) fn held_out_frames(p: &Portrait) -> Result<Vec<usize>, EngineError> {
    let Some(v) = p
        .meta
        .extra
        .get("evaluation")
        .and_then(|e| e.get("held_out_frames"))
    else {
        return Ok(Vec::new());
    };
    let bad = || {
        EngineError::Portrait(
            "META extra.evaluation.held_out_frames: not an array of frame numbers".into(),
        )
    };
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|f| f.as_u64().map(|f| f as usize).ok_or_else(bad))
        .collect()
}

/// The range of each blendshape that the portrait was trained on, from its
/// metadata (`extra.condition_range = {"min": [52], "max": [52]}`), else
/// [0, 1]. The deformation is only known inside it: a value outside (an
/// override of `jawOpen: 1` where the person opened to 0.6) is clamped, so
/// "1" means "as far as this person was seen to go".
pub(crate) fn condition_range(p: &Portrait) -> Result<[(f32, f32); BLENDSHAPES], EngineError> {
    let mut out = [(0.0, 1.0); BLENDSHAPES];
    let Some(r) = p.meta.extra.get("condition_range") else {
        return Ok(out);
    };
    let bad = |why: String| EngineError::Portrait(format!("META extra.condition_range: {why}"));
    let list = |k: &str| -> Result<Vec<f32>, EngineError> {
        let v = r
            .get(k)
            .and_then(|v| v.as_array())
            .ok_or_else(|| bad(format!("no `{k}` array")))?;
        if v.len() != BLENDSHAPES {
            return Err(bad(format!(
                "`{k}` has {} values, want {BLENDSHAPES}",
                v.len()
            )));
        }
        v.iter()
            .map(|x| {
                x.as_f64()
                    .map(|x| x as f32)
                    .filter(|x| (0.0..=1.0).contains(x))
                    .ok_or_else(|| bad(format!("`{k}` holds {x}, not a number in [0, 1]")))
            })
            .collect()
    };
    let (lo, hi) = (list("min")?, list("max")?);
    for (i, o) in out.iter_mut().enumerate() {
        if lo[i] > hi[i] {
            return Err(bad(format!("min > max for {}", blendshapes::NAMES[i])));
        }
        *o = (lo[i], hi[i]);
    }
    Ok(out)
}
