"""Bench metrics and BD-rates on cases worked out by hand."""

import math

import numpy as np
import pytest

from neurocodec.bench import bdrate, metrics


def test_psnr_of_a_known_error():
    a = np.zeros((10, 10, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 10  # MSE = 100 / 300
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255**2 * 3))
    assert metrics.psnr(a, a) == math.inf
    with pytest.raises(ValueError):
        metrics.psnr(a, a[:5])


def test_psnr_uses_float64_not_uint8_wraparound():
    a = np.full((4, 4), 250, np.uint8)
    b = np.full((4, 4), 5, np.uint8)
    assert metrics.psnr(a, b) == pytest.approx(20 * math.log10(255 / 245))


def test_ms_ssim_identical_is_one_and_small_images_are_nan():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (170, 180, 3), dtype=np.uint8)
    assert metrics.ms_ssim(image, image) == pytest.approx(1.0, abs=1e-6)
    noisy = np.clip(image + rng.normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    assert 0 < metrics.ms_ssim(image, noisy) < 1
    assert math.isnan(metrics.ms_ssim(image[:100], image[:100]))
    assert metrics.ms_ssim_db(0.99) == pytest.approx(20.0)


def test_rates_from_sizes():
    assert metrics.bpp(1000, 80, 100) == 1.0
    assert metrics.bits_per_dim(294, 28 * 28 * 3) == pytest.approx(1.0)
    assert metrics.kbps(16000, 2.0) == 64.0


def test_snr_and_log_spectral_distance_hand_cases():
    t = np.arange(48000) / 48000
    x = np.sin(2 * np.pi * 440 * t)[None] + 0.1 * np.random.default_rng(1).standard_normal((1, 48000))
    assert metrics.snr_db(x, 0.9 * x) == pytest.approx(20.0)  # error is 0.1 x: energy ratio 100
    assert metrics.log_spectral_distance(x, x) == 0.0
    # Doubling the signal raises every power by 20 log10(2) dB, so the RMS difference is that constant.
    assert metrics.log_spectral_distance(x, 2 * x, floor=0) == pytest.approx(20 * math.log10(2), rel=1e-9)
    # The -80 dB floor hides 16-bit rounding, which sits some 20 dB below it.
    assert metrics.log_spectral_distance(x, np.round(x * 32767) / 32767) < 0.05
    assert math.isnan(metrics.log_spectral_distance(x[:, :100], x[:, :100]))


def test_speech_metrics_skip_rates_they_do_not_define():
    x = np.zeros(44100)
    assert metrics.pesq_score(x, x, 44100) is None


def test_bd_rate_of_a_curve_shifted_by_a_constant_rate_factor_is_that_factor():
    rate = [0.1, 0.2, 0.4, 0.8, 1.6]
    psnr = [28.0, 30.5, 32.0, 34.5, 36.0]
    assert bdrate.bd_rate(rate, psnr, [r * 0.8 for r in rate], psnr) == pytest.approx(-20.0, abs=1e-9)
    assert bdrate.bd_rate(rate, psnr, [r * 1.25 for r in rate], psnr) == pytest.approx(25.0, abs=1e-9)
    assert bdrate.bd_quality(rate, psnr, rate, [p + 0.5 for p in psnr]) == pytest.approx(0.5, abs=1e-9)


def test_bd_rate_two_point_hand_case():
    # Two points are interpolated linearly in (quality, log10 rate): anchor log r = (q - 30) / 10 * log 4,
    # test log r = (q - 31) / 10 * log 4, so at equal quality the rate ratio is 4 ** -0.1 everywhere.
    value = bdrate.bd_rate([1, 4], [30, 40], [1, 4], [31, 41])
    assert value == pytest.approx((4**-0.1 - 1) * 100, abs=1e-9)


def test_bd_rate_for_lower_is_better_metrics():
    rate = [8, 16, 32, 64]
    lsd = [12.0, 9.0, 7.0, 6.0]
    assert bdrate.bd_rate(rate, lsd, [r / 2 for r in rate], lsd, higher_is_better=False) == pytest.approx(-50.0)
    assert bdrate.bd_quality(rate, lsd, rate, [v - 1 for v in lsd], higher_is_better=False) == pytest.approx(-1.0)


def test_curves_are_cleaned_before_interpolation():
    rate, quality = bdrate.monotone_curve([0.4, 0.1, 0.2, 0.3, math.nan], [31, 28, 30, 29.5, 40])
    assert rate.tolist() == [0.1, 0.2, 0.4] and quality.tolist() == [28, 30, 31]
    assert math.isnan(bdrate.bd_rate([1], [30], [1, 2], [30, 31]))
    assert math.isnan(bdrate.bd_rate([1, 2], [30, 31], [1, 2], [40, 41]))  # no overlap
