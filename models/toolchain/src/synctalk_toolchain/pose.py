"""The Head-Sync Stabilizer: per-frame head pose and one focal length.

1. A canonical 3D face from the video itself: MediaPipe's landmarks (x, y and
   relative depth z, all in pixels) aligned across frames by similarity
   Procrustes on the most rigid landmarks and averaged; scaled to centimetres
   (outer eye corners 9 cm apart).
2. Per-frame PnP of the rigid landmarks against it, for the focal length that
   fits best (a 1-D search).
3. Keypoints on the rigid face (forehead, nose, cheeks) tracked with
   pyramidal Lucas-Kanade, with a forward-backward check.
4. Bundle adjustment (scipy least squares, sparse Jacobian, robust loss): all
   poses, the focal length and the tracked points' 3D positions together,
   with a prior on pose acceleration and one holding the focal length near the
   PnP search's value (on a near-frontal face it trades off against depth;
   free, it lets the poses drift). The acceleration prior's weight is halved
   until the reprojection error is at most 8% above the PnP solution's.

Poses are head-to-camera: x_cam = R x_head + t, OpenCV axes, centimetres.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EYE_OUTER = (33, 263)
LIPS = sorted({0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267, 269, 270,
               291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415})


@dataclass
class Stabilized:
    """Result of the stabilizer for T frames."""

    rotations: np.ndarray  # [T, 3, 3] head-to-camera
    translations: np.ndarray  # [T, 3] centimetres
    focal: float  # pixels (square pixels, principal point at the centre)
    canonical: np.ndarray  # [478, 3] canonical face, centimetres
    rigid: np.ndarray  # indices of the landmarks used for pose
    report: dict
    rotations_pnp: np.ndarray  # [T, 3, 3] before stabilisation
    translations_pnp: np.ndarray  # [T, 3]


# --- rotations -------------------------------------------------------------------

def rodrigues(rv: np.ndarray) -> np.ndarray:
    """Rotation vectors [..., 3] to matrices [..., 3, 3]."""
    theta = np.linalg.norm(rv, axis=-1, keepdims=True)
    k = rv / np.maximum(theta, 1e-12)
    kx, ky, kz = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros_like(kx)
    K = np.stack([np.stack([zero, -kz, ky], -1), np.stack([kz, zero, -kx], -1), np.stack([-ky, kx, zero], -1)], -2)
    th = theta[..., None]
    return np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * (K @ K)


def log_rotation(R: np.ndarray) -> np.ndarray:
    """Matrices [..., 3, 3] to rotation vectors [..., 3]."""
    c = np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0)
    th = np.arccos(c)
    w = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    s = np.sin(th)
    scale = np.where(s > 1e-8, th / (2 * np.maximum(s, 1e-12)), 0.5)
    return w * scale[..., None]


def jitter_deg(R: np.ndarray) -> float:
    """Mean frame-to-frame angular acceleration in degrees per frame²: the
    norm of the change between consecutive rotation increments."""
    if R.shape[0] < 3:
        return 0.0
    inc = log_rotation(R[1:] @ np.swapaxes(R[:-1], -1, -2))
    return float(np.degrees(np.linalg.norm(np.diff(inc, axis=0), axis=-1).mean()))


# --- canonical face ---------------------------------------------------------------

def _procrustes(a: np.ndarray, b: np.ndarray):
    """Similarity (s, R, t) with s R a + t ~ b (rows are points)."""
    ma, mb = a.mean(0), b.mean(0)
    a0, b0 = a - ma, b - mb
    u, sv, vt = np.linalg.svd(a0.T @ b0)
    d = np.sign(np.linalg.det(u @ vt))
    D = np.diag([1, 1, d])
    R = (u @ D @ vt).T
    s = (sv * np.diag(D)).sum() / (a0**2).sum()
    return s, R, mb - s * R @ ma


def canonical_face(landmarks: np.ndarray, rigid_fraction: float = 0.4, iters: int = 3):
    """Mean face shape [478, 3] in cm and the indices of its most rigid points."""
    P = landmarks.astype(np.float64)
    ref = P[0]
    idx = np.setdiff1d(np.arange(P.shape[1]), LIPS)
    for _ in range(iters):
        aligned = np.empty_like(P)
        for t in range(P.shape[0]):
            s, R, tr = _procrustes(P[t, idx], ref[idx])
            aligned[t] = (s * (R @ P[t].T)).T + tr
        ref = aligned.mean(0)
        spread = np.linalg.norm(aligned - ref, axis=-1).mean(0)
        cand = np.setdiff1d(np.arange(P.shape[1]), LIPS)
        idx = cand[np.argsort(spread[cand])[: int(rigid_fraction * P.shape[1])]]
    scale = 9.0 / np.linalg.norm(ref[EYE_OUTER[0]] - ref[EYE_OUTER[1]])
    canon = (ref - ref[idx].mean(0)) * scale
    return canon, np.sort(idx)


# --- projection and PnP ----------------------------------------------------------

def project(R: np.ndarray, t: np.ndarray, X: np.ndarray, f: float, c: np.ndarray) -> np.ndarray:
    """Points X [..., N, 3] through poses R [..., 3, 3], t [..., 3]: pixels [..., N, 2]."""
    p = X @ np.swapaxes(R, -1, -2) + t[..., None, :]
    return f * p[..., :2] / p[..., 2:3] + c


def pnp(canon, rigid, lm2d, f, c, init=None):
    import cv2

    K = np.array([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1]], np.float64)
    T = lm2d.shape[0]
    rv = np.zeros((T, 3))
    tv = np.zeros((T, 3))
    obj = canon[rigid].astype(np.float64)
    prev = None
    for t in range(T):
        img = lm2d[t, rigid].astype(np.float64)
        if prev is None:
            ok, r, tr = cv2.solvePnP(obj, img, K, None, flags=cv2.SOLVEPNP_SQPNP)
            ok, r, tr = cv2.solvePnP(obj, img, K, None, r, tr, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
        else:
            ok, r, tr = cv2.solvePnP(obj, img, K, None, prev[0].copy(), prev[1].copy(), useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
        if not ok:
            raise ValueError(f"frame {t}: PnP failed")
        rv[t], tv[t] = r.ravel(), tr.ravel()
        prev = (r, tr)
    R = rodrigues(rv)
    err = np.linalg.norm(project(R, tv, obj, f, c) - lm2d[:, rigid], axis=-1).mean()
    return R, tv, float(err)


FOCAL_RANGE = (0.6, 6.0)  # search range, in image widths
FOCAL_PRIOR = 300.0  # bundle adjustment: pixels of residual per unit of log(f / f_pnp)


def best_focal(canon, rigid, lm2d, c, width):
    """Focal length (pixels) with the smallest PnP reprojection error, on a
    subset of frames."""
    sub = lm2d[:: max(1, lm2d.shape[0] // 20)]
    grid = width * np.geomspace(*FOCAL_RANGE, 13)
    errs = [pnp(canon, rigid, sub, f, c)[2] for f in grid]
    i = int(np.argmin(errs))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    fine = np.geomspace(lo, hi, 7)
    errs = [pnp(canon, rigid, sub, f, c)[2] for f in fine]
    return float(fine[int(np.argmin(errs))])


# --- tracked keypoints --------------------------------------------------------------

def track_keypoints(frames, lm2d, rigid, max_points=120, redetect_every=10, fb_max=1.0):
    """Lucas-Kanade tracks of corners on the rigid part of the face.
    Returns (track index, frame, xy) per observation, tracks of 5+ frames."""
    import cv2

    def face_mask(t, shape):
        m = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(m, cv2.convexHull(lm2d[t, rigid].astype(np.int32)), 255)
        return m

    lk = dict(winSize=(21, 21), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
    ids, fr, xy = [], [], []
    active_pts = np.zeros((0, 2), np.float32)
    active_ids = np.zeros(0, int)
    next_id = 0
    prev = None
    for t, path in enumerate(frames):
        gray = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY)
        mask = face_mask(t, gray.shape)
        if prev is not None and len(active_pts):
            p1, st, _ = cv2.calcOpticalFlowPyrLK(prev, gray, active_pts.reshape(-1, 1, 2), None, **lk)
            p0, st2, _ = cv2.calcOpticalFlowPyrLK(gray, prev, p1, None, **lk)
            fb = np.linalg.norm(p0.reshape(-1, 2) - active_pts, axis=1)
            p1 = p1.reshape(-1, 2)
            inside = np.array([0 <= x < gray.shape[1] and 0 <= y < gray.shape[0] and mask[int(y), int(x)] > 0 for x, y in p1], bool)
            keep = (st.ravel() == 1) & (st2.ravel() == 1) & (fb < fb_max) & inside
            active_pts, active_ids = p1[keep], active_ids[keep]
        if t % redetect_every == 0 or len(active_pts) < 0.6 * max_points:
            m = mask.copy()
            for x, y in active_pts:
                cv2.circle(m, (int(x), int(y)), 8, 0, -1)
            want = max_points - len(active_pts)
            if want > 0:
                new = cv2.goodFeaturesToTrack(gray, want, 0.01, 8, mask=m)
                if new is not None:
                    new = new.reshape(-1, 2).astype(np.float32)
                    active_pts = np.concatenate([active_pts, new])
                    active_ids = np.concatenate([active_ids, np.arange(next_id, next_id + len(new))])
                    next_id += len(new)
        ids.append(active_ids.copy())
        fr.append(np.full(len(active_ids), t))
        xy.append(active_pts.copy())
        prev = gray
    ids, fr, xy = np.concatenate(ids), np.concatenate(fr), np.concatenate(xy).astype(np.float64)
    counts = np.bincount(ids, minlength=next_id)
    keep = counts[ids] >= 5
    ids, fr, xy = ids[keep], fr[keep], xy[keep]
    _, ids = np.unique(ids, return_inverse=True)
    return ids, fr, xy


def _initial_points(ids, fr, xy, R, t, canon, rigid, f, c):
    """3D head-space point per track: its first observation's ray at the depth
    of the nearest canonical landmark."""
    P = ids.max() + 1 if len(ids) else 0
    X = np.zeros((P, 3))
    for p in range(P):
        o = np.flatnonzero(ids == p)[0]
        tt = fr[o]
        cam = canon[rigid] @ R[tt].T + t[tt]
        proj = f * cam[:, :2] / cam[:, 2:3] + c
        z = cam[np.argmin(np.linalg.norm(proj - xy[o], axis=1)), 2]
        ray = np.array([(xy[o, 0] - c[0]) / f, (xy[o, 1] - c[1]) / f, 1.0]) * z
        X[p] = R[tt].T @ (ray - t[tt])
    return X


# --- bundle adjustment -------------------------------------------------------------

def translation_jitter_cm(t: np.ndarray) -> np.ndarray:
    """Mean frame-to-frame acceleration of each translation axis, cm/frame²."""
    if t.shape[0] < 3:
        return np.zeros(3)
    return np.abs(np.diff(t, 2, axis=0)).mean(0)


def bundle_adjust(canon, rigid, lm2d, R0, t0, f0, c, ids, fr, xy, strength=1.0, depth_weight=10.0, max_nfev=60,
                  focal_prior=FOCAL_PRIOR):
    from scipy.optimize import least_squares

    T, nr = lm2d.shape[0], len(rigid)
    P = int(ids.max()) + 1 if len(ids) else 0
    X0 = _initial_points(ids, fr, xy, R0, t0, canon, rigid, f0, c)
    # The focal length is solved too, as log(f / f0) with a prior towards the
    # PnP search's value: on a near-frontal face it trades off against depth,
    # and without the prior the poses drift along that valley.
    x0 = np.concatenate([log_rotation(R0).ravel(), t0.ravel(), X0.ravel(), [0.0]])
    obj = canon[rigid]
    target = lm2d[:, rigid]
    depth = float(np.median(t0[:, 2]))
    # Prior weights in pixels per unit of acceleration: a rotation of one
    # radian moves the face by about f pixels, a lateral centimetre by f/depth.
    # Depth barely moves the projection, so its prior is `depth_weight` times
    # stronger: left to the data, it jitters.
    lam_r = strength * f0
    lam_t = strength * f0 / depth * np.array([1.0, 1.0, depth_weight])

    def unpack(x):
        rv = x[: 3 * T].reshape(T, 3)
        tv = x[3 * T : 6 * T].reshape(T, 3)
        X = x[6 * T : -1].reshape(P, 3)
        return rv, tv, X, f0 * float(np.exp(x[-1]))

    def residuals(x):
        rv, tv, X, f = unpack(x)
        R = rodrigues(rv)
        r_lm = (project(R, tv, obj, f, c) - target).ravel()
        if P:
            cam = np.einsum("oij,oj->oi", R[fr], X[ids]) + tv[fr]
            r_tr = (f * cam[:, :2] / cam[:, 2:3] + c - xy).ravel()
        else:
            r_tr = np.zeros(0)
        r_sr = lam_r * (rv[2:] - 2 * rv[1:-1] + rv[:-2]).ravel()
        r_st = (lam_t * (tv[2:] - 2 * tv[1:-1] + tv[:-2])).ravel()
        return np.concatenate([r_lm, r_tr, r_sr, r_st, [focal_prior * x[-1]]])

    n_lm, n_tr = T * nr * 2, len(ids) * 2
    n_s = max(T - 2, 0) * 3
    rows, cols = [], []

    def add(r, c):
        r, c = np.broadcast_arrays(np.asarray(r)[:, None], np.asarray(c)[None, :] if np.ndim(c) == 1 else np.asarray(c))
        rows.append(r.ravel())
        cols.append(c.ravel())

    xcol = 6 * T
    frame_of_row = np.repeat(np.arange(T), nr * 2)
    pose = np.concatenate([3 * frame_of_row[:, None] + np.arange(3), 3 * T + 3 * frame_of_row[:, None] + np.arange(3)], 1)
    add(np.arange(n_lm), pose)
    if len(ids):
        o2 = np.repeat(np.arange(len(ids)), 2)
        f2, p2 = fr[o2], ids[o2]
        cols_tr = np.concatenate([3 * f2[:, None] + np.arange(3), 3 * T + 3 * f2[:, None] + np.arange(3),
                                  xcol + 3 * p2[:, None] + np.arange(3)], 1)
        add(n_lm + np.arange(n_tr), cols_tr)
    if T > 2:
        t = np.repeat(np.arange(1, T - 1), 3)
        k = np.tile(np.arange(3), T - 2)
        neigh = (t[:, None] + np.array([-1, 0, 1])) * 3 + k[:, None]
        add(n_lm + n_tr + np.arange(n_s), neigh)
        add(n_lm + n_tr + n_s + np.arange(n_s), 3 * T + neigh)
    from scipy.sparse import coo_matrix

    fcol = x0.size - 1
    add(np.arange(n_lm + n_tr), np.array([fcol]))  # every projection depends on the focal length
    add(np.array([n_lm + n_tr + 2 * n_s]), np.array([fcol]))
    r, cc = np.concatenate(rows), np.concatenate(cols)
    S = coo_matrix((np.ones(r.size, np.int8), (r, cc)), shape=(n_lm + n_tr + 2 * n_s + 1, x0.size)).tocsr()
    S.data[:] = 1
    sol = least_squares(residuals, x0, jac_sparsity=S, method="trf", loss="soft_l1", f_scale=1.5,
                        x_scale="jac", max_nfev=max_nfev)
    rv, tv, X, f = unpack(sol.x)
    R = rodrigues(rv)
    err_lm = float(np.linalg.norm(project(R, tv, obj, f, c) - target, axis=-1).mean())
    if P:
        cam = np.einsum("oij,oj->oi", R[fr], X[ids]) + tv[fr]
        err_tr = float(np.linalg.norm(f * cam[:, :2] / cam[:, 2:3] + c - xy, axis=1).mean())
    else:
        err_tr = float("nan")
    return R, tv, float(f), err_lm, err_tr


def stabilize(frames, lm2d, width, height, max_increase=0.08, progress=None) -> Stabilized:
    """Runs the whole stabilizer on raw landmarks [T, 478, 3] (pixels; the
    depth is used for the canonical face only)."""
    canon, rigid = canonical_face(lm2d)
    c = np.array([width / 2.0, height / 2.0])
    xy2 = lm2d[..., :2]
    f = best_focal(canon, rigid, xy2, c, width)
    R0, t0, err0 = pnp(canon, rigid, xy2, f, c)
    obj = canon[rigid]
    if progress:
        progress(1, 3)
    ids, fr, xy = track_keypoints(frames, xy2, rigid)
    if progress:
        progress(2, 3)
    def run(strength, depth_weight):
        R, t, fb, _, err_tr = bundle_adjust(canon, rigid, xy2, R0, t0, f, c, ids, fr, xy, strength=strength, depth_weight=depth_weight)
        err = float(np.linalg.norm(project(R, t, obj, fb, c) - xy2[:, rigid], axis=-1).mean())
        return R, t, err, err_tr, fb

    # Stage 1: the strongest prior (halving from 1) within the error budget.
    strength, depth_weight = 1.0, 1.0
    for _ in range(5):
        R, t, err, err_tr, f_ba = run(strength, depth_weight)
        if err <= err0 * (1 + max_increase):
            break
        strength /= 2
    # Stage 2: depth alone barely moves the projection and jitters most; the
    # strongest extra weight on it that stays within the budget.
    for dw in (8.0, 4.0, 2.0):
        cand = run(strength, dw)
        if cand[2] <= err0 * (1 + max_increase):
            R, t, err, err_tr, f_ba = cand
            depth_weight = dw
            break
    if progress:
        progress(3, 3)
    report = {
        "focal_px": round(f_ba, 2),
        "focal_pnp_px": round(f, 2),
        # True when the search ended at its bound: the data prefer a longer
        # lens (weak perspective), and the focal is not really estimated.
        "focal_at_search_bound": bool(f >= 0.999 * FOCAL_RANGE[1] * width or f <= 1.001 * FOCAL_RANGE[0] * width),
        "rigid_landmarks": int(len(rigid)),
        "tracks": int(ids.max() + 1) if len(ids) else 0,
        "track_observations": int(len(ids)),
        "reprojection_px_before": round(err0, 3),
        "reprojection_px_after": round(err, 3),
        "track_reprojection_px": round(err_tr, 3),
        "jitter_deg_per_frame2_before": round(jitter_deg(R0), 4),
        "jitter_deg_per_frame2_after": round(jitter_deg(R), 4),
        "translation_jitter_cm_per_frame2_before": [round(float(v), 4) for v in translation_jitter_cm(t0)],
        "translation_jitter_cm_per_frame2_after": [round(float(v), 4) for v in translation_jitter_cm(t)],
        "smoothness_strength": strength,
        "depth_prior_weight": depth_weight,
    }
    return Stabilized(R, t, f_ba, canon, rigid, report, R0, t0)
