"""``shallow-jpeglike``: the registered codec, its shipped weights and its training recipe.

One variable-rate model serves qualities 1..7 (one weights file, one manifest row per quality);
the quality travels in the file's fingerprint (16 bits of SHA-256(weights, quality)), so files
carry no extra field: 16 bytes of container overhead.
Images are padded (edge replication) to a multiple of 64 and cropped back after decoding.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from neurocodec import weights
from neurocodec.codec import WeightsCodec
from neurocodec.entropy import Decoder, Encoder, StreamCorrupt
from neurocodec.errors import NeurocodecError
from neurocodec.modality import ImageMeta
from neurocodec.registry import register
from neurocodec.training import AUX_SUFFIX, Recipe

from .model import LAMBDAS, STRIDE, JpegLikeModel

WEIGHTS_FILE = "shallow-jpeglike.safetensors"
# Float weights that coding replaces (by fixed-point nets and integer tables): kept in
# checkpoints, not shipped.
TRAINING_ONLY = ("synthesis.", "hyper.h_s.", "hyper.z.density.")
HYPER_CHANNELS = 128


def build_model() -> JpegLikeModel:
    return JpegLikeModel(hyper=HYPER_CHANNELS)


def export_state(model: JpegLikeModel) -> dict[str, torch.Tensor]:
    """Shipped tensors: float encoder weights as fp16 (approximate is fine: they only choose the
    symbols), the exact decoder's integers in the smallest integer type that holds them."""
    model.update()
    state = {}
    for name, t in model.state_dict().items():
        if name.startswith(TRAINING_ONLY):
            continue
        if t.is_floating_point():
            t = t.half()
        elif t.dtype != torch.int16 and t.numel() and t.abs().max() < 2**15:
            t = t.to(torch.int16)
        state[name] = t.contiguous()
    return state


def load_model(path: str | Path, sha256: str | None = None) -> JpegLikeModel:
    """A model ready for coding from an exported weights file (checked against ``sha256``)."""
    model = build_model()
    missing, unexpected = model.load_state_dict(weights.load_state(path, sha256), strict=False)
    if unexpected or any(not k.startswith(TRAINING_ONLY) for k in missing):
        raise NeurocodecError(f"weights file {Path(path).name} does not fit shallow-jpeglike")
    return model.eval()


@lru_cache(maxsize=4)
def _cached_model(path: str, sha256: str) -> JpegLikeModel:
    return load_model(path, sha256)


def _param_groups(model: JpegLikeModel, lr: float) -> list[dict]:
    """The initial linear transforms move slowly, the per-quality step sizes and scale offsets fast."""
    groups = {0.1: [model.analysis.weight, model.analysis.bias, model.synthesis.weight, model.synthesis.bias],
              10.0: [model.log_gain], 30.0: [model.position_offset]}
    special = {id(p) for ps in groups.values() for p in ps}
    rest = [p for n, p in model.named_parameters() if id(p) not in special and not n.endswith(AUX_SUFFIX)]
    return [{"params": rest, "lr": lr}] + [{"params": ps, "lr": lr * f} for f, ps in groups.items()]


@register
class ShallowJpegLike(WeightsCodec):
    """Heavy encoder, JPEG-like linear synthesis, mean-scale hyperprior; exact decoding."""

    name = "shallow-jpeglike"
    codec_id = 4
    modality = "image"
    description = "shallow decoder: one 16x16 transposed conv (JPEG-like), mean-scale hyperprior"
    qualities = tuple(range(1, len(LAMBDAS) + 1))
    default_quality = 4
    default_rank = 10  # the default image codec

    @classmethod
    def training_recipe(cls, lmbda: float | None = None) -> Recipe:
        """Variable rate: the lambdas are the model's fixed per-quality ladder (``LAMBDAS``)."""
        if lmbda is not None:
            raise NeurocodecError(f"{cls.name} is variable-rate: its lambdas are fixed, drop --lmbda")
        return Recipe(build=build_model, param_groups=_param_groups, steps=2400, lr=3e-4, batch=8, crop=192)

    @property
    def model(self) -> JpegLikeModel:
        return _cached_model(*self.weights_file)


    def encode_payload(self, x: np.ndarray) -> tuple[tuple[int, ...], list[bytes]]:
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 3:
            raise NeurocodecError(f"{self.name} encodes uint8 HxWx3 images, got {x.dtype} {x.shape}")
        h, w = x.shape[:2]
        fields = ImageMeta(w, h, 3).to_fields()
        padded = np.pad(x, ((0, -h % STRIDE), (0, -w % STRIDE), (0, 0)), mode="edge")
        image = torch.from_numpy(padded.transpose(2, 0, 1).copy()).float()[None] / 255
        encoder = Encoder()
        self.model.compress(image, self.quality - 1, encoder)
        return fields, [encoder.finish()]

    def decode_payload(self, meta: ImageMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> np.ndarray:
        if extra or len(streams) != 1 or meta.channels != 3:
            raise NeurocodecError(f"corrupt {self.name} file: unexpected fields or streams")
        h, w = meta.height, meta.width
        try:
            pixels = self.model.decompress(Decoder(streams[0]), self.quality - 1, h + -h % STRIDE, w + -w % STRIDE)
        except StreamCorrupt as exc:
            raise NeurocodecError(f"corrupt {self.name} stream: {exc}") from None
        return pixels[0, :h, :w]
