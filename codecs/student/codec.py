"""``entropic-student`` (codec id 10, modality "features"): supervised split compression.

Device side, :meth:`EntropicStudent.encode`: an RGB image (uint8 HxWx3, any size) goes through
the standard ImageNet evaluation transform (:func:`eval_crop`: resize the short side to 256,
centre crop 224x224), the student's encoder and the quality's factorized prior; the file
carries the 224x224x3 input size as its "features" fields, no codec fields and one stream.
Server side, :meth:`EntropicStudent.decode` returns the 1000 ImageNet logits (float32) and
:func:`classify` the top classes with their WordNet ids, names and softmax probabilities.

One variable-rate model (one weights file) serves qualities 1..6, low to high rate; the
quality travels in the weights fingerprint. Exact: the symbols and the integer tables, so
every machine reads the same latents. Approximate: the float decoder and the teacher's tail
(logits may differ in their last bits across machines and thread counts).
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from neurocodec import container, weights
from neurocodec.codec import WeightsCodec
from neurocodec.codecs.learned_image import to_tensor
from neurocodec.entropy import Decoder, Encoder, StreamCorrupt
from neurocodec.errors import NeurocodecError
from neurocodec.modality import ImageMeta
from neurocodec.registry import register
from neurocodec.training import refuse_lmbda

from .model import BETAS, StudentModel
from .teacher import load_teacher

RESIZE = 256
CROP = 224


def eval_crop(image: np.ndarray) -> np.ndarray:
    """The standard ImageNet evaluation transform of a uint8 HxWx3 image: bilinear resize of the
    short side to 256 (Pillow, antialiased), then the centre 224x224 crop (uint8 224x224x3)."""
    h, w = image.shape[:2]
    scale = RESIZE / min(h, w)
    size = (max(RESIZE, round(w * scale)), max(RESIZE, round(h * scale)))
    resized = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    top, left = (size[1] - CROP) // 2, (size[0] - CROP) // 2
    return resized[top:top + CROP, left:left + CROP]


class Prediction(NamedTuple):
    index: int
    wnid: str
    name: str
    prob: float


@cache
def class_names() -> list[tuple[str, str]]:
    """``(wnid, name)`` of the 1000 ImageNet classes in index order (sorted wnids)."""
    text = resources.files("neurocodec.data").joinpath("imagenet_classes.txt").read_text()
    return [tuple(line.split("\t", 1)) for line in text.splitlines()]


def top_classes(logits: np.ndarray, k: int = 5) -> list[Prediction]:
    """The ``k`` most probable classes of one image's logits, best first."""
    probs = torch.softmax(torch.as_tensor(logits, dtype=torch.float64), 0).numpy()
    names = class_names()
    return [Prediction(int(i), *names[i], float(probs[i])) for i in np.argsort(-probs, kind="stable")[:k]]


def load_student(path: str | Path, sha256: str | None = None) -> StudentModel:
    """A student ready for coding from an exported weights file (checked against ``sha256``)."""
    model = StudentModel()
    try:
        model.load_state_dict(weights.load_state(path, sha256))
    except RuntimeError as exc:
        raise NeurocodecError(f"weights file {Path(path).name} does not fit entropic-student: {exc}") from None
    return model.eval()


@lru_cache(maxsize=4)
def _cached_student(path: str, sha256: str) -> StudentModel:
    return load_student(path, sha256)


@register
class EntropicStudent(WeightsCodec):
    """Device-side encoder + factorized prior; server-side decoder + the teacher's tail."""

    name = "entropic-student"
    codec_id = 10
    modality = "features"
    description = "supervised split compression for ImageNet classification (EfficientNet-Lite0 teacher)"
    qualities = tuple(range(1, len(BETAS) + 1))
    default_quality = 3

    @classmethod
    def training_recipe(cls, lmbda: float | None = None):
        """Stage 1 (feature distillation, all qualities at once); ``python -m
        neurocodec.codecs.student.train`` runs both stages."""
        from .train import stage1_recipe

        refuse_lmbda(cls.name, lmbda)
        return stage1_recipe()

    @property
    def model(self) -> StudentModel:
        return _cached_student(*self.weights_file)

    def encode_payload(self, x: np.ndarray) -> tuple[tuple[int, ...], list[bytes]]:
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 3:
            raise NeurocodecError(f"{self.name} encodes uint8 HxWx3 images, got {x.dtype} {x.shape}")
        encoder = Encoder()
        q = self.quality - 1
        with torch.inference_mode():
            self.model.priors[q].compress(self.model.encode_latents(to_tensor(eval_crop(x)), q), encoder)
        return ImageMeta(CROP, CROP, 3).to_fields(), [encoder.finish()]

    def _latents(self, meta: ImageMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> Tensor:
        if extra or len(streams) != 1 or meta.channels != 3 or (meta.width, meta.height) != (CROP, CROP):
            raise NeurocodecError(f"corrupt {self.name} file: unexpected fields or streams")
        shape = (1, self.model.latent, CROP // self.model.stride, CROP // self.model.stride)
        try:
            return self.model.priors[self.quality - 1].decompress(Decoder(streams[0]), shape)
        except StreamCorrupt as exc:
            raise NeurocodecError(f"corrupt {self.name} stream: {exc}") from None

    def latents(self, data: bytes) -> Tensor:
        """The integer latents (symbols) of a file, as float64 NCHW; exact."""
        return self._latents(*self.parse(data))

    def _features(self, latents: Tensor) -> Tensor:
        with torch.inference_mode():
            return self.model.decode_latents(latents.float(), self.quality - 1)

    def features(self, data: bytes) -> Tensor:
        """The reconstructed split-point features (float, 1x40x28x28; approximate across machines)."""
        return self._features(self.latents(data))

    def decode_payload(self, meta: ImageMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> np.ndarray:
        """The server side: the 1000 ImageNet logits (float32) of the encoded image."""
        features = self._features(self._latents(meta, extra, streams))
        with torch.inference_mode():
            return load_teacher().tail(features)[0].numpy()

    def decode_file(self, data: bytes, path: str | Path) -> None:
        raise NeurocodecError(f"{self.name} files hold features for a classifier, not an image: "
                              "use neurocodec classify FILE")

    def describe(self, meta: ImageMeta, extra: tuple[int, ...]) -> dict:
        n = CROP // self.model.stride
        return {"latent": f"{self.model.latent}x{n}x{n}", "input": f"{meta.width}x{meta.height} centre crop"}


def classify(data: bytes, top: int = 5, weights_path: str | Path | None = None) -> list[Prediction]:
    """Server-side library call: the ``top`` classes of an ``entropic-student`` file, best first
    (index, WordNet id, name, softmax probability). A file of another codec is refused."""
    parsed = container.unpack(data)
    if parsed.codec_id != EntropicStudent.codec_id:
        from neurocodec.registry import class_for_id

        other = class_for_id(parsed.codec_id)
        what = f"a {other.name} file" if other else f"a file of unknown codec id {parsed.codec_id}"
        raise NeurocodecError(f"{what}, not entropic-student features: classify needs a file encoded "
                              "with --codec entropic-student")
    if not 1 <= top <= 1000:
        raise NeurocodecError(f"top must be between 1 and 1000, not {top}")
    codec = EntropicStudent.for_container(parsed, **({"weights": weights_path} if weights_path else {}))
    return top_classes(codec.decode(data), top)
