"""Parsing and layers: per-frame labels (face, mouth interior, hair, neck and
torso, the rest of the head, background) from MediaPipe's selfie and hair
segmentation models plus landmark polygons; a clean background plate; per-
frame torso images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .landmarks import ASSETS

BACKGROUND, FACE, MOUTH, HAIR, TORSO, HEAD_OTHER = 0, 1, 2, 3, 4, 5
LABELS = {"background": BACKGROUND, "face": FACE, "mouth": MOUTH, "hair": HAIR, "neck_torso": TORSO, "head_other": HEAD_OTHER}

FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149,
             150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
INNER_LIPS = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
CHIN = 152
# How far below the chin landmark the head's layer reaches down the neck, in
# face heights (forehead to chin). MediaPipe's chin point is the chin's tip;
# the chin's underside and its shadow lie up to about a tenth of a face
# height below it. Torso layers that began at the chin's tip held them, and
# a head turned or nodded at run time left the real chin's underside behind
# in the torso layer: the doubled jawline and dark edge under the chin
# (issue 20). Cut lower, the whole chin belongs to the head and the torso
# layer starts on plain neck skin.
NECK_MARGIN = 0.12


class Segmenter:
    """MediaPipe's person and hair segmentation models through LiteRT."""

    def __init__(self, assets: Path = ASSETS):
        from ai_edge_litert.interpreter import Interpreter

        self.selfie = Interpreter(model_path=str(assets / "selfie_segmentation.tflite"))
        self.hair_net = Interpreter(model_path=str(assets / "hair_segmentation.tflite"))
        self.selfie.allocate_tensors()
        self.hair_net.allocate_tensors()

    @staticmethod
    def _run(it, x):
        it.set_tensor(it.get_input_details()[0]["index"], x[None].astype(np.float32))
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"])[0]

    def person(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        h, w = rgb.shape[:2]
        p = self._run(self.selfie, cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_AREA) / 255.0)[..., 0]
        return cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)

    def hair(self, rgb: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        """Hair probability; the model takes the previous frame's mask as a
        fourth input channel for temporal consistency."""
        import cv2

        h, w = rgb.shape[:2]
        x = cv2.resize(rgb, (512, 512), interpolation=cv2.INTER_AREA) / 255.0
        prev = np.zeros((512, 512), np.float32) if previous is None else cv2.resize(previous, (512, 512))
        logits = self._run(self.hair_net, np.concatenate([x, prev[..., None]], -1))
        e = np.exp(logits - logits.max(-1, keepdims=True))
        p = (e[..., 1] / e.sum(-1)).astype(np.float32)
        return cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)


def label_frame(person: np.ndarray, hair: np.ndarray, lm2d: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """One frame's label map (uint8, LABELS) from probabilities, landmarks
    and the frame itself (RGB)."""
    import cv2

    h, w = person.shape
    face = np.zeros((h, w), np.uint8)
    cv2.fillPoly(face, [np.round(lm2d[FACE_OVAL]).astype(np.int32)], 1)
    mouth = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mouth, [np.round(lm2d[INNER_LIPS]).astype(np.int32)], 1)
    is_person = person > 0.5
    is_hair = (hair > 0.5) & is_person & (mouth == 0)
    # The rest of the head (ears, forehead above MediaPipe's oval): person
    # pixels above the chin inside the head's outline, the convex hull of the
    # face oval and the hair above the chin, grown by 15% of the face width.
    # Everything else of the person (neck, shoulders, chest) is torso.
    oval = lm2d[FACE_OVAL]
    chin_y = lm2d[CHIN, 1]
    above_chin = np.arange(h)[:, None] <= chin_y
    hy, hx = np.nonzero(is_hair & above_chin)
    pts = np.concatenate([oval, np.stack([hx, hy], 1)[:: max(1, hx.size // 2000)]]).astype(np.int32)
    hull = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(pts), 1)
    k = max(3, int(0.15 * (oval[:, 0].max() - oval[:, 0].min())) | 1)
    near = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
    labels = np.full((h, w), BACKGROUND, np.uint8)
    labels[is_person] = TORSO
    labels[is_person & near & above_chin] = HEAD_OTHER
    labels[face == 1] = FACE
    labels[is_hair] = HAIR
    labels[mouth == 1] = MOUTH
    return neck_to_head(labels, lm2d, rgb)


def neck_to_head(labels: np.ndarray, lm2d: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Gives the head the neck skin from the chin's tip down `NECK_MARGIN`
    face heights, between the face oval's sides: torso pixels there whose
    colour is the face's skin (`skin_like`) become `HEAD_OTHER` (the rest of
    the head), so that the torso layer starts below the chin's underside
    and its shadow. Clothes there (a collar, a tie, a scarf: where the neck
    is short or hidden) stay torso. Other labels are kept."""
    import cv2

    h, w = labels.shape
    oval = lm2d[FACE_OVAL]
    chin_y = float(lm2d[CHIN, 1])
    cut_y = chin_y + NECK_MARGIN * max(chin_y - float(oval[:, 1].min()), 0.0)
    rows = np.arange(h)[:, None]
    cols = np.arange(w)[None, :]
    band = (rows > chin_y) & (rows <= cut_y) & (cols >= oval[:, 0].min()) & (cols <= oval[:, 0].max())
    torso = band & (labels == TORSO)
    other = torso & ~skin_like(rgb, labels == FACE)
    # What fails the colour test within the skin (the darkest shadow or
    # crease right under the chin, JPEG noise) goes with the skin around
    # it. Cloth comes up from below: a piece stays torso when it reaches
    # the band's lowest row and is worth a share of the band.
    n, parts, stats, _ = cv2.connectedComponentsWithStats(other.astype(np.uint8), connectivity=8)
    bottom = min(int(np.floor(cut_y)), h - 1)
    reaches = stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT] - 1 >= bottom
    cloth = reaches & (stats[:, cv2.CC_STAT_AREA] >= SKIN_MIN_CLOTH * max(int(band.sum()), 1))
    cloth[0] = False
    out = labels.copy()
    out[torso & ~cloth[parts]] = HEAD_OTHER
    return out


# A pixel is skin when its chromaticity lies within this many robust
# standard deviations of the face's (floored at SKIN_MIN_SPREAD) and it is
# not too dark (mean of R, G, B below SKIN_MIN_LEVEL) for its colour to mean
# anything.
SKIN_SIGMAS = 3.0
SKIN_MIN_SPREAD = 0.01
SKIN_MIN_LEVEL = 25.0
# Non-skin pieces of the neck band smaller than this share of the band are
# specks within the skin, not cloth (see neck_to_head).
SKIN_MIN_CLOTH = 0.02


def skin_like(rgb: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Pixels whose chromaticity (r, g: R and G over R + G + B) is the
    face's: within `SKIN_SIGMAS` of the median of the face label's pixels,
    in units of their median absolute deviation. Chromaticity, not
    brightness, so that the shadow under the chin counts as skin and a
    white collar or a dark suit does not. All false when the face has too
    few pixels to say."""
    x = rgb.astype(np.float32)
    total = x.sum(-1)
    chroma = x[..., :2] / np.maximum(total, 1.0)[..., None]
    samples = chroma[face]
    if samples.shape[0] < 100:
        return np.zeros(face.shape, bool)
    median = np.median(samples, 0)
    spread = np.maximum(1.4826 * np.median(np.abs(samples - median), 0), SKIN_MIN_SPREAD)
    d2 = (((chroma - median) / spread) ** 2).sum(-1)
    return (d2 <= SKIN_SIGMAS**2) & (total >= 3 * SKIN_MIN_LEVEL)


def background_plate(frames: list[Path], labels: list[np.ndarray], max_samples: int = 100):
    """Median of each pixel over the sampled frames where it is background
    (eroded, away from the person's edge); pixels never seen are inpainted.
    Returns (RGB plate, mask of inpainted pixels)."""
    import cv2

    idx = np.linspace(0, len(frames) - 1, min(max_samples, len(frames))).astype(int)
    stack, valid = [], []
    kernel = np.ones((9, 9), np.uint8)
    for i in idx:
        img = cv2.imread(str(frames[i]))
        bg = cv2.erode((labels[i] == BACKGROUND).astype(np.uint8), kernel) > 0
        stack.append(np.where(bg[..., None], img, 0))
        valid.append(bg)
    stack = np.stack(stack).astype(np.float32)
    valid = np.stack(valid)
    data = np.where(valid[..., None], stack, np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(data, axis=0)
    hole = ~valid.any(0)
    med = np.nan_to_num(med).clip(0, 255).astype(np.uint8)
    plate = cv2.inpaint(med, hole.astype(np.uint8) * 255, 7, cv2.INPAINT_TELEA)
    return plate, hole
