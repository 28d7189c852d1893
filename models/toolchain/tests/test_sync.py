"""Articulation sync on a real clip: pocketsphinx phones of its audio against
MediaPipe's lip aperture of its frames. Own audio must score well at a small
negative shift (the lips lead the sound); another speaker's audio must not."""
import numpy as np
import pytest

from synctalk_toolchain import landmarks, media, probe, sync


@pytest.fixture(scope="module")
def katie(clip, tmp_path_factory):
    d = tmp_path_factory.mktemp("sync")
    probe.decode_frames(clip, d, 25.0)
    track = landmarks.track(sorted(d.glob("*.jpg")), 25.0)
    return media.load_audio(clip), sync.lip_aperture(track.landmarks)


def test_own_audio_is_in_sync(katie):
    audio, ap = katie
    segs, transcript = sync.phones(audio)
    assert len(transcript.split()) >= 10
    assert all(e > s for _, s, e in segs) and segs[-1][2] <= len(audio) / 16000 + 0.05
    score = sync.articulation_contrast(segs, ap, 25.0)
    assert score.best_contrast >= 1.5, score
    assert -4 <= score.best_shift <= 0, score
    # The shift matters: far from the best one the contrast falls.
    assert min(score.contrasts[4], score.contrasts[3]) < score.best_contrast - 0.8


def test_other_speakers_audio_is_not(katie, clip):
    _, ap = katie
    other = media.load_audio(clip.parents[1] / "audio" / "RD_Radio31_000.wav")
    segs, _ = sync.phones(other)
    assert sync.articulation_contrast(segs, ap[: int(len(other) / 16000 * 25)], 25.0).best_contrast < 1.0


def test_errors():
    with pytest.raises(sync.AlignError, match="silent"):
        sync.phones(np.zeros(16000))
    with pytest.raises(sync.AlignError, match="NaN"):
        sync.phones(np.full(16000, np.nan))
    with pytest.raises(sync.AlignError, match="never moves"):
        sync.articulation_contrast([("AA", 0.0, 1.0), ("M", 1.0, 2.0)], np.ones(100), 25.0)
