"""WaLLoC (wavelet learned lossy compression): ``walloc-rgb`` and ``walloc-stereo``."""

from .codec import WallocRGB, WallocStereo

__all__ = ["WallocRGB", "WallocStereo"]
