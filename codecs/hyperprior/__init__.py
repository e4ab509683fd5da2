"""Hyperprior image codecs: ``bmshj2018-hyperprior`` (scale) and ``mbt2018-mean`` (mean-scale)."""

from .codec import MeanScaleHyperprior, ScaleHyperprior

__all__ = ["MeanScaleHyperprior", "ScaleHyperprior"]
