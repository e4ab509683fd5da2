"""Exact integer HCLT: the pixel conditionals that reach the entropy coder.

Parameters are stored as uint8 log-codes: code ``c`` stands for the integer weight
``max(1, floor(2**(24 - c/8)))`` (exact integer table, :func:`code_weights`), i.e. a probability
quantized to 1/8 bit in the log domain (export is the only approximate step, costing about 0.001
bits/dim). Rows need not sum to anything: every use below is scale-invariant.

Coding order and cost. Pixels are coded in depth-first pre-order of the Chow-Liu tree. When
pixel ``t`` is coded, nothing in its subtree is known yet, and everything known lies outside it,
so ``p(x_t = v, x_<t) = sum_h out_t(h) L_t(h, v)`` where ``out_t`` is the outside message at
``h_t``. Caching, per tree node, the running product ``g`` of the outside message, the leaf
likelihood and the upward messages of the children finished so far (and ``b``, the same without
the outside message), each pixel costs one k x k product to enter its node, one k x 256 product
for its conditional, and one k x k product on leaving its subtree: O(k^2 + 256 k) per pixel,
i.e. one pass over the circuit per image instead of one per pixel, whatever the tree depth.

Exactness. Every quantity is a non-negative integer held in float64 and every sum stays below
2**53, so matrix products are exact in any summation order (BLAS, thread count, batch size do not
matter). After each product a vector is rescaled by an exact power of two so its maximum lies in
[2**21, 2**22) and floored (:func:`renorm`; frexp/ldexp/floor are exact). Conditionals become
24-bit frequencies with int64 arithmetic only (:func:`frequencies`). No exp/log, no float rounding
reaches the coder. The encoder evaluates the same formulas level by level for a whole batch
(:meth:`ExactHCLT.conditionals`); the decoder walks the tree (:meth:`ExactHCLT.decode`); both
perform the identical sequence of operations per node, so they agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from neurocodec.entropy import TOTAL

from .structure import Tree

SYMBOLS = 256
WEIGHT_BITS = 24      # stored weights are < 2**24 + 1
VECTOR_BITS = 22      # messages are rescaled to [2**21, 2**22)
CODES_PER_BIT = 8
ROW_BLOCK = 32        # pixels whose conditionals the batch encoder quantizes at once


def _iroot(n: int, k: int) -> int:
    """floor(n ** (1/k)) for non-negative integers, exactly."""
    x = 1 << (n.bit_length() // k + 1)
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def code_weights() -> np.ndarray:
    """float64 integer weight of each uint8 code: max(1, floor(2**(24 - c/8))), exact."""
    base = [_iroot(1 << (CODES_PER_BIT * WEIGHT_BITS - j), CODES_PER_BIT) for j in range(CODES_PER_BIT)]
    return np.array([max(1, base[c % CODES_PER_BIT] >> (c // CODES_PER_BIT)) for c in range(256)], dtype=np.float64)


def probabilities_to_codes(p: np.ndarray) -> np.ndarray:
    """uint8 codes of probabilities (export only; approximate by design, <= 1/16 bit per entry)."""
    p = np.asarray(p, dtype=np.float64)
    log2 = np.log2(np.maximum(p / p.sum(-1, keepdims=True), 1e-300))
    return np.clip(np.round(-CODES_PER_BIT * log2), 0, 255).astype(np.uint8)


def renorm(x: np.ndarray) -> np.ndarray:
    """Scale each row (last axis) by a power of two so its max is in [2**21, 2**22), then floor. Exact."""
    y = x * np.ldexp(1.0, VECTOR_BITS - np.frexp(x.max(-1, keepdims=True))[1])
    return np.floor(y, out=y)


def frequencies(rows: np.ndarray) -> np.ndarray:
    """int64 frequencies (sum ``TOTAL``, all >= 1) proportional to non-negative integer ``rows`` [..., 256].

    Row sums are below 2**53 (checked when the model is built), so they are exact in any order;
    the scale ``(TOTAL - 256) / sum`` and the products are single correctly rounded IEEE
    operations, identical on every machine. The floors leave a remainder in [0, 256), given to
    the largest entry.
    """
    f = rows * ((TOTAL - SYMBOLS) / rows.sum(-1, keepdims=True))
    np.floor(f, out=f)
    f += 1.0
    flat_f = f.reshape(-1, SYMBOLS)
    flat_f[np.arange(len(flat_f)), np.argmax(rows.reshape(-1, SYMBOLS), axis=-1)] += TOTAL - flat_f.sum(-1)
    return f.astype(np.int64)


class ExactHCLT:
    """Integer HCLT from uint8 codes: ``prior`` [k], ``transition`` [D, k, k], ``leaves`` [D, k, 256]."""

    def __init__(self, parent: np.ndarray, prior: np.ndarray, transition: np.ndarray, leaves: np.ndarray):
        self.tree = Tree(parent)
        w = code_weights()
        self.prior, self.transition, self.leaves = w[prior], w[transition], w[leaves]
        self.k = self.prior.shape[0]
        self.prior = np.maximum(renorm(self.prior), 1.0)  # > 0 everywhere: no message can vanish
        # Largest sum any product below can form: a message (< 2**22 per state) against a row or
        # column of a transition, or against all of a node's leaf weights (a conditional's total).
        widest = max(self.transition.sum(-1).max(), self.transition.sum(-2).max(), self.leaves.sum((-2, -1)).max())
        if widest * 2**VECTOR_BITS >= 2**53:
            raise ValueError(f"k = {self.k} latent states would overflow exact float64 sums")
        self.columns = np.ascontiguousarray(self.leaves.transpose(0, 2, 1))  # [D, 256, k]
        self.transition_t = np.ascontiguousarray(self.transition.transpose(0, 2, 1))
        self._plan = self._level_plan()

    @property
    def size(self) -> int:
        return self.tree.size

    def _level_plan(self) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        """Per level, per child rank r: (nodes with an r-th child, those children)."""
        plan = []
        for nodes in self.tree.levels:
            ranks = []
            for r in range(max(len(self.tree.children[v]) for v in nodes)):
                has = [v for v in nodes if len(self.tree.children[v]) > r]
                ranks.append((np.array(has), np.array([self.tree.children[v][r] for v in has])))
            plan.append(ranks)
        return plan

    def _entry(self, g_parent: np.ndarray, nodes) -> np.ndarray:
        """Outside messages of ``nodes`` from their parents' running products: renorm(g @ T)."""
        return renorm(_matmul(g_parent, self.transition[nodes]))

    def _up(self, beta: np.ndarray, nodes) -> np.ndarray:
        """Upward messages of finished subtrees: renorm(T @ beta)."""
        return renorm(_matmul(beta, self.transition_t[nodes]))

    def _rows(self, out: np.ndarray, nodes) -> np.ndarray:
        """Unnormalized conditionals sum_h out(h) L(h, v) (exact integers)."""
        return _matmul(out, self.leaves[nodes])

    def conditionals(self, x: np.ndarray) -> np.ndarray:
        """int64 frequency rows [D, B, 256] of each pixel in pre-order (pixel-major, the order of
        a multi-image stream), given ``x`` [B, D] uint8."""
        d = x.shape[1]
        lx = renorm(self.columns[np.arange(d)[:, None], x.T])  # [D, B, k]: leaf likelihood of the value
        up, beta = np.zeros_like(lx), lx.copy()
        for l in range(len(self._plan) - 1, -1, -1):  # upward: b = lx * in(child 0) * in(child 1) ...
            for parents, kids in self._plan[l]:
                beta[parents] = renorm(beta[parents] * up[kids])
            if l > 0:
                nodes = self.tree.levels[l]
                up[nodes] = self._up(beta[nodes], nodes)
        out, g = np.empty_like(lx), np.empty_like(lx)
        out[self.tree.root] = self.prior
        for l, ranks in enumerate(self._plan):  # downward: g = out * lx, then * in(child) after each child
            nodes = self.tree.levels[l]
            g[nodes] = renorm(out[nodes] * lx[nodes])
            for parents, kids in ranks:
                out[kids] = self._entry(g[parents], kids)
                g[parents] = renorm(g[parents] * up[kids])
        order = np.asarray(self.tree.preorder)
        freqs = np.empty((d, x.shape[0], SYMBOLS), dtype=np.int64)
        for i in range(0, d, ROW_BLOCK):  # in cache-sized blocks
            nodes = order[i:i + ROW_BLOCK]
            freqs[i:i + ROW_BLOCK] = frequencies(self._rows(out[nodes], nodes))
        return freqs

    def decode(self, n: int, next_symbols: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Pixels [n, D] decoded in pre-order; ``next_symbols(freqs [n, 256])`` returns one value per image."""
        tree, d = self.tree, self.size
        x = np.zeros((n, d), dtype=np.int64)
        g = np.zeros((d, n, self.k))
        b = np.zeros((d, n, self.k))
        for t, entering in _walk(tree):
            p = tree.parent[t]
            if entering:
                out = np.repeat(self.prior[None], n, 0) if p < 0 else self._entry(g[p], t)
                x[:, t] = next_symbols(frequencies(self._rows(out, t)))
                lx = renorm(self.columns[t, x[:, t]])
                g[t], b[t] = renorm(out * lx), lx
            elif p >= 0:
                up = self._up(b[t], t)
                g[p], b[p] = renorm(g[p] * up), renorm(b[p] * up)
        return x


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched float64 matrix product; exact here since all terms are integers with sums < 2**53."""
    return torch.matmul(torch.from_numpy(a), torch.from_numpy(b)).numpy()


def _walk(tree: Tree):
    """Depth-first (node, entering) events: (t, True) before t's subtree, (t, False) after it."""
    stack = [(tree.root, True)]
    while stack:
        t, entering = stack.pop()
        yield t, entering
        if entering:
            stack.append((t, False))
            stack.extend((c, True) for c in reversed(tree.children[t]))
