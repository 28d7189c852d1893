//! Where on the portrait's pose track the head is at a clock time.

/// Track position (in frames, fractional) at `steps` frames of clock time
/// into a pose track of `len` frames: forwards, then backwards, and again —
/// easing in and out of each turn over [`TURN`] frames (the head slows to a
/// stop and sets off the other way, its velocity continuous) instead of
/// bouncing off the ends. The eased turns never reach the last `TURN / 2`
/// frames at either end; a session starts at rest at frame `TURN / 2`.
pub fn track_position(steps: f64, len: usize) -> f64 {
    if len <= 1 || !steps.is_finite() || steps < 0.0 {
        return 0.0;
    }
    let last = (len - 1) as f64;
    let m = TURN.min(last / 2.0); // at least 0.5: len >= 2 here
    let k = steps.rem_euclid(2.0 * last);
    // Distance from the start along the triangle wave, then eased where it
    // is within `m` of either turning point: |u| becomes (u² + m²) / 2m,
    // which meets |u| with the same slope at |u| = m.
    let tri = k.min(2.0 * last - k);
    let ease = |u: f64| (u * u + m * m) / (2.0 * m);
    if tri < m {
        ease(tri)
    } else if last - tri < m {
        last - ease(last - tri)
    } else {
        tri
    }
}

/// Frames over which the head eases through a turn of the pose track
/// (0.48 s at 25 fps).
pub const TURN: f64 = 12.0;

/// The part of a pose track of `len` frames that the runtime plays: the
/// longest run of consecutive frames the portrait was trained on, as
/// (first frame, frames). `held_out` lists the frames its trainer held out
/// for evaluation (the portrait's `META` `extra.evaluation.held_out_frames`;
/// frames past the track are ignored). A held-out frame's pose, expression
/// and torso were never seen by the head's training: played, the head
/// renders an extrapolation there (issue 20: the demo's held-out frames
/// smear the cheek and the hair). The whole track when nothing is held out,
/// or when fewer than two consecutive frames were trained (the track must
/// still move).
pub fn trained_span(len: usize, held_out: &[usize]) -> (usize, usize) {
    let mut held = vec![false; len];
    for &f in held_out {
        if f < len {
            held[f] = true;
        }
    }
    let (mut best, mut start) = ((0, 0), 0);
    // Each held-out frame, then the track's end, closes a run.
    let ends = held.iter().enumerate().filter(|(_, &h)| h).map(|(f, _)| f);
    for f in ends.chain([len]) {
        if f - start > best.1 {
            best = (start, f - start);
        }
        start = f + 1;
    }
    if best.1 < 2 {
        (0, len)
    } else {
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trained_span_is_the_longest_run_of_trained_frames() {
        // The dataset's split: the last 10 % held out.
        let tail: Vec<usize> = (180..200).collect();
        assert_eq!(trained_span(200, &tail), (0, 180));
        // The pose split: scattered frames; the longest run between them.
        assert_eq!(trained_span(200, &[3, 50, 51, 140, 199]), (52, 88));
        // Nothing held out, frames past the track, too little left.
        assert_eq!(trained_span(200, &[]), (0, 200));
        assert_eq!(trained_span(200, &[250, 400]), (0, 200));
        let all_but_one: Vec<usize> = (1..200).collect();
        assert_eq!(trained_span(200, &all_but_one), (0, 200));
        assert_eq!(trained_span(0, &[0]), (0, 0));
    }

    #[test]
    fn the_track_plays_forwards_then_backwards_turning_smoothly() {
        let len = 200;
        let dt = 25.0 / 60.0; // a 60 Hz display, 25 fps track
        let p: Vec<f64> = (0..6000)
            .map(|i| track_position(i as f64 * dt, len))
            .collect();
        let last = (len - 1) as f64;
        // Between the turns, the track's own speed; at a turn, slower;
        // never a jump, and the velocity never changes by more than the
        // easing's constant deceleration allows.
        let v: Vec<f64> = p.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            v.iter().all(|d| d.abs() <= dt + 1e-9),
            "faster than the track"
        );
        let max_dv = v
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f64::max);
        assert!(
            max_dv <= dt * dt / TURN + 1e-9,
            "velocity jumps by {max_dv}"
        );
        assert!(p
            .iter()
            .all(|&x| (TURN / 2.0 - 1e-9..=last - TURN / 2.0 + 1e-9).contains(&x)));
        // Both ends are reached, at rest.
        let lo = p.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = p.iter().cloned().fold(0.0, f64::max);
        assert!(
            (lo - TURN / 2.0).abs() < 1e-3 && (hi - (last - TURN / 2.0)).abs() < 1e-2,
            "{lo} {hi}"
        );
        // Mid-track it is the plain track, forwards then backwards.
        assert_eq!(track_position(100.0, len), 100.0);
        assert_eq!(track_position(2.0 * last - 100.0, len), 100.0);
        // Tiny and degenerate tracks, bad clocks.
        assert_eq!(track_position(5.0, 1), 0.0);
        assert_eq!(track_position(5.0, 0), 0.0);
        assert_eq!(track_position(f64::NAN, len), 0.0);
        let x = track_position(1.3, 2);
        assert!((0.0..=1.0).contains(&x), "{x}");
    }
}
