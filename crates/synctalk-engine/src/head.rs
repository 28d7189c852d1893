//! Head motion with Head-Sync: where the head is on the portrait's pose
//! track and how far it is turned about its pivot, filtered over the
//! session clock.
//!
//! The pose track is the person's own recorded motion; Head-Sync's
//! `activity` sets how fast it plays (all of it while speech is active,
//! [`IDLE_SPEED`] of it in silence: heads move less when nobody speaks), and
//! its `rotation` turns the head on top of the track (nods with the
//! speech's stress). Both are filtered so that the head never jerks: the
//! rotation by a critically damped spring ([`SPRING_RATE`]), the activity by
//! an exponential follower that rises faster than it falls. The rotation's
//! target is 0 in silence and bounded by [`MAX_TURN`], so it never drifts.

/// How fast the pose track plays in silence by default, against 1 while
/// speaking (`Engine::set_idle_pace` changes it). The
/// demo's speaker moved 0.13 times as fast in her pauses as in speech, the
/// other four prepared HDTF speakers 0.44, 0.84, 0.97 and 1.25 times (the
/// toolchain's `head_sync_report.json`; their pauses are 4 to 36 frames
/// long), so this is a design value between those.
pub const IDLE_SPEED: f64 = 0.35;
/// The natural angular frequency of the rotation's spring, per second: it
/// settles on a new target in about 4 / rate seconds (0.29 s) and passes
/// motion slower than about 2 Hz.
pub const SPRING_RATE: f32 = 14.0;
/// The largest turn, in radians (about 8.6°), whatever the network says.
pub const MAX_TURN: f32 = 0.15;
/// Time constants of the activity's follower: rising, falling (seconds).
/// It falls slowly: the short pauses of running speech (a 300-ms pause
/// leaves 0.86 of it) keep the pace of speech, and only seconds of silence
/// calm the head down (0.22 after 3 s).
pub const ACTIVITY_TAU: (f32, f32) = (0.2, 2.0);
/// The longest clock step the filters integrate at once (seconds): after a
/// longer gap (a hidden tab) they move as if that much time had passed.
const MAX_STEP: f64 = 0.25;
/// Integration step of the spring (seconds).
const SUBSTEP: f32 = 0.005;

/// The filtered head state, advanced once per frame by the session clock.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeadMotion {
    /// Clock of the last frame (`None`: no frame yet).
    last: Option<f64>,
    /// Position along the pose track, in track frames before the track's
    /// turns (see `track_position`).
    pub steps: f64,
    /// Turn of the head (rotation vector, radians).
    pub rotation: [f32; 3],
    velocity: [f32; 3],
    /// Filtered activity in [0, 1].
    pub activity: f32,
}

impl HeadMotion {
    /// Moves the state to session time `clock` (seconds; the track plays at
    /// `fps` frames per second of full speed) towards `rotation` and
    /// `activity`. A first frame, or a clock that went back, restarts from
    /// rest at the track position the clock alone gives.
    pub fn advance(&mut self, clock: f64, fps: f64, idle: f64, rotation: [f32; 3], activity: f32) {
        let clock = if clock.is_finite() {
            clock.max(0.0)
        } else {
            0.0
        };
        let dt = match self.last {
            Some(t) if clock >= t => clock - t,
            _ => {
                *self = Self {
                    last: Some(clock),
                    steps: clock * fps,
                    ..Self::default()
                };
                return;
            }
        };
        self.last = Some(clock);
        let speed = idle + (1.0 - idle) * f64::from(self.activity);
        self.steps += dt * fps * speed;

        let step = dt.min(MAX_STEP) as f32;
        let a = if activity.is_finite() {
            activity.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let tau = if a > self.activity {
            ACTIVITY_TAU.0
        } else {
            ACTIVITY_TAU.1
        };
        self.activity += (a - self.activity) * (1.0 - (-step / tau).exp());

        let target = clamp_turn(rotation);
        let w = SPRING_RATE;
        let n = (step / SUBSTEP).ceil().max(1.0);
        let h = step / n;
        for _ in 0..n as usize {
            for ((x, v), g) in self.rotation.iter_mut().zip(&mut self.velocity).zip(target) {
                *v += h * (w * w * (g - *x) - 2.0 * w * *v);
                *x += h * *v;
            }
        }
    }
}

/// `r` shortened to at most [`MAX_TURN`] (0 if not finite).
fn clamp_turn(r: [f32; 3]) -> [f32; 3] {
    let n = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    if !n.is_finite() {
        return [0.0; 3];
    }
    if n <= MAX_TURN {
        return r;
    }
    r.map(|c| c * MAX_TURN / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(h: &mut HeadMotion, from: f64, seconds: f64, fps: f64, rot: [f32; 3], act: f32) {
        let n = (seconds * fps).round() as usize;
        for k in 0..n {
            h.advance(from + k as f64 / fps, 25.0, IDLE_SPEED, rot, act);
        }
    }

    #[test]
    fn spring_settles_without_overshoot() {
        let mut h = HeadMotion::default();
        run(&mut h, 0.0, 1.0, 60.0, [0.05, 0.0, 0.0], 1.0);
        assert!((h.rotation[0] - 0.05).abs() < 1e-3, "{:?}", h.rotation);
        assert!(
            h.rotation[0] <= 0.05 + 1e-6,
            "critically damped: no overshoot"
        );
        run(&mut h, 1.0, 1.0, 60.0, [0.0; 3], 0.0);
        assert!(h.rotation[0].abs() < 1e-3);
        // Activity falls slowly: most of it stays over a short pause.
        assert!(h.activity > 0.5, "{}", h.activity);
        run(&mut h, 2.0, 3.0, 60.0, [0.0; 3], 0.0);
        assert!(h.activity < 0.25, "{}", h.activity);
    }

    #[test]
    fn frame_rate_does_not_change_the_motion() {
        let (mut a, mut b) = (HeadMotion::default(), HeadMotion::default());
        run(&mut a, 0.0, 2.0, 25.0, [0.0, 0.08, 0.0], 1.0);
        run(&mut b, 0.0, 2.0, 60.0, [0.0, 0.08, 0.0], 1.0);
        a.advance(2.0, 25.0, IDLE_SPEED, [0.0, 0.08, 0.0], 1.0);
        b.advance(2.0, 25.0, IDLE_SPEED, [0.0, 0.08, 0.0], 1.0);
        assert!((a.rotation[1] - b.rotation[1]).abs() < 1e-3);
        assert!((a.steps - b.steps).abs() < 0.5, "{} {}", a.steps, b.steps);
    }

    #[test]
    fn bad_targets_are_bounded_and_the_clock_may_restart() {
        let mut h = HeadMotion::default();
        run(&mut h, 0.0, 3.0, 25.0, [f32::NAN, 0.0, 0.0], f32::NAN);
        assert_eq!(h.rotation, [0.0; 3]);
        run(&mut h, 3.0, 3.0, 25.0, [10.0, 0.0, 0.0], 5.0);
        assert!(h.rotation[0] <= MAX_TURN + 1e-4 && h.activity <= 1.0);
        h.advance(1.0, 25.0, IDLE_SPEED, [0.0; 3], 0.0);
        assert_eq!((h.steps, h.rotation), (25.0, [0.0; 3]));
    }

    #[test]
    fn silence_plays_the_track_slower() {
        let (mut quiet, mut loud) = (HeadMotion::default(), HeadMotion::default());
        run(&mut quiet, 0.0, 10.0, 25.0, [0.0; 3], 0.0);
        run(&mut loud, 0.0, 10.0, 25.0, [0.0; 3], 1.0);
        let ratio = quiet.steps / loud.steps;
        assert!((ratio - IDLE_SPEED).abs() < 0.05, "{ratio}");
    }
}
