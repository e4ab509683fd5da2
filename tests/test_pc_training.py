"""pc-lossless training helpers: loading shipped codes, growing the circuit, shift augmentation, EM."""

import numpy as np
import torch

from neurocodec.codecs.pc.exact import probabilities_to_codes
from neurocodec.codecs.pc.hclt import HCLT
from neurocodec.codecs.pc.train import shifted


def _model(seed: int = 0, d: int = 9, k: int = 4) -> tuple[HCLT, torch.Tensor]:
    rng = np.random.default_rng(seed)
    parent = np.array([-1] + [int(rng.integers(0, v)) for v in range(1, d)])
    x = rng.integers(0, 256, (40, d)).astype(np.uint8)
    return HCLT.initial(parent, k, x, seed=seed), torch.from_numpy(x.astype(np.int64))


def test_split_doubles_the_states_and_keeps_the_likelihood():
    model, x = _model()
    grown = model.split(seed=1, noise=0.02)
    assert grown.k == 2 * model.k and grown.leaves.shape == (9, 8, 256)
    for p in grown.parameters():
        torch.testing.assert_close(p.sum(-1), torch.ones(p.shape[:-1]))
    torch.testing.assert_close(grown.log_likelihood(x), model.log_likelihood(x), atol=0.05, rtol=0)
    assert not torch.equal(grown.leaves[:, 0], grown.leaves[:, 1])  # the copies can diverge


def test_from_codes_rebuilds_the_float_model_to_within_the_code_precision():
    model, x = _model(seed=2)
    state = {"parent": torch.from_numpy(model.tree.parent)}
    state.update({n: torch.from_numpy(probabilities_to_codes(p.double().numpy()))
                  for n, p in zip(("prior", "transition", "leaves"), model.parameters())})
    loaded = HCLT.from_codes(state)
    per_dim = (loaded.log_likelihood(x) - model.log_likelihood(x)).abs() / x.shape[1] / np.log(2)
    assert per_dim.max() < 1 / 16  # uint8 codes are 1/8 bit apart in the log domain


def test_em_improves_the_training_likelihood():
    model, x = _model(seed=3)
    before = model.log_likelihood(x).mean()
    counts, _ = model.expected_counts(x)
    model.em_update(counts, 1.0, (1e-2, 1e-3))
    assert model.log_likelihood(x).mean() > before


def test_shifts_move_whole_images_with_zero_fill():
    x = np.arange(1, 2 * 5 * 6 + 1, dtype=np.uint8).reshape(2, 5, 6)
    y = shifted(x, 2, np.random.default_rng(0))
    assert y.shape == x.shape and y.dtype == x.dtype
    for a, b in zip(x, y):
        hits = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                if np.array_equal(b, np.roll(a, (dy, dx), (0, 1)) * _inside(a.shape, dy, dx))]
        assert len(hits) == 1
    assert not np.array_equal(shifted(x, 2, np.random.default_rng(1)), shifted(x, 2, np.random.default_rng(2)))


def _inside(shape: tuple[int, int], dy: int, dx: int) -> np.ndarray:
    """1 where a pixel moved by (dy, dx) came from inside the image, 0 where zeros fill in."""
    rows = np.arange(shape[0]) - dy
    cols = np.arange(shape[1]) - dx
    return ((rows >= 0) & (rows < shape[0]))[:, None] & ((cols >= 0) & (cols < shape[1]))[None, :]
