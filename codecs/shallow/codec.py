"""``shallow-jpeglike`` (id 4) and ``shallow-2layer`` (id 3): the registered codecs and recipes.

One variable-rate model per codec serves qualities 1..7 (one weights file, one manifest row per
quality); the file handling is :class:`~neurocodec.codecs.learned_image.LearnedImageCodec`'s.
Images are padded (edge replication) to a multiple of 64 and cropped back after decoding.
``shallow-2layer`` shares ``shallow-jpeglike``'s encoder and entropy model (on the 384 latents
of JPEG 4:2:0) and trains from its weights, converted (``results/shallow/README.md`` has the
commands).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from neurocodec import weights
from neurocodec.codecs.learned_image import LearnedImageCodec
from neurocodec.registry import register
from neurocodec.training import AUX_SUFFIX, Recipe, refuse_lmbda

from .model import LAMBDAS, LATENT, STRIDE, JpegLikeModel, ShallowModel, TwoLayerModel

HYPER_CHANNELS = 128


def build_model() -> JpegLikeModel:
    return JpegLikeModel(hyper=HYPER_CHANNELS)


def build_two_layer() -> TwoLayerModel:
    return TwoLayerModel(hyper=HYPER_CHANNELS)


def _param_groups(model: ShallowModel, lr: float) -> list[dict]:
    """The transforms that start from a good linear map (the DCT, its inverse, a trained patch
    synthesis) move slowly, the per-quality step sizes and scale offsets fast."""
    slow = [model.analysis.weight, model.analysis.bias]
    slow += [p for n, p in model.synthesis.named_parameters() if not n.startswith(("up.", "igdn."))]
    groups = {0.1: slow, 10.0: [model.log_gain], 30.0: [model.position_offset]}
    special = {id(p) for ps in groups.values() for p in ps}
    rest = [p for n, p in model.named_parameters() if id(p) not in special and not n.endswith(AUX_SUFFIX)]
    return [{"params": rest, "lr": lr}] + [{"params": ps, "lr": lr * f} for f, ps in groups.items()]


class ShallowCodec(LearnedImageCodec):
    """Settings the two shallow codecs share: 7 qualities, 64-pixel padding, the recipe."""

    qualities = tuple(range(1, len(LAMBDAS) + 1))
    default_quality = 4
    stride = STRIDE

    @classmethod
    def training_recipe(cls, lmbda: float | None = None) -> Recipe:
        """Variable rate: the lambdas are the model's fixed per-quality ladder (``LAMBDAS``)."""
        refuse_lmbda(cls.name, lmbda)
        return Recipe(build=cls.build_model, param_groups=_param_groups, from_weights=cls.training_start,
                      steps=2400, lr=3e-4, batch=8, crop=192)


@register
class ShallowJpegLike(ShallowCodec):
    """Heavy encoder, JPEG-like linear synthesis, mean-scale hyperprior; exact decoding."""

    name = "shallow-jpeglike"
    codec_id = 4
    description = "shallow decoder: one 16x16 transposed conv (JPEG-like), mean-scale hyperprior"
    default_rank = 10  # the default image codec
    # Float weights that coding replaces (by fixed-point nets and integer tables).
    training_only = ("synthesis.", "hyper.h_s.", "hyper.z.density.")
    build_model = staticmethod(build_model)


@register
class ShallowTwoLayer(ShallowCodec):
    """Heavy encoder (with a latent correction), two-layer synthesis (Yang & Mandt 2023), mean-scale hyperprior."""

    name = "shallow-2layer"
    codec_id = 3
    description = ("shallow decoder: two transposed convs (k13 s8 + IGDN, k5 s2), mean-scale hyperprior, "
                   "latent-correcting encoder")
    training_only = ("hyper.h_s.", "hyper.z.density.")
    build_model = staticmethod(build_two_layer)

    @classmethod
    def training_start(cls, path: str | Path) -> nn.Module:
        """A weights file as a start for training: this codec's own, or ``shallow-jpeglike``'s,
        converted (:meth:`TwoLayerModel.from_jpeglike`)."""
        analysis = weights.load_state(path).get("analysis.weight")
        if analysis is not None and analysis.shape[0] == LATENT:
            return TwoLayerModel.from_jpeglike(ShallowJpegLike.training_start(path))
        return super().training_start(path)
