"""Latent codecs: exact round trips through our entropy core, exact fixed-point networks."""

import numpy as np
import pytest
import torch
from torch import nn

from neurocodec.codecs.latent_codecs import (ACT_LIMIT, EntropyBottleneckLatentCodec, FixedPointNet,
                                             HyperpriorLatentCodec)
from neurocodec.entropy import Decoder, Encoder

C, Z, FRAC = 8, 4, 10


def tiny_hyperprior(means: bool = True) -> HyperpriorLatentCodec:
    torch.manual_seed(0)
    h_a = nn.Sequential(nn.Conv2d(C, 6, 3, 2, 1), nn.ReLU(), nn.Conv2d(6, Z, 3, 2, 1))
    out = 2 * C if means else C
    h_s = nn.Sequential(nn.ConvTranspose2d(Z, 6, 3, 2, 1, 1), nn.ReLU(), nn.ConvTranspose2d(6, out, 3, 2, 1, 1))
    with torch.no_grad():  # scales about 2.3 (position 25), so that N(0, 2^2) latents fit
        h_s[-1].weight.mul_(0.1)
        h_s[-1].bias[:C].fill_(25.0)
    codec = HyperpriorLatentCodec(h_a, h_s, Z, downsample=4, frac_bits=FRAC, means=means)
    codec.update()
    return codec.eval()


def test_entropy_bottleneck_round_trip_with_escapes():
    eb = EntropyBottleneckLatentCodec(3)
    eb.update()
    z = torch.tensor([0.2, -3.7, 1e4, -2e5, 7.5, 40.0]).view(1, 3, 1, 2) * torch.tensor([1.0, 2.0, -1.0]).view(1, 3, 1, 1)
    enc = Encoder()
    z_hat = eb.compress(z, enc)
    out = eb.decompress(Decoder(enc.finish()), tuple(z.shape))
    assert torch.equal(out, z_hat) and torch.equal(z_hat, torch.round(z.double()))


def test_entropy_bottleneck_tables_survive_state_dict():
    eb = EntropyBottleneckLatentCodec(3)
    eb.update()
    other = EntropyBottleneckLatentCodec(3)
    other.load_state_dict(eb.state_dict())
    assert all(np.array_equal(a, b) for a, b in zip(eb.table_model().tables, other.table_model().tables))


def test_entropy_bottleneck_density_refits_to_shipped_tables():
    """Shipped weights keep only the integer tables; the float density refitted to them (for
    training on from shipped weights) gives back the same tables and within 0.01 bit/symbol."""
    torch.manual_seed(0)
    trained = EntropyBottleneckLatentCodec(3)
    opt = torch.optim.Adam(trained.parameters(), lr=3e-2)
    scales = torch.tensor([0.5, 3.0, 8.0]).view(1, 3, 1, 1)
    for _ in range(300):  # a shifted, channel-dependent density, not the initial one
        z = 1.5 + scales * torch.distributions.Laplace(0.0, 1.0).sample((64, 3, 4, 4))
        _, lik = trained(z)
        loss = -torch.log2(lik).mean() + trained.aux_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
    trained.update()
    shipped = {k: v for k, v in trained.state_dict().items() if not k.startswith("density.")}
    restored = EntropyBottleneckLatentCodec(3)
    restored.load_state_dict(shipped, strict=False)
    assert restored.fit_density_to_tables(steps=0) > 0.1  # the fresh density is far from the tables
    assert restored.fit_density_to_tables() < 0.01
    restored.update()
    assert torch.equal(restored.table_offsets, trained.table_offsets)
    assert torch.equal(restored.table_sizes, trained.table_sizes)
    pmf = [t.table_freqs.double() / t.table_freqs.sum(1, keepdim=True) for t in (restored, trained)]
    assert (pmf[0] - pmf[1]).abs().max() < 1e-3


@pytest.mark.parametrize("means", [True, False])
def test_hyperprior_round_trip_equals_encoder_reconstruction(means):
    codec = tiny_hyperprior(means)
    y = torch.randn(2, C, 8, 12) * 2
    enc = Encoder()
    y_hat_fx = codec.compress(y, enc)
    data = enc.finish()
    decoded = codec.decompress(Decoder(data), tuple(y.shape))
    assert torch.equal(decoded, y_hat_fx)
    y_hat_float, likelihoods = codec(y)  # the float (training) path, eval mode
    same = (y_hat_fx * 2.0**-FRAC - y_hat_float.double()).abs() < 1e-2
    assert same.float().mean() > 0.98  # differs only where fixed-point means flip a rounding
    ideal = sum(-torch.log2(lik).sum().item() for lik in likelihoods.values())
    assert len(data) * 8 < ideal * 1.05 + 256  # integer tables cost about what the model says


def test_fixed_point_net_is_batch_and_thread_independent():
    net = tiny_hyperprior().h_s_exact
    z = torch.randint(-20, 20, (3, Z, 5, 7)).double()
    together = net(z)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = torch.cat([net(z[i:i + 1]) for i in range(3)])
    finally:
        torch.set_num_threads(old)
    assert torch.equal(together, alone)
    assert torch.equal(together, torch.round(together))  # integer valued
    huge = net(torch.full((1, Z, 2, 2), 1e30, dtype=torch.float64))  # clamped, still exact
    assert huge.abs().max() <= ACT_LIMIT


def test_fixed_point_net_follows_float_net():
    codec = tiny_hyperprior()
    z = torch.randint(-5, 5, (1, Z, 4, 4)).float()
    exact = codec.h_s_exact(z.double()) * 2.0**-FRAC
    assert (exact - codec.h_s(z).double()).abs().max() < 0.05


def test_fixed_point_net_rejects_unsupported_layers():
    with pytest.raises(TypeError):
        FixedPointNet(nn.Sequential(nn.Conv2d(1, 1, 1), nn.GELU()), in_bits=0, out_bits=8)
