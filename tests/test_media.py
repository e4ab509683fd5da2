"""Media I/O: exact round trips where the format is lossless, clear errors otherwise."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
from conftest import datasets

from neurocodec import media
from neurocodec.errors import NeurocodecError


def test_image_png_round_trip_rgb_and_gray(tmp_path, image):
    for array in (image, image[..., 0]):
        media.write_image(tmp_path / "a.png", array)
        np.testing.assert_array_equal(media.read_image(tmp_path / "a.png"), array)


def test_image_write_refuses_unknown_extension(tmp_path, image):
    with pytest.raises(NeurocodecError):
        media.write_image(tmp_path / "a.xyz", image)
    assert list(tmp_path.iterdir()) == []  # no partial or temporary file left


@pytest.mark.parametrize("ext", [".wav", ".flac"])
@pytest.mark.parametrize("channels", [1, 2])
def test_audio_round_trip_is_exact_at_16_bits(tmp_path, ext, channels):
    rng = np.random.default_rng(0)
    samples = (rng.integers(-20000, 20000, (channels, 30000)) / 32767).astype(np.float32)
    media.write_audio(tmp_path / f"a{ext}", media.Audio(samples, 44100))
    back = media.read_audio(tmp_path / f"a{ext}")
    assert back.rate == 44100 and back.samples.shape == samples.shape
    np.testing.assert_allclose(back.samples, samples, atol=1 / 32767)


def test_audio_streams_in_chunks(tmp_path):
    samples = np.zeros((2, 100_000), np.float32)
    media.write_audio(tmp_path / "a.wav", media.Audio(samples, 48000))
    chunks = list(media.iter_audio(tmp_path / "a.wav", chunk=16384))
    assert len(chunks) > 4 and sum(c.samples.shape[1] for c in chunks) == 100_000


def test_video_mp4_is_lossless_and_y4m_close(tmp_path, image):
    frames = [np.roll(image[:36, :52], k, axis=1) for k in range(4)]
    assert media.write_video(tmp_path / "v.mp4", frames, Fraction(25)) == 4
    for a, b in zip(frames, media.iter_frames(tmp_path / "v.mp4")):
        np.testing.assert_array_equal(a, b)
    media.write_video(tmp_path / "v.y4m", frames, Fraction(25))
    back = list(media.iter_frames(tmp_path / "v.y4m"))
    assert len(back) == 4 and max(np.abs(a.astype(int) - b).max() for a, b in zip(frames, back)) <= 3  # YUV 4:4:4 rounding
    info = media.video_info(tmp_path / "v.mp4")
    assert (info.width, info.height, info.fps) == (52, 36, 25)


def test_raw_h264_stream_is_read_frame_by_frame():
    path = datasets("video") / "foreman_cif_intra.264"
    frames = list(itertools.islice(media.iter_frames(path), 3))
    assert len(frames) == 3 and frames[0].shape == (288, 352, 3)


def test_modality_from_extension():
    assert media.modality_of("a.PNG") == "image" and media.modality_of("b.flac") == "audio"
    assert media.modality_of("c.264") == "video"
    with pytest.raises(NeurocodecError):
        media.modality_of("d.txt")
