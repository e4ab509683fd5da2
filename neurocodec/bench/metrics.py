"""Quality and rate metrics for the benchmarks.

Exact (up to float64 rounding): `psnr`, `bpp`, `bits_per_dim`, `kbps`, `snr_db`.
Defined by a convention, so compare only with numbers made the same way:
- `ms_ssim`: pytorch-msssim's MS-SSIM (Gaussian window 11, sigma 1.5, the standard five scales)
  on float RGB in [0, 255] with data_range 255, as CompressAI computes it. It needs both sides
  of an image to be at least 161 pixels; smaller images give NaN.
- `log_spectral_distance`: see its docstring for the STFT and the floor used.
- `pesq_score` and `stoi_score` wrap the `pesq` and `pystoi` packages; they return None where
  the package is not installed or the metric is not defined for the input.
"""

from __future__ import annotations

import math

import numpy as np

MS_SSIM_MIN_SIDE = 161  # pytorch-msssim: (win_size - 1) * 2**4 + 1 for the five scales


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float = 255.0) -> float:
    """PSNR in dB over every sample of two same-shaped arrays; inf where they are equal."""
    _check_same_shape(reference, test)
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else float(10 * np.log10(data_range**2 / mse))


def ms_ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """MS-SSIM of two uint8 images, HxWx3 or HxW, on float values in [0, 255].

    Runs on one torch thread: its small convolutions gain little from more, and lose several
    times over when the cores are busy (the codecs being measured use them too).
    """
    _check_same_shape(reference, test)
    if min(reference.shape[:2]) < MS_SSIM_MIN_SIDE:
        return math.nan
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    def as_batch(x: np.ndarray) -> torch.Tensor:
        x = x[..., None] if x.ndim == 2 else x
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(2, 0, 1)[None]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            return float(_ms_ssim(as_batch(reference), as_batch(test), data_range=255.0))
    finally:
        torch.set_num_threads(threads)


def ms_ssim_db(value: float) -> float:
    """MS-SSIM on a dB scale, -10 log10(1 - MS-SSIM), as CompressAI plots it."""
    return math.inf if value >= 1 else -10 * math.log10(1 - value)


def bpp(num_bytes: int, height: int, width: int) -> float:
    """Bits per pixel: the whole encoded size over the pixel count (per frame times frames for video)."""
    return 8 * num_bytes / (height * width)


def bits_per_dim(num_bytes: int, num_dims: int) -> float:
    """Bits per dimension: the whole encoded size over the number of samples (H*W*C for images)."""
    return 8 * num_bytes / num_dims


def kbps(num_bytes: int, seconds: float) -> float:
    """Bit rate in kbit/s (1000 bit/s) of `num_bytes` that hold `seconds` of media."""
    return 8 * num_bytes / seconds / 1000


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-noise ratio in dB: signal energy over error energy, summed over all samples."""
    _check_same_shape(reference, test)
    ref = reference.astype(np.float64)
    noise = np.sum((ref - test.astype(np.float64)) ** 2)
    return math.inf if noise == 0 else float(10 * np.log10(np.sum(ref**2) / noise))


def log_spectral_distance(
    reference: np.ndarray, test: np.ndarray, n_fft: int = 2048, hop: int = 512, floor: float = 1e-8
) -> float:
    """Log-spectral distance in dB of two signals shaped [channels, n] (or [n]) in [-1, 1].

    Per channel: power spectra from a Hann-windowed STFT (n_fft, hop, no padding), divided by the
    window's energy so that white noise of variance s2 has power s2 in every bin; then for each
    frame the RMS over frequency of 10 log10(P_ref + floor) - 10 log10(P_test + floor); the result
    is the mean over frames and channels. The floor (default -80 dB, some 20 dB above 16-bit
    quantization noise) makes bins where both signals are quieter count as equal; without it the
    distance is dominated by near-silent bins (a 16-bit copy of a float signal would score over
    10 dB). It is a convention: keep it fixed when comparing numbers. NaN for signals shorter
    than one window.
    """
    _check_same_shape(reference, test)
    ref, tst = np.atleast_2d(reference), np.atleast_2d(test)
    if ref.shape[1] < n_fft:
        return math.nan
    window = np.hanning(n_fft)

    def log_power(x: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), n_fft, axis=-1)[..., ::hop, :]
        power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2 / np.sum(window**2)
        return 10 * np.log10(power + floor)

    diff = log_power(ref) - log_power(tst)
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=-1))))


def pesq_score(reference: np.ndarray, test: np.ndarray, rate: int) -> float | None:
    """PESQ (ITU-T P.862: wide band at 16 kHz, narrow band at 8 kHz) of mono signals.

    None where `pesq` is not installed or the rate is neither 8 nor 16 kHz; NaN where PESQ
    rejects the signal (for example when it finds no speech in it).
    """
    if rate not in (8000, 16000):
        return None
    try:
        from pesq import pesq
    except ImportError:
        return None
    try:
        return float(pesq(rate, _mono(reference), _mono(test), "wb" if rate == 16000 else "nb"))
    except Exception:  # pesq raises its own error types for signals it cannot score
        return math.nan


def stoi_score(reference: np.ndarray, test: np.ndarray, rate: int) -> float | None:
    """STOI (Taal et al. 2011, via pystoi, which resamples to 10 kHz) of mono signals; None without pystoi."""
    try:
        from pystoi import stoi
    except ImportError:
        return None
    return float(stoi(_mono(reference), _mono(test), rate, extended=False))


def _mono(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x if x.ndim == 1 else x.mean(axis=0)


def _check_same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
