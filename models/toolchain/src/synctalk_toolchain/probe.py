"""Inspecting and decoding a talking video with Debian's ffmpeg/ffprobe."""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .media import MediaError, ffmpeg

MIN_SECONDS = 1.0


@dataclass
class VideoInfo:
    """What ffprobe says about a video file."""

    width: int
    height: int
    fps: float
    avg_fps: float
    variable_frame_rate: bool
    duration: float
    has_audio: bool
    audio_rate: int | None
    audio_channels: int | None


def _rate(s: str | None) -> float:
    try:
        f = Fraction(s or "0/1")
        return float(f) if f.denominator else 0.0
    except (ValueError, ZeroDivisionError):
        return 0.0


def probe(path: Path) -> VideoInfo:
    """Reads stream information; refuses files without a usable video stream."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    exe = shutil.which("ffprobe")
    if exe is None:
        raise MediaError("ffprobe is not installed (Debian: apt-get install ffmpeg)")
    r = subprocess.run(
        [exe, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
    )
    if r.returncode != 0:
        raise MediaError(f"{path}: cannot read it as a video: {r.stderr.decode(errors='replace').strip()[:300]}")
    meta = json.loads(r.stdout or b"{}")
    streams = meta.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        raise MediaError(f"{path}: no video stream")
    fps, avg = _rate(video.get("r_frame_rate")), _rate(video.get("avg_frame_rate"))
    duration = float(video.get("duration") or meta.get("format", {}).get("duration") or 0.0)
    info = VideoInfo(
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        fps=fps,
        avg_fps=avg,
        variable_frame_rate=bool(fps and avg and abs(fps - avg) / fps > 0.01),
        duration=duration,
        has_audio=audio is not None,
        audio_rate=int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
        audio_channels=int(audio["channels"]) if audio and audio.get("channels") else None,
    )
    if info.width <= 0 or info.height <= 0:
        raise MediaError(f"{path}: the video stream has no picture size")
    times = packet_times(exe, path)
    if times.size >= 3:
        gaps = np.diff(times)
        gaps = gaps[gaps > 0]
        if gaps.size >= 2:
            info.avg_fps = float((times.size - 1) / (times[-1] - times[0]))
            # Containers do not always say (MKV reports its timebase as the
            # average rate): look at the frames' own spacing.
            info.variable_frame_rate = bool(np.percentile(gaps, 95) > 1.1 * np.percentile(gaps, 5))
    return info


def packet_times(ffprobe: str, path: Path) -> np.ndarray:
    """Sorted presentation times (s) of the first video stream's packets,
    without decoding; empty when ffprobe cannot list them."""
    r = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", str(path)],
        capture_output=True,
    )
    if r.returncode != 0:
        return np.zeros(0)
    vals = []
    for line in r.stdout.decode(errors="replace").split():
        try:
            vals.append(float(line.strip(",")))
        except ValueError:
            continue
    return np.sort(np.array(vals, dtype=np.float64))


def decode_frames(path: Path, out_dir: Path, fps: float) -> int:
    """Decodes the video to JPEG frames at a constant `fps` (variable frame
    rates are resampled by ffmpeg's fps filter). Returns the frame count."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.jpg"):
        old.unlink()
    r = subprocess.run(
        [ffmpeg(), "-nostdin", "-v", "error", "-i", str(path), "-vf", f"fps={fps}", "-vsync", "cfr",
         "-q:v", "2", "-start_number", "0", str(out_dir / "%06d.jpg")],
        capture_output=True,
    )
    if r.returncode != 0:
        raise MediaError(f"{path}: ffmpeg cannot decode the frames: {r.stderr.decode(errors='replace').strip()[:300]}")
    return len(list(out_dir.glob("*.jpg")))
