"""neurocodec: learned compression codecs behind one interface.

    codec = neurocodec.load("mbt2018-mean", quality=3)
    data = codec.encode(image)           # bytes of a complete .ncs file
    image_hat = neurocodec.decode(data)  # the codec and weights are read from the header
"""

from .errors import NeurocodecError
from .registry import available, decode, load, register

__version__ = "0.1.0"
__all__ = ["NeurocodecError", "__version__", "available", "decode", "load", "register"]
