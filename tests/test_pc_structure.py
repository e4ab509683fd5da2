"""pc-lossless structure learning: Chow-Liu trees on tiny data, and the orders derived from them."""

import numpy as np
import pytest

from neurocodec.codecs.pc.structure import Tree, chow_liu, maximum_spanning_tree, mutual_information, root_at_centre


def _chain_data(n: int = 4000, d: int = 6, seed: int = 0) -> np.ndarray:
    """Pixels that copy their left neighbour with noise: the true tree is the chain 0-1-...-(d-1)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, d), dtype=np.uint8)
    x[:, 0] = rng.integers(0, 2, n) * 255
    for i in range(1, d):
        flip = rng.random(n) < 0.1
        x[:, i] = np.where(flip, 255 - x[:, i - 1], x[:, i - 1])
    return x


def test_mutual_information_is_symmetric_and_largest_between_neighbours():
    mi = mutual_information(_chain_data())
    np.testing.assert_allclose(mi, mi.T, atol=1e-12)
    assert mi[0, 1] > mi[0, 2] > mi[0, 3]
    assert np.all(mi >= -1e-12)


def test_chow_liu_recovers_a_chain():
    x = _chain_data(d=6)
    parent = chow_liu(x, shape=(2, 3))
    edges = {frozenset((v, int(p))) for v, p in enumerate(parent) if p >= 0}
    assert edges == {frozenset((i, i + 1)) for i in range(5)}
    assert Tree(parent).depth.max() == 3  # rooted at a centre of the 6-chain


def test_maximum_spanning_tree_of_a_known_graph():
    w = np.array([[0, 5, 1, 0], [5, 0, 2, 4], [1, 2, 0, 3], [0, 4, 3, 0]], dtype=float)
    assert {frozenset(e) for e in maximum_spanning_tree(w)} == {frozenset(e) for e in [(0, 1), (1, 3), (3, 2)]}
    parent = root_at_centre(maximum_spanning_tree(w), 4)
    assert (parent < 0).sum() == 1


def test_tree_orders():
    parent = np.array([-1, 0, 0, 1, 1, 2])
    tree = Tree(parent)
    assert tree.preorder == [0, 1, 3, 4, 2, 5]
    assert [list(l) for l in tree.levels] == [[0], [1, 2], [3, 4, 5]]
    assert tree.children[1] == [3, 4]
    with pytest.raises(ValueError):
        Tree(np.array([-1, -1]))
