"""Lossless image compression with probabilistic circuits (Liu, Mandt & Van den Broeck, ICLR 2022).

Registry codec ``pc-lossless`` (id 9): a hidden Chow-Liu tree circuit gives every pixel's exact
conditional given the pixels already coded, and ANS codes it. Qualities select the model, not a
rate (the codec is lossless): 1 = MNIST digits, 2 = Fashion-MNIST; both code 28x28 grayscale
uint8 images only. Their manifest rows keep the measured test-set bits/dim in the field named
``kodak``.

Modules: :mod:`.structure` (Chow-Liu tree and its orders), :mod:`.hclt` (float circuit and EM),
:mod:`.train` (training runs), :mod:`.exact` (integer circuit for coding, the coding scheme),
:mod:`.export` (shipped weights), :mod:`.codec` (the codec, batch API), :mod:`.bench`,
:mod:`.datasets`.
"""

from .codec import PcLossless

__all__ = ["PcLossless"]
