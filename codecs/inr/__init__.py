"""Implicit neural representation (INR) video codecs: ``hnerv`` (id 7) and ``nerv++`` (id 8).

A video is encoded by fitting a network to its frames (:mod:`.fit`); the bitstream is that
network, pruned, quantized and entropy-coded (:mod:`.compress`), plus for HNeRV a tiny
quantized embedding per frame. Decoding is one forward pass per frame, so any frame or range
decodes on its own. Symbols and probability tables are exact integers (bit-exact on any
machine); reconstructions are float network outputs rounded to uint8, equal across machines
only up to float rounding (approximate).
"""

from .codec import HNeRVCodec, NeRVppCodec

__all__ = ["HNeRVCodec", "NeRVppCodec"]
