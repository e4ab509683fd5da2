"""Supervised split compression, ``entropic-student`` (Matsubara et al., WACV 2022): a device-side
encoder and entropy bottleneck send compressed features; the server finishes an ImageNet
classifier (EfficientNet-Lite0, the teacher) and returns the top classes."""

from .codec import EntropicStudent, classify

__all__ = ["EntropicStudent", "classify"]
