"""A tiny untrained image codec for tests of the core (not shipped in the registry).

Analysis: fixed random stride-4 projection (float; only the encoder runs it). Prior: one integer
table per latent channel (a factorized model). Synthesis: fixed-point integer weights applied in
float64, so the reconstruction is exact whatever the thread count or batch size.
"""

from __future__ import annotations

import numpy as np
import torch

from neurocodec.codec import Codec
from neurocodec.entropy import Decoder, Encoder, TableModel
from neurocodec.entropy.tables import laplace_tables
from neurocodec.modality import ImageMeta

STRIDE, CHANNELS, FIXED_POINT = 4, 6, 1 << 12


class ToyCodec(Codec):
    name = "toy-test"
    codec_id = 250
    modality = "image"
    description = "untrained test codec"
    qualities = (1, 2)
    default_quality = 1
    default_rank = 1

    def __init__(self, quality: int | None = None):
        super().__init__(quality)
        g = torch.Generator().manual_seed(0)
        self.analysis = torch.randn(CHANNELS, 3, STRIDE, STRIDE, generator=g) / (3 * STRIDE)
        synth = torch.randn(CHANNELS, 3, STRIDE, STRIDE, generator=g, dtype=torch.float64) * 8
        self.synthesis_int = torch.round(synth * FIXED_POINT)  # integer-valued float64
        self.step = 4.0 / self.quality
        self.prior = TableModel(*laplace_tables(np.linspace(0.5, 3.0, CHANNELS)))

    @property
    def fingerprint(self) -> int:
        return 0x1234

    def latents(self, image: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255.0
        h, w = image.shape[:2]
        x = torch.nn.functional.pad(x, (0, -w % STRIDE, 0, -h % STRIDE), mode="replicate")
        y = torch.nn.functional.conv2d(x - 0.5, self.analysis, stride=STRIDE)
        return torch.round(y * 255.0 / self.step).to(torch.int64).numpy()[0]

    def reconstruct(self, symbols: np.ndarray, height: int, width: int) -> np.ndarray:
        """Exact: integer symbols times integer weights, one rounding at the end."""
        y = torch.from_numpy(symbols)[None].to(torch.float64)
        x = torch.nn.functional.conv_transpose2d(y, self.synthesis_int, stride=STRIDE)
        x = torch.floor(x / FIXED_POINT + 127.5).clamp(0, 255)
        return x[0, :, :height, :width].permute(1, 2, 0).to(torch.uint8).numpy()

    def encode_payload(self, image):
        if image.ndim != 3:
            raise ValueError("toy codec takes RGB")
        sym = self.latents(image)
        enc = Encoder()
        enc.encode(sym, self.prior, np.repeat(np.arange(CHANNELS), sym[0].size))
        h, w = image.shape[:2]
        return ImageMeta(w, h, 3).to_fields() + (self.quality, *sym.shape[1:]), [enc.finish()]

    def decode_payload(self, meta, extra, streams):
        quality, lh, lw = extra
        dec = Decoder(streams[0])
        sym = dec.decode(self.prior, np.repeat(np.arange(CHANNELS), lh * lw)).reshape(CHANNELS, lh, lw)
        return self.reconstruct(sym, meta.height, meta.width)

    @classmethod
    def for_container(cls, parsed, **options):
        return cls(quality=parsed.fields[3])
