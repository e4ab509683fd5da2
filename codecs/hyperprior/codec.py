"""``bmshj2018-hyperprior`` (id 1) and ``mbt2018-mean`` (id 2): the registered codecs and recipes.

One variable-rate model per codec (N=128, M=192) serves qualities 1..9, one weights file each;
file handling is :class:`~neurocodec.codecs.learned_image.LearnedImageCodec`'s. Images are
padded (edge replication) to a multiple of 64 and cropped back after decoding.
"""

from __future__ import annotations

from neurocodec.codecs.learned_image import LearnedImageCodec
from neurocodec.registry import register
from neurocodec.training import AUX_SUFFIX, Recipe, refuse_lmbda

from .model import LAMBDAS, STRIDE, HyperpriorModel, mean_scale_hyperprior, scale_hyperprior


def build_scale() -> HyperpriorModel:
    return scale_hyperprior(N=128, M=192)


def build_mean_scale() -> HyperpriorModel:
    return mean_scale_hyperprior(N=128, M=192)


def _param_groups(model: HyperpriorModel, lr: float) -> list[dict]:
    """Per-quality gains, scale offsets and synthesis modulation learn 10x faster than the networks."""
    fast = [model.log_gain, model.position_offset, model.g_s.quality_scale, model.g_s.quality_shift]
    rest = [p for n, p in model.named_parameters() if all(p is not f for f in fast) and not n.endswith(AUX_SUFFIX)]
    return [{"params": rest, "lr": lr}, {"params": fast, "lr": lr * 10}]


class HyperpriorCodec(LearnedImageCodec):
    """Shared settings of the two hyperprior codecs."""

    qualities = tuple(range(1, len(LAMBDAS) + 1))
    default_quality = 6  # lambda 0.013
    stride = STRIDE
    # Float weights that coding replaces (by the fixed-point h_s and integer tables).
    training_only = ("hyper.h_s.", "hyper.z.density.")

    @classmethod
    def training_recipe(cls, lmbda: float | None = None) -> Recipe:
        """Variable rate: the lambdas are the model's fixed per-quality ladder (``LAMBDAS``)."""
        refuse_lmbda(cls.name, lmbda)
        return Recipe(build=cls.build_model, param_groups=_param_groups, from_weights=cls.training_start,
                      steps=200_000, lr=1e-4, batch=8, crop=256)


@register
class ScaleHyperprior(HyperpriorCodec):
    """Scale hyperprior (Balle et al. 2018): GDN transforms, zero-mean Gaussian conditional."""

    name = "bmshj2018-hyperprior"
    codec_id = 1
    description = "scale hyperprior (Balle 2018): GDN/IGDN transforms, N=128, M=192, variable rate"
    build_model = staticmethod(build_scale)


@register
class MeanScaleHyperprior(HyperpriorCodec):
    """Mean-scale hyperprior (Minnen et al. 2018), without the autoregressive context."""

    name = "mbt2018-mean"
    codec_id = 2
    description = ("mean-scale hyperprior (Minnen 2018): GDN/IGDN transforms, N=128, M=192, variable rate, "
                   "an encoder-side latent correction")
    build_model = staticmethod(build_mean_scale)
