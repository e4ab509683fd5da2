"""``shallow-jpeglike`` (id 4) and ``shallow-2layer`` (id 3): the registered codecs and recipes.

One variable-rate model per codec serves qualities 1..7 (one weights file, one manifest row per
quality); the file handling is :class:`~neurocodec.codecs.learned_image.LearnedImageCodec`'s.
Images are padded (edge replication) to a multiple of 64 and cropped back after decoding.
``shallow-2layer`` shares ``mbt2018-mean``'s codec plumbing, and its analysis and hyperprior
(same shapes): it trains from those weights, the synthesis first, then everything
(``results/shallow/README.md`` has the commands).
"""

from __future__ import annotations

from neurocodec.codecs.hyperprior.codec import HyperpriorCodec
from neurocodec.codecs.learned_image import LearnedImageCodec
from neurocodec.registry import register
from neurocodec.training import AUX_SUFFIX, Recipe, refuse_lmbda

from .model import LAMBDAS, STRIDE, JpegLikeModel, two_layer_model

HYPER_CHANNELS = 128


def build_model() -> JpegLikeModel:
    return JpegLikeModel(hyper=HYPER_CHANNELS)


def _param_groups(model: JpegLikeModel, lr: float) -> list[dict]:
    """The initial linear transforms move slowly, the per-quality step sizes and scale offsets fast."""
    groups = {0.1: [model.analysis.weight, model.analysis.bias, model.synthesis.weight, model.synthesis.bias],
              10.0: [model.log_gain], 30.0: [model.position_offset]}
    special = {id(p) for ps in groups.values() for p in ps}
    rest = [p for n, p in model.named_parameters() if id(p) not in special and not n.endswith(AUX_SUFFIX)]
    return [{"params": rest, "lr": lr}] + [{"params": ps, "lr": lr * f} for f, ps in groups.items()]


@register
class ShallowJpegLike(LearnedImageCodec):
    """Heavy encoder, JPEG-like linear synthesis, mean-scale hyperprior; exact decoding."""

    name = "shallow-jpeglike"
    codec_id = 4
    description = "shallow decoder: one 16x16 transposed conv (JPEG-like), mean-scale hyperprior"
    qualities = tuple(range(1, len(LAMBDAS) + 1))
    default_quality = 4
    default_rank = 10  # the default image codec
    stride = STRIDE
    # Float weights that coding replaces (by fixed-point nets and integer tables).
    training_only = ("synthesis.", "hyper.h_s.", "hyper.z.density.")
    build_model = staticmethod(build_model)

    @classmethod
    def training_recipe(cls, lmbda: float | None = None) -> Recipe:
        """Variable rate: the lambdas are the model's fixed per-quality ladder (``LAMBDAS``)."""
        refuse_lmbda(cls.name, lmbda)
        return Recipe(build=build_model, param_groups=_param_groups, from_weights=cls.training_start,
                      steps=2400, lr=3e-4, batch=8, crop=192)


@register
class ShallowTwoLayer(HyperpriorCodec):
    """Heavy encoder, two-layer synthesis (Yang & Mandt 2023), mean-scale hyperprior."""

    name = "shallow-2layer"
    codec_id = 3
    description = "shallow decoder: two transposed convs (k13 s8 + IGDN, k5 s2), mean-scale hyperprior"
    qualities = tuple(range(1, len(LAMBDAS) + 1))
    default_quality = 4
    build_model = staticmethod(two_layer_model)
