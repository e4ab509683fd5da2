"""What every variable-rate learned image codec shares: one weights file, padding, one stream.

A family supplies a model with ``encode_latents(x, q)``, ``compress(y, quality_index, encoder,
correct)`` (``correct``: apply the model's latent correction, if any),
``decompress(decoder, quality_index, height, width) -> uint8 NHWC`` (padded sizes),
``restore_float()`` (float decoder-side nets from the shipped fixed-point ones) and what
:func:`~neurocodec.codecs.refine.refine_latents` needs (iterative encoding, ``effort`` > 0), a
``build`` function, the padding stride and the prefixes of the float weights that coding does not use
(kept in training checkpoints, not shipped). One model serves every quality; the quality
travels in the file's fingerprint (16 bits of SHA-256(weights, quality)), so files carry no
extra field: 16 bytes of container overhead.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from neurocodec import weights
from neurocodec.codec import WeightsCodec
from neurocodec.codecs.refine import refine_latents
from neurocodec.entropy import Decoder, Encoder, StreamCorrupt
from neurocodec.errors import NeurocodecError
from neurocodec.modality import ImageMeta


# State-dict prefixes of parts that start as the identity: a file from before a model had them
# loads with the new, identity ones (the latent correction, the per-quality synthesis modulation).
IDENTITY_ADDITIONS = ("correction.", "g_s.quality_")


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 -> float NCHW in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()[None] / 255


def export_state(model: nn.Module, training_only: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Shipped tensors after ``model.update()``: float weights as fp16 (the encoder's only choose
    symbols; a float decoder's are rounded to fp16 once, for every machine alike), the exact
    decoder's integers in the smallest integer type that holds them."""
    model.update()
    state = {}
    for name, t in model.state_dict().items():
        if name.startswith(training_only):
            continue
        if t.is_floating_point():
            t = t.half()
        elif t.dtype != torch.int16 and t.numel() and t.abs().max() < 2**15:
            t = t.to(torch.int16)
        state[name] = t.contiguous()
    return state


def load_model(build: Callable[[], nn.Module], training_only: tuple[str, ...], path: str | Path,
               sha256: str | None = None, name: str = "this codec") -> nn.Module:
    """A model ready for coding from an exported weights file (checked against ``sha256``). A
    file that has none of one of ``IDENTITY_ADDITIONS`` (it predates that part: e.g. the
    :class:`~neurocodec.codecs.variable_rate.LatentCorrection`) loads with the model's new one,
    which is the identity: the file's own codec. A part present only in half is refused."""
    model = build()
    state = weights.load_state(path, sha256)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(training_only)]
    predates = tuple(p for p in IDENTITY_ADDITIONS if not any(k.startswith(p) for k in state))
    if unexpected or any(not k.startswith(predates) for k in missing):
        raise NeurocodecError(f"weights file {Path(path).name} does not fit {name}")
    model.restore_float()
    return model.eval()


@lru_cache(maxsize=8)
def _cached_model(cls: type[LearnedImageCodec], path: str, sha256: str, device: str = "cpu") -> nn.Module:
    if device != "cpu":
        return copy.deepcopy(_cached_model(cls, path, sha256)).to(device)
    return cls.load_model(path, sha256)


class LearnedImageCodec(WeightsCodec):
    """A registered variable-rate image codec over a model (see the module docstring)."""

    modality = "image"
    stride: ClassVar[int]  # images are padded (edge replication) to a multiple of this
    training_only: ClassVar[tuple[str, ...]] = ()

    def __init__(self, quality: int | None = None, weights: str | Path | None = None, effort: int = 0,
                 progress: bool = False, device: str = "cpu"):
        """``effort``: steps of per-image latent refinement at encode time (0: one encoder pass);
        ``progress``: show a progress bar while refining; ``device``: where the encoder's float
        analysis (and refinement) runs, e.g. "cuda". Everything that makes symbols exact and
        all of decoding runs on the CPU, so files encoded anywhere decode everywhere."""
        super().__init__(quality, weights)
        if effort < 0:
            raise NeurocodecError(f"effort must be 0 or more refinement steps, not {effort}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise NeurocodecError("device cuda was asked for, but torch sees no CUDA GPU")
        self.effort, self.progress, self.device = effort, progress, device

    @staticmethod
    def build_model() -> nn.Module:
        raise NotImplementedError

    @classmethod
    def export_state(cls, model: nn.Module) -> dict[str, torch.Tensor]:
        return export_state(model, cls.training_only)

    @classmethod
    def load_model(cls, path: str | Path, sha256: str | None = None) -> nn.Module:
        return load_model(cls.build_model, cls.training_only, path, sha256, cls.name)

    @classmethod
    def training_start(cls, path: str | Path) -> nn.Module:
        """A shipped weights file as a start for training (``--init``): :meth:`load_model`'s model
        with the float z density, which the file omits, refitted to its z tables."""
        model = cls.load_model(path)
        model.hyper.z.fit_density_to_tables()
        return model

    @classmethod
    def untrained(cls, quality: int | None = None, seed: int = 0) -> LearnedImageCodec:
        """This codec with freshly initialised (seeded) weights: for timing and operation counts,
        which do not depend on training. The weights go to one file per codec and seed in the
        system's temp folder, rewritten on each call (atomically), so repeated runs leave no litter."""
        torch.manual_seed(seed)
        folder = Path(tempfile.gettempdir()) / "neurocodec-untrained"
        folder.mkdir(exist_ok=True)
        path = folder / f"{cls.name}-seed{seed}.safetensors"
        partial = path.with_suffix(f".{os.getpid()}.partial")
        save_file(cls.export_state(cls.build_model()), str(partial))
        os.replace(partial, path)
        return cls(quality=quality, weights=path)

    @property
    def model(self) -> nn.Module:
        return _cached_model(type(self), *self.weights_file)

    def describe(self, meta: ImageMeta, extra: tuple[int, ...]) -> dict:
        sides = [-(-side // self.stride) * self.stride // 16 for side in (meta.height, meta.width)]
        return {"latent": f"{self.model.log_gain.shape[1]} x {sides[0]} x {sides[1]}"}

    def encode_payload(self, x: np.ndarray) -> tuple[tuple[int, ...], list[bytes]]:
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 3:
            raise NeurocodecError(f"{self.name} encodes uint8 HxWx3 images, got {x.dtype} {x.shape}")
        h, w = x.shape[:2]
        fields = ImageMeta(w, h, 3).to_fields()
        padded = np.pad(x, ((0, -h % self.stride), (0, -w % self.stride), (0, 0)), mode="edge")
        image = to_tensor(padded).to(self.device)
        q = self.quality - 1
        analysis = _cached_model(type(self), *self.weights_file, self.device)
        if self.effort:
            y = refine_latents(analysis, image, q, self.effort, progress=self.progress)
        else:
            with torch.no_grad():
                y = analysis.encode_latents(image, torch.tensor([q], device=self.device))
        encoder = Encoder()
        with torch.no_grad():  # a refinement started from corrected latents: no second correction
            self.model.compress(y.cpu(), q, encoder, correct=not self.effort)
        return fields, [encoder.finish()]

    def decode_payload(self, meta: ImageMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> np.ndarray:
        if extra or len(streams) != 1 or meta.channels != 3:
            raise NeurocodecError(f"corrupt {self.name} file: unexpected fields or streams")
        h, w = meta.height, meta.width
        try:
            with torch.no_grad():
                pixels = self.model.decompress(Decoder(streams[0]), self.quality - 1,
                                               h + -h % self.stride, w + -w % self.stride)
        except StreamCorrupt as exc:
            raise NeurocodecError(f"corrupt {self.name} stream: {exc}") from None
        return pixels[0, :h, :w]
