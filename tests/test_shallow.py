"""The shallow codecs' own properties: the DCT start, the exact JPEG-like synthesis, the two-layer
synthesis's start from a JPEG-like model. Round trips, determinism and the encoder-side latent
correction: test_learned_image.py."""

import numpy as np
import pytest
import torch

from conftest import smooth_image, untrained_weights_file

import neurocodec
from neurocodec import weights
from neurocodec.codecs.learned_image import to_tensor
from neurocodec.codecs.shallow.codec import ShallowJpegLike, ShallowTwoLayer, build_model
from neurocodec.codecs.shallow.model import LATENT, TwoLayerModel, TwoLayerSynthesis, chroma_420_channels
from neurocodec.entropy import Encoder
from neurocodec.registry import codec_for


def _weights(tmp_path_factory, cls):
    return untrained_weights_file(tmp_path_factory, f"{cls.name}.safetensors", cls.build_model, cls.export_state)


@pytest.fixture(scope="module")
def jpeglike_weights(tmp_path_factory):
    """Exported weights of the initial (DCT) JPEG-like model."""
    return _weights(tmp_path_factory, ShallowJpegLike)


# The test image has fine colour detail: without the upper chroma frequencies (4:2:0) even
# unquantized latents give only 29.3 dB.
@pytest.mark.parametrize("cls, psnr", [(ShallowJpegLike, 30), (ShallowTwoLayer, 27)])
def test_untrained_models_start_as_a_block_dct_codec(cls, psnr, tmp_path_factory):
    """Before any training both are a 16x16 block-DCT codec: close at the highest quality."""
    codec = cls(quality=7, weights=_weights(tmp_path_factory, cls))
    x = smooth_image(70, 90)
    x_hat = codec.decode(codec.encode(x))
    assert 10 * np.log10(255**2 / np.mean((x_hat.astype(float) - x) ** 2)) > psnr


def test_exact_decoder_follows_float_model(jpeglike_weights):
    model = ShallowJpegLike.load_model(jpeglike_weights)
    float_model = build_model().eval()  # same initial weights, float synthesis
    x = to_tensor(smooth_image(64, 64))
    with torch.no_grad():
        y_hat_fx = model.compress(model.encode_latents(x, torch.tensor([3])), 3, Encoder())
        exact = model.synthesize(y_hat_fx, 3)[0].astype(float)
        y_hat = y_hat_fx.float() * 2.0**-model.hyper.frac_bits
        ref = float_model.synthesis(y_hat / float_model._gain(torch.tensor([3]))) * 255
    ref = ref[0].permute(1, 2, 0).clamp(0, 255).numpy()
    assert np.abs(exact - ref).max() <= 1.0  # fp16 encoder weights aside, only rounding differs


def test_chroma_420_channels_are_all_luma_and_low_chroma():
    channels = chroma_420_channels()
    assert len(channels) == LATENT // 2 and torch.equal(channels[:256], torch.arange(256))
    chroma = channels[256:] % 256
    assert (chroma // 16).max() == 7 and (chroma % 16).max() == 7


def test_two_layer_synthesis_reproduces_a_patch_synthesis():
    torch.manual_seed(0)
    weight, bias = torch.randn(20, 3, 16, 16), torch.randn(3)
    y = torch.randn(2, 20, 3, 5)
    with torch.no_grad():
        two_layer = TwoLayerSynthesis.from_patches(weight, bias)(y)
    patches = torch.nn.functional.conv_transpose2d(y, weight, bias, stride=16)
    assert two_layer.shape == patches.shape and torch.allclose(two_layer, patches, atol=1e-4)


def test_two_layer_starts_where_a_jpeglike_model_is(jpeglike_weights):
    """Converted from a JPEG-like weights file (as ``--init`` does): the same latents on the
    4:2:0 channels, the same scales and means for them, the same pixels from them."""
    torch.manual_seed(1)
    jpeglike = ShallowJpegLike.training_start(jpeglike_weights)
    with torch.no_grad():  # move away from the DCT start, so that the copy has something to show
        for p in (*jpeglike.refine[-1].parameters(), jpeglike.synthesis.weight, jpeglike.hyper.h_s[-1].weight):
            p.add_(0.01 * torch.randn_like(p))
    two_layer = TwoLayerModel.from_jpeglike(jpeglike)
    keep = chroma_420_channels()
    x, q = to_tensor(smooth_image(64, 128, seed=2)), torch.tensor([2])
    with torch.no_grad():
        y = jpeglike.encode_latents(x, q)
        assert torch.allclose(two_layer.encode_latents(x, q), y[:, keep], atol=1e-5)
        z_hat = torch.round(torch.randn(1, jpeglike.hyper.z_channels, 1, 2))
        params, params_two = jpeglike.hyper.h_s(z_hat), two_layer.hyper.h_s(z_hat)
        assert torch.allclose(params_two, params[:, torch.cat([keep, keep + LATENT])])
        y_hat = torch.zeros_like(y)
        y_hat[:, keep] = torch.round(y[:, keep])
        assert torch.allclose(two_layer.decode_latents(y_hat[:, keep], q), jpeglike.decode_latents(y_hat, q), atol=1e-4)
    assert isinstance(ShallowTwoLayer.training_start(jpeglike_weights), TwoLayerModel)


shipped = [(e.codec, e.quality) for e in weights.manifest() if e.codec.startswith("shallow-")]


@pytest.mark.skipif(not shipped, reason="no shipped shallow weights")
@pytest.mark.parametrize("codec, quality", shipped)
def test_shipped_codec_round_trips(codec, quality):
    x = smooth_image(40, 50)
    data = neurocodec.load(codec, quality=quality).encode(x)
    x_hat = neurocodec.decode(data)
    assert x_hat.shape == x.shape and np.array_equal(neurocodec.decode(data), x_hat)
    assert codec_for(data).quality == quality
