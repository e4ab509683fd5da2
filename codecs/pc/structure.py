"""HCLT structure: a Chow-Liu tree over the pixels, rooted at its centre.

The tree is chosen from a plug-in estimate of pairwise mutual information between pixels whose
values are binned into a few equal ranges (approximate; it only picks the structure). Once
chosen, the tree is stored as a parent array and every order derived from it here is exact and
deterministic (ties broken by node index).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch


def mutual_information(x: np.ndarray, bins: int = 4) -> np.ndarray:
    """[D, D] mutual information (nats) between the columns of ``x`` ([N, D] uint8), binned."""
    n, d = x.shape
    q = (x.astype(np.int64) * bins) >> 8
    onehot = torch.zeros(n, d * bins)
    onehot[torch.arange(n)[:, None], torch.from_numpy(np.arange(d) * bins + q)] = 1.0
    joint = (onehot.T @ onehot).double().reshape(d, bins, d, bins).permute(0, 2, 1, 3) / n
    marg = joint.diagonal(dim1=0, dim2=1).diagonal(dim1=0, dim2=1)  # [D, bins]: p(x_i = a)
    outer = marg[:, None, :, None] * marg[None, :, None, :]
    ratio = torch.where(joint > 0, joint / outer.clamp_min(1e-300), torch.ones_like(joint))
    return (joint * ratio.log()).sum((2, 3)).numpy()


def maximum_spanning_tree(weights: np.ndarray) -> list[tuple[int, int]]:
    """Edges of a maximum spanning tree of the dense symmetric ``weights`` (Prim, O(D^2))."""
    d = weights.shape[0]
    in_tree = np.zeros(d, dtype=bool)
    in_tree[0] = True
    best, source = weights[0].astype(np.float64).copy(), np.zeros(d, dtype=np.int64)
    edges = []
    for _ in range(d - 1):
        best[in_tree] = -np.inf
        j = int(np.argmax(best))
        edges.append((int(source[j]), j))
        in_tree[j] = True
        better = weights[j] > best
        best[better], source[better] = weights[j][better], j
    return edges


def _bfs(adjacency: list[list[int]], start: int) -> tuple[np.ndarray, np.ndarray]:
    dist = np.full(len(adjacency), -1)
    parent = np.full(len(adjacency), -1)
    dist[start] = 0
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for v in adjacency[u]:
            if dist[v] < 0:
                dist[v], parent[v] = dist[u] + 1, u
                queue.append(v)
    return dist, parent


def root_at_centre(edges: list[tuple[int, int]], d: int) -> np.ndarray:
    """Parent array (-1 at the root) of the tree ``edges`` rooted at its centre (least depth)."""
    adjacency: list[list[int]] = [[] for _ in range(d)]
    for a, b in edges:
        adjacency[a].append(b)
        adjacency[b].append(a)
    far = int(np.argmax(_bfs(adjacency, 0)[0]))
    dist, parent = _bfs(adjacency, far)
    node = int(np.argmax(dist))
    for _ in range(int(dist.max()) // 2):
        node = int(parent[node])
    return _bfs(adjacency, node)[1]


def chow_liu(x: np.ndarray, shape: tuple[int, int], bins: int = 4) -> np.ndarray:
    """Parent array of the Chow-Liu tree of images ``x`` ([N, H*W] uint8), rooted at its centre.

    Ties in mutual information (e.g. between always-black border pixels) go to the spatially
    nearest pixel, which keeps the tree shallow.
    """
    rows, cols = np.divmod(np.arange(shape[0] * shape[1]), shape[1])
    distance = np.hypot(rows[:, None] - rows[None, :], cols[:, None] - cols[None, :])
    weights = mutual_information(x, bins) - 1e-9 * distance
    return root_at_centre(maximum_spanning_tree(weights), x.shape[1])


class Tree:
    """Orders derived from a parent array: children (by index), depth levels and depth-first pre-order."""

    def __init__(self, parent: np.ndarray):
        parent = np.asarray(parent, dtype=np.int64)
        roots = np.flatnonzero(parent < 0)
        if len(roots) != 1:
            raise ValueError("a tree has exactly one root")
        self.parent, self.root, self.size = parent, int(roots[0]), len(parent)
        self.children: list[list[int]] = [[] for _ in range(self.size)]
        for v in range(self.size):  # ascending, so children are sorted by index
            if parent[v] >= 0:
                self.children[parent[v]].append(v)
        self.preorder: list[int] = []
        self.depth = np.zeros(self.size, dtype=np.int64)
        stack = [self.root]
        while stack:
            v = stack.pop()
            self.preorder.append(v)
            for c in reversed(self.children[v]):
                self.depth[c] = self.depth[v] + 1
                stack.append(c)
        if len(self.preorder) != self.size:
            raise ValueError("parent array is not a connected tree")
        self.levels = [np.flatnonzero(self.depth == l) for l in range(int(self.depth.max()) + 1)]
