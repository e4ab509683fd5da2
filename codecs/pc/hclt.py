"""Hidden Chow-Liu tree (HCLT) probabilistic circuit in PyTorch, trained by EM (CPU or CUDA).

    p(x) = sum_h p(h_root) * prod_{edges p->c} p(h_c | h_p) * prod_i p(x_i | h_i)

Each pixel ``x_i`` (256 values) hangs off a hidden variable ``h_i`` with ``k`` states; the hidden
variables follow the Chow-Liu tree. As a circuit, node ``i`` is a product of its leaf and one
sum node per child. Training evaluates it in float32 log space, level by level from the leaves
(approximate, fine for learning); the expected counts that EM needs are the parameters times the
gradients of the log-likelihood (circuit flows). Coding never uses this float model: see
:mod:`.exact`.
"""

from __future__ import annotations

import numpy as np
import torch

from .exact import SYMBOLS, code_weights
from .structure import Tree


class HCLT:
    """Parameters ``prior`` [k], ``transition`` [D, k, k] (row = parent state) and ``leaves`` [D, k, 256]."""

    def __init__(self, parent: np.ndarray, prior: torch.Tensor, transition: torch.Tensor, leaves: torch.Tensor):
        self.tree = Tree(parent)
        self.prior, self.transition, self.leaves = prior, transition, leaves
        device = leaves.device
        self._levels = [torch.as_tensor(lv, device=device) for lv in self.tree.levels]
        # For level l >= 1: index of each node's parent inside level l - 1.
        self._parent_local = []
        for l in range(1, len(self.tree.levels)):
            where = {int(v): i for i, v in enumerate(self.tree.levels[l - 1])}
            local = [where[int(self.tree.parent[v])] for v in self.tree.levels[l]]
            self._parent_local.append(torch.as_tensor(local, device=device))

    @property
    def k(self) -> int:
        return self.prior.shape[0]

    @classmethod
    def initial(cls, parent: np.ndarray, k: int, x: np.ndarray, seed: int = 0, device: str = "cpu") -> "HCLT":
        """Random start: leaves are the pixel histograms perturbed per latent state."""
        g = torch.Generator().manual_seed(seed)
        d = len(parent)
        hist = torch.zeros(d, SYMBOLS, dtype=torch.float64)
        hist.scatter_add_(1, torch.from_numpy(x.T.astype(np.int64)), torch.ones(d, x.shape[0], dtype=torch.float64))
        hist = (hist + 1.0) / (hist.sum(1, keepdim=True) + SYMBOLS)
        leaves = hist[:, None, :] * torch.exp(2.0 * torch.rand(d, k, SYMBOLS, generator=g, dtype=torch.float64))
        transition = torch.exp(torch.rand(d, k, k, generator=g, dtype=torch.float64))
        prior = torch.ones(k, dtype=torch.float64)
        return cls(parent, *(_normalize(t).float().to(device) for t in (prior, transition, leaves)))

    def split(self, seed: int = 0, noise: float = 0.05) -> "HCLT":
        """The same circuit with ``2 k`` latent states: each state becomes two slightly perturbed
        copies, so the likelihood starts where this one is and EM can use the new capacity."""
        g = torch.Generator().manual_seed(seed)

        def jitter(t: torch.Tensor) -> torch.Tensor:
            return t * (1 + noise * (2 * torch.rand(t.shape, generator=g, dtype=t.dtype) - 1)).to(t.device)

        prior = jitter(self.prior.repeat_interleave(2))
        transition = jitter(self.transition.repeat_interleave(2, 1).repeat_interleave(2, 2))
        leaves = jitter(self.leaves.repeat_interleave(2, 1))
        return HCLT(self.tree.parent, *(_normalize(t) for t in (prior, transition, leaves)))

    def parameters(self) -> list[torch.Tensor]:
        return [self.prior, self.transition, self.leaves]

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) in nats for a batch ``x`` [B, D] of int64 pixel values (float32, approximate)."""
        return self._log_likelihood(x, *self.parameters())

    def _log_likelihood(self, x: torch.Tensor, prior: torch.Tensor, transition: torch.Tensor,
                        leaves: torch.Tensor) -> torch.Tensor:
        d = self.tree.size
        log_leaf = leaves.log().transpose(1, 2)[torch.arange(d, device=x.device)[None, :], x]  # [B, D, k]
        contrib = None
        for l in range(len(self._levels) - 1, -1, -1):
            m = log_leaf[:, self._levels[l]]
            if contrib is not None:
                m = m + contrib
            if l == 0:
                break
            top = m.amax(-1, keepdim=True)
            up = torch.einsum("bic,ipc->bip", (m - top).exp(), transition[self._levels[l]])
            up = up.clamp_min(1e-30).log() + top
            contrib = up.new_zeros(x.shape[0], len(self._levels[l - 1]), self.k).index_add(1, self._parent_local[l - 1], up)
        return torch.logsumexp(m[:, 0] + prior.log(), dim=-1)

    def expected_counts(self, x: torch.Tensor) -> tuple[list[torch.Tensor], float]:
        """EM statistics of batch ``x``: expected counts per parameter, and the summed log-likelihood."""
        params = [p.detach().requires_grad_(True) for p in self.parameters()]
        ll = self._log_likelihood(x, *params).sum()
        grads = torch.autograd.grad(ll, params)
        return [(p * g).detach() for p, g in zip(params, grads)], ll.item()

    def em_update(self, counts: list[torch.Tensor], step: float, pseudocount: tuple[float, float]) -> None:
        """Move towards the smoothed maximum-likelihood parameters of ``counts`` by ``step`` (1 = full EM)."""
        a_latent, a_leaf = pseudocount
        targets = [_normalize(counts[0] + a_latent), _normalize(counts[1] + a_latent), _normalize(counts[2] + a_leaf)]
        self.prior, self.transition, self.leaves = (
            (1 - step) * p + step * t for p, t in zip(self.parameters(), targets))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"parent": torch.from_numpy(self.tree.parent), "prior": self.prior.cpu(),
                "transition": self.transition.cpu(), "leaves": self.leaves.cpu()}

    @classmethod
    def from_codes(cls, state: dict[str, torch.Tensor], device: str = "cpu") -> "HCLT":
        """Float model from shipped uint8 log-codes (see :mod:`.exact`; exact up to normalization)."""
        w = torch.from_numpy(code_weights())
        params = (_normalize(w[state[n].long()]).float().to(device) for n in ("prior", "transition", "leaves"))
        return cls(state["parent"].long().numpy(), *params)

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], device: str = "cpu") -> "HCLT":
        return cls(state["parent"].numpy(), *(state[n].float().to(device) for n in ("prior", "transition", "leaves")))


def _normalize(t: torch.Tensor) -> torch.Tensor:
    return t / t.sum(-1, keepdim=True)
