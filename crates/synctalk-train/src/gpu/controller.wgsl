// The controller MLP's uniform and layout (prepended to controller_fwd and
// controller_bwd). theta is torch's tensors concatenated: W1 [H][D], b1 [H],
// W2 [H][H], b2 [H], W3 [K][H], b3 [K] (`cpu::Controller::theta`).

// Must match `ControllerParams` in controller.rs.
struct Controller {
    input: u32,      // D
    hidden: u32,     // H, at most 64
    bases: u32,      // K, at most 32
    dw_offset: u32,  // where dL/dw starts in `sums`
    // 2 reg_w 1e-2 / numel per tensor (W1, b1, W2, b2, W3, b3), then 2 unused.
    l2: array<vec4<f32>, 2>,
}

@group(0) @binding(0) var<uniform> cp: Controller;

const MAX_HIDDEN: u32 = 64u;

struct Offsets {
    b1: u32,
    w2: u32,
    b2: u32,
    w3: u32,
    b3: u32,
}

fn offsets() -> Offsets {
    let d = cp.input;
    let h = cp.hidden;
    let b1 = h * d;
    let w2 = b1 + h;
    let b2 = w2 + h * h;
    let w3 = b2 + h;
    let b3 = w3 + cp.bases * h;
    return Offsets(b1, w2, b2, w3, b3);
}

fn l2(i: u32) -> f32 {
    return cp.l2[i / 4u][i % 4u];
}
