"""pc-lossless exact arithmetic: integer tables, chain rule, and identical conditionals everywhere."""

import numpy as np
import torch

from neurocodec.codecs.pc.exact import ExactHCLT, code_weights, frequencies, probabilities_to_codes, renorm
from neurocodec.codecs.pc.hclt import HCLT
from neurocodec.entropy import TOTAL


def _random_model(seed: int = 0, d: int = 10, k: int = 4) -> tuple[HCLT, ExactHCLT]:
    rng = np.random.default_rng(seed)
    parent = np.array([-1] + [int(rng.integers(0, v)) for v in range(1, d)])
    x = rng.integers(0, 256, (50, d)).astype(np.uint8)
    float_model = HCLT.initial(parent, k, x, seed=seed)
    codes = [probabilities_to_codes(t.double().numpy()) for t in float_model.parameters()]
    return float_model, ExactHCLT(parent, *codes)


def test_code_weights_are_exact_powers_of_two_eighths():
    w = code_weights()
    assert w[0] == 2**24 and w[8] == 2**23 and w[16] == 2**22 and w[255] == 1
    assert np.all(np.diff(w) <= 0) and np.all(w >= 1) and np.all(w == np.floor(w))
    assert abs(w[4] / 2**24 - 2 ** -0.5) < 1e-6


def test_frequencies_are_valid_and_proportional():
    rows = np.floor(np.random.default_rng(0).random((5, 256)) ** 8 * 2**40)
    rows[0, :] = 0
    rows[0, 7] = 1
    f = frequencies(rows)
    assert f.dtype == np.int64 and np.all(f.sum(-1) == TOTAL) and np.all(f >= 1)
    assert f[0, 7] == TOTAL - 255
    np.testing.assert_allclose(f[1:] / TOTAL, rows[1:] / rows[1:].sum(-1, keepdims=True), atol=2e-5)


def test_renorm_scales_by_powers_of_two_into_range():
    x = np.array([[3.0, 1.0, 0.0], [2.0**50, 2.0**10, 7.0]])
    y = renorm(x)
    assert np.all(y.max(-1) >= 2**21) and np.all(y.max(-1) < 2**22)
    assert y[0, 0] == 3 * 2**20 and y[0, 1] == 2**20


def test_conditionals_follow_the_chain_rule_of_the_float_circuit():
    float_model, exact = _random_model()
    x = np.random.default_rng(1).integers(0, 256, (20, 10)).astype(np.uint8)
    freqs = exact.conditionals(x)
    order = np.asarray(exact.tree.preorder)
    bits = -np.log2(np.take_along_axis(freqs, x.T[order, :, None].astype(np.int64), -1) / TOTAL).sum((0, 2))
    reference = -float_model.log_likelihood(torch.from_numpy(x.astype(np.int64))).double().numpy() / np.log(2)
    np.testing.assert_allclose(bits, reference, atol=0.02 * x.shape[1])  # 1/8-bit codes: small, bounded error


def test_decoder_walk_rebuilds_the_encoder_tables_and_batch_does_not_matter():
    _, exact = _random_model(seed=2, d=12)
    x = np.random.default_rng(3).integers(0, 256, (7, 12)).astype(np.uint8)
    freqs = exact.conditionals(x)
    order = np.asarray(exact.tree.preorder)
    seen = []

    def next_symbols(f):
        seen.append(f)
        return x[:, order[len(seen) - 1]].astype(np.int64)

    np.testing.assert_array_equal(exact.decode(len(x), next_symbols), x)
    np.testing.assert_array_equal(np.stack(seen), freqs)
    for i in range(len(x)):
        np.testing.assert_array_equal(exact.conditionals(x[i:i + 1])[:, 0], freqs[:, i])
